import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { NotFoundError } from '../../../agent/kit/errors.js';
import { MANIFEST_SUFFIX, PARTIAL_SUFFIX, jobDir } from '../backup-files.js';
import type { BackupJob, BackupsConfig } from '../config.js';
import { remoteOf, type RemoteConfig } from './config.js';
import { jobTag } from './offsite.js';
import { Restic, type Snapshot } from './restic.js';

export const REMOTE_PREFIX = 'remote:';

/** The remote of a job, or a clear error naming the key to set. */
export function requireRemote(config: BackupsConfig, job: BackupJob): RemoteConfig {
  const remote = remoteOf(config, job);
  if (!remote) throw new NotFoundError(`off-site repository of job '${job.name}' (set backups.remote or the job's remote)`, job.name);
  return remote;
}

/** The CLI runs without the agent's state dir at hand: no cache unless the config names one. */
function resticFor(remote: RemoteConfig): Restic {
  return new Restic(remote, remote.cacheDir);
}

/** A job's snapshots in its repository, newest first. */
export async function listRemote(config: BackupsConfig, job: BackupJob, signal: AbortSignal): Promise<Snapshot[]> {
  return resticFor(requireRemote(config, job)).snapshots(jobTag(job.name), signal);
}

export const sha256Tag = (snapshot: Snapshot) => snapshot.tags.find((t) => t.startsWith('sha256='))?.slice('sha256='.length);

/** The backup's own path in a snapshot: the one whose manifest was sent beside it. */
export function backupPathIn(snapshot: Snapshot): string | undefined {
  return snapshot.paths.find((p) => snapshot.paths.includes(p + MANIFEST_SUFFIX));
}

/**
 * Fetches `remote:latest` or `remote:<snapshot id>` into a `.partial` directory of the job's folder (a
 * killed fetch is removed at the next start as a leftover) with restic dump, the manifest and companions
 * beside the backup as they were made, so the local verify-then-restore path takes it from there.
 */
export async function fetchRemoteBackup(config: BackupsConfig, job: BackupJob, spec: string, signal: AbortSignal): Promise<{ path: string; snapshot: Snapshot; cleanup: () => Promise<void> }> {
  const restic = resticFor(requireRemote(config, job));
  const wanted = spec.slice(REMOTE_PREFIX.length);
  const snapshots = await restic.snapshots(jobTag(job.name), signal);
  const snapshot = wanted === 'latest' ? snapshots[0] : snapshots.find((s) => s.id.startsWith(wanted) && wanted.length >= 8);
  if (!snapshot) throw new NotFoundError(`remote snapshot of job '${job.name}' (see 'caretaker backups list ${job.name} --remote')`, wanted);
  const source = backupPathIn(snapshot);
  if (!source) throw new Error(`snapshot ${snapshot.shortId} holds no backup with its manifest (paths: ${snapshot.paths.join(', ')}); it was not made by caretaker`);

  const stage = join(jobDir(config.dir, job.name), `${job.name}-remote-${snapshot.shortId}-${randomBytes(4).toString('hex')}${PARTIAL_SUFFIX}`);
  const cleanup = () => rm(stage, { recursive: true, force: true });
  try {
    await mkdir(stage, { recursive: true, mode: 0o700 });
    const name = basename(source);
    const path = join(stage, name);
    await restic.dump(snapshot.id, source + MANIFEST_SUFFIX, path + MANIFEST_SUFFIX, signal);
    const manifest = JSON.parse(await readFile(path + MANIFEST_SUFFIX, 'utf8')) as { sha256?: string; layout?: string; companions?: Array<{ file: string }> };
    const tagged = sha256Tag(snapshot);
    if (tagged && manifest.sha256 !== tagged) throw new Error(`snapshot ${snapshot.shortId}: its manifest's sha256 differs from the snapshot's sha256 tag; refusing it`);
    const folder = source.slice(0, source.length - name.length);
    for (const companion of manifest.companions ?? []) await restic.dump(snapshot.id, folder + companion.file, join(stage, companion.file), signal);
    if (manifest.layout === 'directory') {
      const tree = join(stage, '.tree');
      await restic.restoreDirectory(snapshot.id, source, tree, signal);
      await rename(join(tree, source), path);
      await rm(tree, { recursive: true, force: true });
    } else {
      await restic.dump(snapshot.id, source, path, signal);
    }
    return { path, snapshot, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
