import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DaemonUnreachableError, EXIT, type CommandContext } from '../../../src/agent/kit/cli.js';
import { backupCommands } from '../../../src/modules/backups/cli.js';
import { configSchema } from '../../../src/modules/backups/config.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';

describe('caretaker backups (daemon stopped)', () => {
  let dir: TempDir;
  let config: ReturnType<typeof configSchema.parse>;

  before(async () => {
    dir = await makeTempDir('backups-cli');
    config = configSchema.parse({
      dir: dir.path,
      jobs: [{ name: 'pg', type: 'postgres', url: 'postgres://app@127.0.0.1/app', schedule: '0 2 * * *', timezone: 'UTC', retention: { keepDaily: 2 } }],
    });
    // Three days of nightly backups, each with a manifest as a run writes it.
    await mkdir(join(dir.path, 'pg'));
    for (const day of ['01', '02', '03']) {
      const file = `pg-202401${day}T020000.000Z.dump`;
      await writeFile(join(dir.path, 'pg', file), 'x');
      const manifest = {
        version: 1, job: 'pg', type: 'postgres', file, startedAt: `2024-01-${day}T02:00:00.000Z`, finishedAt: `2024-01-${day}T02:00:01.000Z`,
        durationMs: 1000, sizeBytes: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', tools: {},
        verify: { ok: true, checkedAt: `2024-01-${day}T02:00:01.000Z`, method: 'sha256' },
      };
      await writeFile(join(dir.path, 'pg', `${file}.json`), JSON.stringify(manifest));
    }
  });

  after(() => dir.cleanup());

  async function run(args: string[], flags: Record<string, string | true> = {}, json = false) {
    const out: string[] = [];
    const err: string[] = [];
    const unreachable = async (): Promise<never> => {
      throw new DaemonUnreachableError('127.0.0.1:9470');
    };
    const ctx: CommandContext = {
      args, flags, json,
      client: { get: unreachable, post: unreachable },
      loadSection: async () => config,
      configPath: '/nonexistent/caretaker.yaml',
      stateDir: async () => {
        throw new Error('this test has no state dir');
      },
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      confirm: async () => false,
    };
    return { code: await backupCommands[0]!.run(ctx), out: out.join('\n'), err: err.join('\n') };
  }

  it('prune --dry-run previews retention without touching files', async () => {
    const result = await run(['prune', 'pg'], { 'dry-run': true }, true);
    assert.equal(result.code, EXIT.ok);
    assert.deepEqual(JSON.parse(result.out), {
      keep: [
        { file: 'pg-20240103T020000.000Z.dump', reasons: ['daily'] },
        { file: 'pg-20240102T020000.000Z.dump', reasons: ['daily'] },
      ],
      remove: ['pg-20240101T020000.000Z.dump'],
    });
    assert.equal((await run(['list', 'pg'])).out.split('\n').length, 4, 'nothing was deleted');
  });

  it('list reads the directory when the daemon is down; other verbs say the daemon is unreachable', async () => {
    const list = await run(['list', 'pg']);
    assert.equal(list.code, EXIT.ok);
    assert.match(list.out, /pg-20240103T020000\.000Z\.dump\s+1 B\s+yes/);
    const overview = await run([]);
    assert.equal(overview.code, EXIT.unavailable);
    assert.match(overview.err, /not reachable/);
  });

  it('usage mistakes exit 64, an unknown job is named', async () => {
    assert.equal((await run(['prune', 'pg'])).code, EXIT.usage);
    assert.equal((await run(['restore', 'pg'])).code, EXIT.usage);
    assert.equal((await run(['frobnicate'])).code, EXIT.usage);
    const unknown = await run(['verify', 'nope', 'latest']);
    assert.equal(unknown.code, EXIT.usage);
    assert.match(unknown.err, /no backup job named 'nope'/);
  });

  it('restore without --yes and without a terminal changes nothing', async () => {
    const result = await run(['restore', 'pg', 'latest']);
    assert.equal(result.code, EXIT.failure);
    assert.match(result.err, /not confirmed/);
  });
});
