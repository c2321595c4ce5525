import { findsCommand } from '../../../agent/kit/exec.js';
import { startScratchServer } from '../redis/restore.js';
import { DrillFailure, listProblems, noContents, type KindDrill } from './drill.js';
import { persistentKeys } from './redis-contents.js';

/**
 * Redis: a throw-away redis-server on a unix socket in the state directory loads the RDB itself (nothing
 * is copied to any server); keys without a TTL per database must lie between the counts read before and after
 * the snapshot, and every sampled key must be there with its type. Keys with a TTL are not counted: they may
 * have expired since.
 */
export const redisDrill: KindDrill<unknown> = {
  unavailable: () => (findsCommand('redis-server') ? undefined : 'skipped: redis-server not installed (apt-get install redis-server)'),

  async run(_job, backup, { stateDir, signal }) {
    const recorded = backup.manifest.contents?.redis;
    if (!recorded) throw noContents(backup, 'key counts');
    let scratch: Awaited<ReturnType<typeof startScratchServer>>;
    try {
      scratch = await startScratchServer(backup.path, signal, stateDir);
    } catch (err) {
      throw new DrillFailure((err as Error).message, { cause: err });
    }
    try {
      const { client } = scratch;
      const problems: string[] = [];
      const loaded = persistentKeys(await client.info('keyspace'));
      const dbs = new Set([...loaded.keys(), ...recorded.databases.map((d) => d.db)]);
      for (const db of [...dbs].sort((a, b) => a - b)) {
        const record = recorded.databases.find((d) => d.db === db);
        const low = Math.min(record?.persistentBefore ?? 0, record?.persistentAfter ?? 0);
        const high = Math.max(record?.persistentBefore ?? 0, record?.persistentAfter ?? 0);
        const count = loaded.get(db) ?? 0;
        if (count < low || count > high) problems.push(`db${db} has ${count} keys without a TTL loaded, ${low === high ? low : `${low}-${high}`} at dump time`);
      }
      for (const entry of recorded.sample) {
        await client.select(entry.db);
        const type = await client.type(Buffer.from(entry.key, 'base64'));
        if (type !== entry.type) problems.push(`db${entry.db} key ${JSON.stringify(Buffer.from(entry.key, 'base64').toString('utf8'))} is ${type === 'none' ? 'missing' : `a ${type}`}, was a ${entry.type}`);
      }
      if (problems.length > 0) throw new DrillFailure(listProblems(problems));
      const total = [...loaded.values()].reduce((sum, n) => sum + n, 0);
      return `redis-server loaded the RDB; ${total} keys without a TTL in ${loaded.size} databases, ${recorded.sample.length} sampled key types match`;
    } finally {
      await scratch.dispose();
    }
  },
};
