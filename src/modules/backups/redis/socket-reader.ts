import type net from 'node:net';

/** Bytes a server may send before the payload header while it prepares the snapshot: one newline per second. */
const KEEPALIVE = 0x0a;

/** Pulls bytes from a socket on demand, so the RDB payload is written as it arrives and never held whole. */
export class SocketReader {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(socket: net.Socket) {
    this.chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async fill(): Promise<void> {
    const next = await this.chunks.next();
    if (next.done) throw new Error('the server closed the connection during the transfer');
    this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value]);
  }

  /**
   * `count` values read with a synchronous parser, waiting for the socket only when the buffer ends inside one;
   * the parser says how many bytes it needs, so a large value gathers the socket's chunks and joins them once.
   */
  async parse<T>(count: number, parser: (buffer: Buffer, at: number) => { value: T; end: number } | { need: number }): Promise<T[]> {
    const out: T[] = [];
    let at = 0;
    while (out.length < count) {
      const parsed = parser(this.buffer, at);
      if ('value' in parsed) {
        out.push(parsed.value);
        at = parsed.end;
        continue;
      }
      this.buffer = this.buffer.subarray(at);
      const need = parsed.need - at;
      at = 0;
      await this.gather(Math.max(need, this.buffer.length + 1));
    }
    this.buffer = this.buffer.subarray(at);
    return out;
  }

  private async gather(n: number): Promise<void> {
    const parts = [this.buffer];
    let have = this.buffer.length;
    while (have < n) {
      const next = await this.chunks.next();
      if (next.done) throw new Error('the server closed the connection during the transfer');
      parts.push(next.value);
      have += next.value.length;
    }
    this.buffer = parts.length === 1 ? this.buffer : Buffer.concat(parts, have);
  }

  async line(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const text = this.buffer.toString('utf8', 0, end);
        this.buffer = this.buffer.subarray(end + 2);
        return text;
      }
      if (this.buffer.length > 64 * 1024) throw new Error('protocol error: reply line too long');
      await this.fill();
    }
  }

  async skipKeepalives(): Promise<void> {
    for (;;) {
      let skip = 0;
      while (skip < this.buffer.length && this.buffer[skip] === KEEPALIVE) skip++;
      this.buffer = this.buffer.subarray(skip);
      if (this.buffer.length > 0) return;
      await this.fill();
    }
  }

  /** The next chunk of raw bytes: what is buffered first, then straight from the socket. */
  async chunk(): Promise<Buffer> {
    if (this.buffer.length === 0) await this.fill();
    const out = this.buffer;
    this.buffer = Buffer.alloc(0);
    return out;
  }
}
