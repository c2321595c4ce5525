import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../agent/kit/atomic-file.js';
import type { ChallengeSolver, ChallengeTask } from './solver.js';

/** http-01 through an existing web server: token files under `<webroot>/.well-known/acme-challenge/`. */
export class WebrootSolver implements ChallengeSolver {
  readonly type = 'http-01';
  private readonly dir: string;

  constructor(webroot: string) {
    this.dir = join(webroot, '.well-known', 'acme-challenge');
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
  }

  async present(task: ChallengeTask): Promise<void> {
    // Tokens are base64url by RFC 8555; anything else must not become a path.
    if (!/^[A-Za-z0-9_-]+$/.test(task.token)) throw new Error(`refusing challenge token with unexpected characters: ${task.token}`);
    await writeFileAtomic(join(this.dir, task.token), task.keyAuthorization, { mode: 0o644 });
  }

  async remove(task: ChallengeTask): Promise<void> {
    await unlink(join(this.dir, task.token)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async close(): Promise<void> {}
}
