import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { UnsupportedError } from '../../../src/modules/backups/kinds/kind.js';
import { snapshotOverReplication } from '../../../src/modules/backups/redis/replica.js';
import type { ByteSink } from '../../../src/modules/backups/sink.js';

/**
 * Real redis-server covers the ordinary transfer (backups.int.test.ts); these scripted servers cover the protocol
 * shapes a stock test server does not produce on demand: keepalives split across packets, diskless EOF marks.
 */
function scriptedServer(answer: (command: string, socket: net.Socket) => void): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1');
        // Each command arrives as one RESP array; the name is its first bulk string.
        for (let match = /^\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n(?:\$\d+\r\n[^\r]*\r\n)*/.exec(buffer); match; match = /^\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n(?:\$\d+\r\n[^\r]*\r\n)*/.exec(buffer)) {
          buffer = buffer.slice(match[0].length);
          answer(match[1]!.toUpperCase(), socket);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() }));
  });
}

class MemorySink implements ByteSink {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(Buffer.from(chunk));
    this.bytes += chunk.length;
  }
  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const endpoint = (port: number) => ({ host: '127.0.0.1', port, db: 0 });

describe('redis replication protocol', () => {
  it('skips keepalives and strips the diskless EOF mark, even when it arrives in pieces', async () => {
    const payload = randomBytes(100_000);
    const mark = 'a'.repeat(40);
    const server = await scriptedServer((command, socket) => {
      if (command === 'REPLCONF') socket.write('+OK\r\n');
      if (command === 'SYNC') {
        socket.write('\n\n');
        setTimeout(() => {
          socket.write(`\n$EOF:${mark}\r\n`);
          socket.write(payload.subarray(0, 50_000));
          socket.write(Buffer.concat([payload.subarray(50_000), Buffer.from(mark.slice(0, 13))]));
          setTimeout(() => socket.end(mark.slice(13)), 20);
        }, 20);
      }
    });
    try {
      const sink = new MemorySink();
      assert.equal(await snapshotOverReplication(endpoint(server.port), sink, new AbortController().signal), 'SYNC (diskless)');
      assert.ok(sink.data.equals(payload));
    } finally {
      server.close();
    }
  });

  it('falls back to PSYNC ? -1 and stops at the announced length', async () => {
    const payload = randomBytes(5000);
    const server = await scriptedServer((command, socket) => {
      if (command === 'REPLCONF') socket.write("-ERR Unrecognized REPLCONF option: rdb-only\r\n");
      if (command === 'SYNC') socket.write("-ERR unknown command 'SYNC'\r\n");
      if (command === 'PSYNC') {
        // After the payload an old server carries on with the replication stream; it must not end up in the file.
        socket.write(Buffer.concat([Buffer.from(`+FULLRESYNC abc 0\r\n\n$${payload.length}\r\n`), payload, Buffer.from('*1\r\n$4\r\nPING\r\n')]));
      }
    });
    try {
      const sink = new MemorySink();
      assert.equal(await snapshotOverReplication(endpoint(server.port), sink, new AbortController().signal), 'PSYNC');
      assert.ok(sink.data.equals(payload));
    } finally {
      server.close();
    }
  });

  it('a server refusing both sync commands is unsupported; an aborted transfer rejects', async () => {
    const refusing = await scriptedServer((command, socket) => {
      if (command === 'REPLCONF') socket.write('+OK\r\n');
      else socket.write(`-ERR unknown command '${command}'\r\n`);
    });
    try {
      await assert.rejects(snapshotOverReplication(endpoint(refusing.port), new MemorySink(), new AbortController().signal), UnsupportedError);
    } finally {
      refusing.close();
    }
    const silent = await scriptedServer((command, socket) => {
      if (command === 'REPLCONF') socket.write('+OK\r\n');
      if (command === 'SYNC') socket.write('\n');
    });
    try {
      const controller = new AbortController();
      const transfer = snapshotOverReplication(endpoint(silent.port), new MemorySink(), controller.signal);
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(transfer, /cancelled/);
    } finally {
      silent.close();
    }
  });
});
