#!/usr/bin/env node
import type { Logger } from 'pino';
import { modules } from '../modules/index.js';
import { Agent } from './agent.js';
import { configPathFrom, runCli } from './cli/index.js';
import { parseArgs } from './cli/args.js';
import { ConfigError, describeError, formatIssue } from './kit/errors.js';
import { EXIT } from './kit/cli.js';
import { createRootLogger, SecretSet } from './logger.js';
import { isJournalStream, journalPrefix, logDestination } from './log-output.js';
import { installCliSignalHandlers, installSignalHandlers } from './signals.js';
import { VERSION } from './version.js';

function flushAndExit(log: Logger, code: number): void {
  log.flush(() => process.exit(code));
}

/** `caretaker run`: the daemon in the foreground until SIGTERM/SIGINT. */
async function run(argv: readonly string[]): Promise<void> {
  const configPath = configPathFrom(parseArgs(argv).flags, process.env);
  const secrets = new SecretSet();
  const log = createRootLogger({ secrets, level: process.env.CARETAKER_LOG_LEVEL ?? 'info', destination: logDestination() });
  // What a failed start prints for the person at the terminal is an error in the journal too.
  const stderrPrefix = isJournalStream(2) ? journalPrefix('error') : '';
  const printError = (text: string) => process.stderr.write(text.replace(/^(?=.)/gm, stderrPrefix));
  const agent = new Agent({ configPath, modules, log, secrets, version: VERSION });
  let shuttingDown = false;
  installSignalHandlers({
    reload: () => {
      if (shuttingDown) return;
      log.info('SIGHUP: reloading config');
      void agent.reload();
    },
    shutdown: (signal) => {
      shuttingDown = true;
      log.info({ signal }, 'shutting down');
      agent.shutdown().then(
        (code) => flushAndExit(log, code),
        (err: unknown) => {
          log.error({ err: describeError(err) }, 'shutdown failed');
          flushAndExit(log, 1);
        },
      );
    },
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err: describeError(err), stack: err.stack }, 'uncaught exception');
    flushAndExit(log, 70);
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: describeError(reason) }, 'unhandled promise rejection');
  });
  try {
    await agent.boot();
  } catch (err) {
    if (err instanceof ConfigError) {
      printError(`caretaker: invalid config ${configPath}\n${err.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}\n`);
      log.fatal({ issues: err.issues }, 'invalid config');
      flushAndExit(log, EXIT.config);
      return;
    }
    log.fatal({ err: describeError(err) }, 'agent failed to start');
    printError(`caretaker: cannot start: ${describeError(err)}\n`);
    await agent.shutdown().catch(() => undefined);
    flushAndExit(log, 1);
  }
}

const argv = process.argv.slice(2);
if (parseArgs(argv).command === 'run') {
  await run(argv);
} else {
  installCliSignalHandlers();
  const code = await runCli(argv, modules, {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
  });
  process.exitCode = code;
}
