// One exit hook for the whole test process, so leftovers are undone in reverse order of creation:
// a server started inside a temp dir is killed before that dir is removed.
type ExitAction = () => void;

const actions = new Set<ExitAction>();

process.on('exit', () => {
  for (const action of [...actions].reverse()) {
    try {
      action();
    } catch {
      // Exit is the last chance; one failed cleanup must not prevent the others.
    }
  }
});

// Signals skip 'exit' handlers, so turn them into a normal exit; the default handling would leak servers.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
}

/** Runs `action` synchronously when the test process exits; the returned function unregisters it. */
export function onExit(action: ExitAction): () => void {
  actions.add(action);
  return () => actions.delete(action);
}
