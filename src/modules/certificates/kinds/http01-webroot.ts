import { chmod, mkdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../../agent/kit/atomic-file.js';
import type { ChallengeSolver, ChallengeTask } from './kind.js';

/** The web server (nginx as www-data) walks these directories and reads the token files. */
const DIR_MODE = 0o755;
const TOKEN_MODE = 0o644;

/** http-01 through an existing web server: token files under `<webroot>/.well-known/acme-challenge/`. */
export class WebrootSolver implements ChallengeSolver {
  readonly type = 'http-01';
  private readonly challengeDir: string;

  constructor(private readonly webroot: string) {
    this.challengeDir = join(webroot, '.well-known', 'acme-challenge');
  }

  async open(): Promise<void> {
    try {
      // Made like certbot's webroot plugin: the whole path when missing.
      const first = await makeDirs(this.challengeDir);
      for (const dir of await this.dirsToOpen(first)) await chmod(dir, DIR_MODE);
    } catch (err) {
      throw explain(err, this.webroot);
    }
  }

  /**
   * mkdir's mode is masked by the process umask (the unit's UMask=0027 gave 0750, and nginx a 403), so the
   * mode is set explicitly on every directory we made, and on the two challenge directories when we own
   * them from an earlier run; a webroot someone else made is left as its owner set it.
   */
  private async dirsToOpen(firstCreated: string | undefined): Promise<string[]> {
    const dirs = new Set<string>();
    if (firstCreated !== undefined) {
      for (let dir = this.challengeDir; dir.length >= firstCreated.length; dir = dirname(dir)) dirs.add(dir);
    }
    for (const dir of [dirname(this.challengeDir), this.challengeDir]) {
      if ((await stat(dir)).uid === process.getuid?.()) dirs.add(dir);
    }
    return [...dirs];
  }

  async present(task: ChallengeTask): Promise<void> {
    // Tokens are base64url by RFC 8555; anything else must not become a path.
    if (!/^[A-Za-z0-9_-]+$/.test(task.token)) throw new Error(`refusing challenge token with unexpected characters: ${task.token}`);
    try {
      await writeFileAtomic(join(this.challengeDir, task.token), task.keyAuthorization, { mode: TOKEN_MODE });
    } catch (err) {
      throw explain(err, this.webroot);
    }
  }

  async remove(task: ChallengeTask): Promise<void> {
    await unlink(join(this.challengeDir, task.token)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async close(): Promise<void> {}
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir reports ENOENT where a read-only mount (the
 * unit's ProtectSystem=strict) said EROFS, and the error must name the real cause. Returns the first
 * directory it created, as `mkdir({ recursive: true })` does.
 */
async function makeDirs(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    const exists = await stat(at).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    if (exists || at === dirname(at)) break;
    missing.unshift(at);
  }
  for (const at of missing) {
    await mkdir(at, { mode: DIR_MODE }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  return missing[0];
}

/** Turns the file system's errno into what the user must change, naming the systemd sandbox where it applies. */
function explain(err: unknown, webroot: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const sandbox =
    `under systemd the service can write only its ReadWritePaths (ProtectSystem=strict): add \`ReadWritePaths=${webroot}\` ` +
    'in a drop-in (`systemctl edit caretaker`), then `systemctl restart caretaker`';
  if (code === 'EROFS') return new Error(`webroot ${webroot} is read-only for caretaker: ${sandbox}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') {
    return new Error(`webroot ${webroot} is not writable by the caretaker user: make it writable by group caretaker, or ${sandbox}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
