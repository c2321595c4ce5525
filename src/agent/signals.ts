import { constants } from 'node:os';
import { stopAllChildren } from './kit/exec.js';

export interface SignalHandlers {
  reload(): void;
  shutdown(signal: NodeJS.Signals): void;
}

/** The only place that listens to process signals: SIGHUP reloads, SIGTERM/SIGINT stop, a second one forces exit. */
export function installSignalHandlers(handlers: SignalHandlers): () => void {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.exit(130);
    }
    stopping = true;
    handlers.shutdown(signal);
  };
  const onHup = () => handlers.reload();
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  };
}

/** How long the tools of an interrupted CLI command get between SIGTERM and SIGKILL. */
const CLI_CHILD_GRACE_MS = 3000;

/**
 * The CLI's: a command interrupted by SIGTERM, SIGINT or SIGHUP first stops the tools it runs (verify's
 * sha256sum, restore's pg_restore). They lead their own process groups, so neither the terminal's Ctrl-C
 * nor a hangup reaches them, and a signal's default action would leave them running. Then it exits
 * 128 + the signal number, as a shell reports a death by signal; a second signal does not wait.
 */
export function installCliSignalHandlers(): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = 128 + constants.signals[signal];
    // process.exit runs kit/exec's exit hook, which SIGKILLs whatever is still running.
    if (stopping) process.exit(code);
    stopping = true;
    void stopAllChildren(CLI_CHILD_GRACE_MS).finally(() => process.exit(code));
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onSignal);
}
