import Fastify, { type FastifyInstance } from 'fastify';
import { ApiError, type AdminClient, type CommandContext } from '../../../src/agent/kit/cli.js';
import { errorHandler } from '../../../src/agent/admin/error-handler.js';
import { backupCommands } from '../../../src/modules/backups/cli.js';
import { configSchema, type BackupsConfig } from '../../../src/modules/backups/config.js';
import { declareMetrics } from '../../../src/modules/backups/metrics.js';
import { routes } from '../../../src/modules/backups/routes.js';
import { BackupRunner } from '../../../src/modules/backups/runner.js';
import { createTestContext, type TestModuleContext } from '../../helpers/module-context.js';

export interface Harnessed {
  runner: BackupRunner;
  config: BackupsConfig;
  test: TestModuleContext;
  app: FastifyInstance;
  metricsText(): Promise<string>;
  /** Resolves once start-up scans, runs and drills in progress have finished. */
  settled(): Promise<void>;
  /** Runs `caretaker backups ...` against this runner's admin routes and config. */
  cli(args: string[], flags?: Record<string, string | true>): Promise<{ code: number; out: string; err: string }>;
  dispose(): Promise<void>;
}

/** A started BackupRunner on a real ModuleContext, its routes on a bare fastify, and the CLI wired to both. */
export async function startBackups(input: unknown, now?: () => Date): Promise<Harnessed> {
  const config = configSchema.parse(input);
  const test = await createTestContext('backups');
  const runner = new BackupRunner(test.ctx, config, declareMetrics(test.registrar), now);
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(routes, { prefix: '/backups', live: { current: () => runner } });
  await app.ready();
  await runner.start();

  const request = async <T>(method: 'GET' | 'POST', url: string): Promise<T> => {
    const response = await app.inject({ method, url });
    const body = response.json() as { error?: string; message?: string };
    if (response.statusCode >= 400) throw new ApiError(response.statusCode, body.error ?? 'error', body.message ?? '', body);
    return body as T;
  };
  const client: AdminClient = { get: (url) => request('GET', url), post: (url) => request('POST', url) };

  return {
    runner,
    config,
    test,
    app,
    metricsText: () => test.registry.metrics(),
    settled: () => test.settled(),
    async cli(args, flags = {}) {
      const out: string[] = [];
      const err: string[] = [];
      const ctx: CommandContext = {
        args,
        flags,
        json: false,
        client,
        loadSection: async () => config,
        configPath: '/nonexistent/caretaker.yaml',
        stateDir: async () => {
          throw new Error('this test has no state dir');
        },
        out: (text) => out.push(text),
        err: (text) => err.push(text),
        confirm: async () => false,
      };
      const code = await backupCommands[0]!.run(ctx);
      return { code, out: out.join('\n'), err: err.join('\n') };
    },
    async dispose() {
      await runner.stop();
      await app.close();
      await test.dispose();
    },
  };
}

/** Polls a condition (bounded) for things that happen in another process or the background. */
export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
