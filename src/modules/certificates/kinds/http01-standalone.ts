import http from 'node:http';
import type { ChallengeSolver, ChallengeTask } from './kind.js';

const PREFIX = '/.well-known/acme-challenge/';

/** http-01 on our own listener, bound only between open() and close() of one order. */
export class StandaloneSolver implements ChallengeSolver {
  readonly type = 'http-01';
  private server: http.Server | undefined;
  private readonly answers = new Map<string, string>();

  /** `lookup`: where a token this listener was not given is looked up (a cluster's tokens in Redis). */
  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly lookup?: (token: string) => Promise<string | undefined>,
  ) {}

  async open(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => {
      void this.answer(req).then((answer) => {
        if (answer === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        else res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`http-01 standalone listener on ${this.address}:${this.port}: ${err.code === 'EADDRINUSE' ? 'address already in use (EADDRINUSE)' : err.message}`, { cause: err })),
      );
      server.listen(this.port, this.address, () => resolve());
    });
    this.server = server;
  }

  private async answer(req: http.IncomingMessage): Promise<string | undefined> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method !== 'GET' || !path.startsWith(PREFIX)) return undefined;
    const token = path.slice(PREFIX.length);
    const local = this.answers.get(token);
    // Tokens are base64url (RFC 8555): anything else is not looked up.
    if (local !== undefined || !this.lookup || !/^[A-Za-z0-9_-]+$/.test(token)) return local;
    return this.lookup(token).catch(() => undefined);
  }

  async present(task: ChallengeTask): Promise<void> {
    this.answers.set(task.token, task.keyAuthorization);
  }

  async remove(task: ChallengeTask): Promise<void> {
    this.answers.delete(task.token);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.answers.clear();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
