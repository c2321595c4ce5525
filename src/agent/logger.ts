import pino, { type DestinationStream, type Logger } from 'pino';

const REDACTED = '[REDACTED]';

/** Keys whose values are secret wherever they appear in a log line. */
const SECRET_KEY_PATTERN = /^(password|passwd|pass|secret|token|authorization|apikey|api_key|privatekey|private_key|key|hmackey|credentials?)$/i;

/** `scheme://user:password@host` → `scheme://user:***@host`, also inside longer text such as error messages. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;

/** The secret values the config expanded (`${env:…}` and friends), redacted verbatim from every line. */
export class SecretSet {
  private readonly values = new Set<string>();
  add(value: string): void {
    // Very short values would redact ordinary words; they are not worth hiding at that cost.
    if (value.length >= 4) this.values.add(value);
  }
  replaceAll(values: Iterable<string>): void {
    this.values.clear();
    for (const value of values) this.add(value);
  }
  scrub(text: string): string {
    let out = text.replace(URL_CREDENTIALS, '$1***@');
    for (const secret of this.values) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }
}

function scrubValue(value: unknown, secrets: SecretSet, depth: number): unknown {
  if (typeof value === 'string') return secrets.scrub(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: secrets.scrub(value.message), stack: value.stack ? secrets.scrub(value.stack) : undefined };
  }
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY_PATTERN.test(key) && v !== undefined && v !== null && v !== '' ? REDACTED : scrubValue(v, secrets, depth + 1);
  }
  return out;
}

export interface RootLoggerOptions {
  level?: string;
  secrets?: SecretSet;
  destination?: DestinationStream;
}

/** The process's one pino logger: JSON lines on stdout (journald), secrets scrubbed from every line. */
export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const secrets = options.secrets ?? new SecretSet();
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrubValue(object, secrets, 0) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? secrets.scrub(arg) : arg)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export function forModule(root: Logger, name: string): Logger {
  return root.child({ module: name });
}
