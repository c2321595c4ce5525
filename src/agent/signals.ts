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
