import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import type { ExpandEnvironment } from '../config/expand.js';
import { loadConfig } from '../config/load.js';
import { EXIT } from '../kit/cli.js';
import { readSandbox, writablePathLine, type DoctorContext, type DoctorLine } from '../kit/doctor.js';
import { ConfigError, describeError, formatIssue } from '../kit/errors.js';
import type { AnyModuleSpec } from '../kit/module.js';

/** How long one module's checks may take in all (a DNS lookup or a server that never answers). */
const MODULE_TIMEOUT_MS = 60_000;

export interface DoctorOptions {
  configPath: string;
  environment: ExpandEnvironment;
  unit: string;
  /** Overrides for tests: the port http-01 is checked on and the resolver. */
  httpPort?: number;
  resolve?: (name: string) => Promise<string[]>;
}

async function resolveAll(name: string): Promise<string[]> {
  return (await lookup(name, { all: true })).map((a) => a.address);
}

/** Every line of `caretaker doctor`: the config, the agent's own paths, then each configured module's checks. */
export async function runDoctor(modules: readonly AnyModuleSpec[], options: DoctorOptions): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  let config;
  try {
    config = await loadConfig(options.configPath, { modules, environment: options.environment });
    lines.push({ status: 'ok', check: 'config', detail: `${options.configPath} validates` });
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues.map(formatIssue) : [describeError(err)];
    for (const issue of issues) lines.push({ status: 'fail', check: 'config', detail: issue, fix: 'correct the key named, then caretaker check-config' });
    return lines;
  }
  const sandbox = await readSandbox(options.unit);
  lines.push(
    sandbox
      ? { status: 'ok', check: 'sandbox', detail: `${options.unit} runs as ${sandbox.user}; writable: ${sandbox.writable.join(' ')}` }
      : { status: 'warn', check: 'sandbox', detail: `systemd does not know ${options.unit} here: paths are checked for this user only`, fix: 'run doctor on the server where install.sh installed the unit' },
  );
  lines.push(await writablePathLine('state dir', config.agent.stateDir, sandbox));
  for (const spec of modules) {
    const section = config.sections.get(spec.name);
    if (section === undefined || !spec.doctor) continue;
    const ctx: DoctorContext = {
      sandbox,
      stateDir: join(config.agent.stateDir, spec.name),
      signal: AbortSignal.timeout(MODULE_TIMEOUT_MS),
      resolve: options.resolve ?? resolveAll,
      httpPort: options.httpPort ?? 80,
    };
    try {
      lines.push(...(await spec.doctor(section, ctx)));
    } catch (err) {
      lines.push({ status: 'fail', check: spec.name, detail: `the checks themselves failed: ${describeError(err)}` });
    }
  }
  return lines;
}

export function formatDoctor(lines: DoctorLine[]): string {
  const width = Math.max(...lines.map((l) => l.check.length));
  return lines
    .map((l) => `${l.status.padEnd(4)}  ${l.check.padEnd(width)}  ${l.detail}${l.fix && l.status !== 'ok' ? `\n${' '.repeat(width + 8)}fix: ${l.fix}` : ''}`)
    .join('\n');
}

/** Exit 0 when nothing failed (warnings included), 1 otherwise. */
export function doctorExitCode(lines: DoctorLine[]): number {
  return lines.some((l) => l.status === 'fail') ? EXIT.failure : EXIT.ok;
}
