import type { Redis } from 'ioredis';
import { isRefusal } from '../connection.js';

/**
 * Whether the server has no SYNC and no PSYNC for us (renamed away, as managed services do). Asked with a
 * wrong number of arguments, which a server that has the command answers with an arity error without
 * starting a transfer (and before its ACL check, so an ACL denial shows only in the real SYNC).
 */
export async function replicationRefused(client: Redis): Promise<boolean> {
  for (const command of ['SYNC', 'PSYNC']) {
    try {
      await client.call(command, 'caretaker-probe', 'x', 'y');
      return false;
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (err instanceof Error && err.name !== 'ReplyError') throw err;
      if (!isRefusal(text)) return false;
    }
  }
  return true;
}
