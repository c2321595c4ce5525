import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCommands } from '../../../src/modules/backups/redis/logical/raw.js';

/** RESP as a client library writes it: each argument's UTF-8 text or bytes, with its length. */
function expected(commands: Array<Array<string | number | Buffer>>): Buffer {
  const parts: Buffer[] = [];
  for (const args of commands) {
    parts.push(Buffer.from(`*${args.length}\r\n`));
    for (const arg of args) {
      const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

describe('RESP encoding of the logical engine’s commands', () => {
  it('writes lengths of every digit count, numbers, ASCII, UTF-8 and long strings, and bytes as they are', () => {
    for (const n of [0, 1, 9, 10, 99, 100, 999, 1000, 65_536, 1_234_567]) {
      const commands = [
        ['RESTORE', Buffer.alloc(n, 0x0d), n * 1_000_003, Buffer.from([0, 0xff, 0x0a]), 'REPLACE', 'ABSTTL'],
        ['SCAN', String(n), 'MATCH', 'clé:*', 'COUNT', 1000],
        ['SET', 'x'.repeat(n % 200), 1.5, -3, 'é'.repeat(n % 100)],
      ];
      assert.ok(encodeCommands(commands).equals(expected(commands)), `lengths of ${n}`);
    }
  });
});
