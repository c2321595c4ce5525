import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { doctorExitCode, formatDoctor, runDoctor } from './doctor.js';
import { expandReferences, SYSTEMD_CREDENTIAL_STORES, type ExpandEnvironment } from '../config/expand.js';
import { loadConfig, readConfigData } from '../config/load.js';
import { ApiError, DaemonUnreachableError, EXIT, isNotConfigured, type AdminClient, type CommandContext } from '../kit/cli.js';
import { ConfigError, describeError, formatIssue, type ConfigIssue } from '../kit/errors.js';
import type { AnyModuleSpec } from '../kit/module.js';
import { parseListen, type ListenAddress } from '../kit/schema.js';
import { VERSION } from '../version.js';
import { parseArgs, UsageError, type ParsedArgs } from './args.js';
import { createAdminClient } from './client.js';
import type { ReloadAnswer, StatusAnswer } from '../admin/answers.js';
import { formatStatus, statusExitCode } from './output.js';

export const DEFAULT_CONFIG = '/etc/caretaker/caretaker.yaml';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export function configPathFrom(flags: ParsedArgs['flags'], env: NodeJS.ProcessEnv): string {
  const flag = flags.config;
  return typeof flag === 'string' ? flag : (env.CARETAKER_CONFIG ?? DEFAULT_CONFIG);
}

/**
 * Where the daemon listens and its token: `--url`/`--token` or CARETAKER_ADMIN/CARETAKER_TOKEN first,
 * then the config file's plain `admin` values (not expanded: the CLI may not see the daemon's secrets).
 */
async function adminEndpoint(parsed: ParsedArgs, io: CliIo): Promise<{ address: ListenAddress; token?: string }> {
  let listen = typeof parsed.flags.url === 'string' ? parsed.flags.url : io.env.CARETAKER_ADMIN;
  let token = typeof parsed.flags.token === 'string' ? parsed.flags.token : io.env.CARETAKER_TOKEN;
  if (listen === undefined || token === undefined) {
    try {
      const doc = (await readConfigData(configPathFrom(parsed.flags, io.env))) as { admin?: { listen?: unknown; token?: unknown } } | null;
      if (listen === undefined && typeof doc?.admin?.listen === 'string') listen = doc.admin.listen;
      if (token === undefined && typeof doc?.admin?.token === 'string') token = await expandToken(doc.admin.token, configEnvironment(parsed, io));
    } catch {
      // No readable config: the defaults below are what the daemon uses too.
    }
  }
  const text = (listen ?? '127.0.0.1:9470').replace(/^https?:\/\//, '');
  const address = parseListen(text);
  if (!address) throw new UsageError(`'${text}' is not an admin address (host:port or unix:/path)`);
  return { address, ...(token ? { token } : {}) };
}

/**
 * A `${credential:}` token resolves where systemd put it: `caretaker reload` runs as the unit's
 * ExecReload= with the unit's credentials, `sudo caretaker reload` reads the credential store.
 * A reference the CLI cannot resolve leaves it without a token.
 */
async function expandToken(text: string, environment: ExpandEnvironment): Promise<string | undefined> {
  if (!text.includes('${')) return text;
  const expanded = await expandReferences(text, environment);
  return expanded.issues.length === 0 && typeof expanded.value === 'string' ? expanded.value : undefined;
}

const HELP = (modules: readonly AnyModuleSpec[]) =>
  [
    'usage: caretaker [--config PATH] [--json] <command> [args]',
    '',
    'commands:',
    '  run                 run the daemon in the foreground',
    '  check-config        validate the config file (works with the daemon stopped)',
    '  doctor [--unit U]   check the setup as the service runs it: sandbox paths, web server, DNS, tools, space',
    '  status              version, uptime and the state of each module',
    '  reload              re-read the config in the running daemon',
    '  version             print the version',
    ...modules.flatMap((m) => m.commands ?? []).map((c) => `  ${c.usage.padEnd(18)}  ${c.summary}`),
    '',
    'options: --config PATH (or CARETAKER_CONFIG), --json, --url HOST:PORT|unix:/path, --token TOKEN,',
    '         --credentials-dir DIR (for ${credential:NAME}; default $CREDENTIALS_DIRECTORY, else /etc/credstore, /run/credstore, ...)',
    `exit codes: 0 ok, 1 something is wrong, ${EXIT.nothingRunning} nothing in progress to follow, ${EXIT.usage} usage, ${EXIT.unavailable} daemon not reachable, ${EXIT.config} invalid config or module not configured`,
  ].join('\n');

/**
 * How the CLI resolves the config's references: `--credentials-dir`, else the service's own
 * `$CREDENTIALS_DIRECTORY`, else (a root shell outside the service) the store systemd's
 * `LoadCredential=NAME` copies from, so `sudo caretaker check-config` sees what the daemon will.
 */
function configEnvironment(parsed: ParsedArgs, io: CliIo): ExpandEnvironment {
  const flag = parsed.flags['credentials-dir'];
  const credentialsDirectory = typeof flag === 'string' ? flag : io.env.CREDENTIALS_DIRECTORY;
  return { env: io.env, credentialsDirectory, credentialStores: SYSTEMD_CREDENTIAL_STORES };
}

async function checkConfig(parsed: ParsedArgs, modules: readonly AnyModuleSpec[], io: CliIo, json: boolean): Promise<number> {
  const path = configPathFrom(parsed.flags, io.env);
  try {
    const config = await loadConfig(path, { modules, environment: configEnvironment(parsed, io) });
    const configured = [...config.sections.keys()];
    io.out(json ? JSON.stringify({ ok: true, path, modules: configured, warnings: config.warnings }) : `${path}: ok (modules: ${configured.join(', ') || 'none'})`);
    if (!json) for (const warning of config.warnings) io.err(`  warning: ${formatIssue(warning)}`);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (json) io.out(JSON.stringify({ ok: false, path, issues: err.issues }));
    else {
      io.err(`${path}: invalid config (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'})`);
      for (const issue of err.issues) io.err(`  ${formatIssue(issue)}`);
    }
    return EXIT.config;
  }
}

function commandContext(parsed: ParsedArgs, modules: readonly AnyModuleSpec[], io: CliIo, client: AdminClient, moduleName: string): CommandContext {
  const { json: _json, config: _config, url: _url, token: _token, 'credentials-dir': _credentials, ...flags } = parsed.flags;
  return {
    args: parsed.args,
    flags,
    json: parsed.flags.json === true,
    client,
    out: io.out,
    err: io.err,
    async loadSection() {
      const config = await loadConfig(configPathFrom(parsed.flags, io.env), { modules, environment: configEnvironment(parsed, io) });
      return config.sections.get(moduleName);
    },
    configPath: configPathFrom(parsed.flags, io.env),
    async stateDir() {
      const config = await loadConfig(configPathFrom(parsed.flags, io.env), { modules, environment: configEnvironment(parsed, io) });
      return join(config.agent.stateDir, moduleName);
    },
    async confirm(question) {
      if (!process.stdin.isTTY) return false;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

/** Every command but `run`; returns the exit code. */
export async function runCli(argv: readonly string[], modules: readonly AnyModuleSpec[], io: CliIo): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    io.err(`caretaker: ${(err as Error).message}`);
    return EXIT.usage;
  }
  const json = parsed.flags.json === true;
  if (parsed.command === undefined || parsed.command === 'help' || parsed.flags.help === true) {
    io.out(HELP(modules));
    return parsed.command === undefined && parsed.flags.help !== true ? EXIT.usage : EXIT.ok;
  }
  try {
    switch (parsed.command) {
      case 'version':
        io.out(json ? JSON.stringify({ version: VERSION, node: process.versions.node }) : `caretaker ${VERSION} (node ${process.versions.node})`);
        return EXIT.ok;
      case 'check-config':
        return await checkConfig(parsed, modules, io, json);
      case 'doctor': {
        const unit = typeof parsed.flags.unit === 'string' ? parsed.flags.unit : 'caretaker.service';
        const lines = await runDoctor(modules, { configPath: configPathFrom(parsed.flags, io.env), environment: configEnvironment(parsed, io), unit });
        io.out(json ? JSON.stringify({ lines }, null, 2) : formatDoctor(lines));
        return doctorExitCode(lines);
      }
    }
    const client = createAdminClient(await adminEndpoint(parsed, io));
    switch (parsed.command) {
      case 'status': {
        const status = await client.get<StatusAnswer>('/status');
        io.out(json ? JSON.stringify(status, null, 2) : formatStatus(status));
        return statusExitCode(status);
      }
      case 'reload': {
        const report = await client.post<ReloadAnswer>('/reload');
        if (json) io.out(JSON.stringify(report, null, 2));
        else {
          for (const [name, entry] of Object.entries(report.modules)) io.out(`${name}: ${entry.change}${entry.error ? ` (${entry.error})` : ''}`);
          if (report.metricsError) io.out(`metrics listener: ${report.metricsError}`);
          if (report.restartRequired.length) io.out(`needs a restart to apply: ${report.restartRequired.join(', ')}`);
        }
        return report.ok ? EXIT.ok : EXIT.failure;
      }
    }
    for (const module of modules) {
      const command = module.commands?.find((c) => c.name === parsed.command);
      if (command) return await command.run(commandContext(parsed, modules, io, client, module.name));
      // A two-word command (`adopt certbot`, `adopt logrotate`) lets several modules share a verb.
      const sub = module.commands?.find((c) => c.name === `${parsed.command} ${parsed.args[0]}`);
      if (sub) return await sub.run(commandContext({ ...parsed, args: parsed.args.slice(1) }, modules, io, client, module.name));
    }
    const verbs = modules.flatMap((m) => m.commands ?? []).filter((c) => c.name.startsWith(`${parsed.command} `));
    if (verbs.length > 0) {
      io.err(verbs.map((c) => `usage: ${c.usage}`).join('\n'));
      return EXIT.usage;
    }
    io.err(`caretaker: unknown command '${parsed.command}' (see caretaker help)`);
    return EXIT.usage;
  } catch (err) {
    return reportError(err, io, json);
  }
}

function reportError(err: unknown, io: CliIo, json: boolean): number {
  if (err instanceof DaemonUnreachableError) {
    io.err(`caretaker: ${err.message}`);
    return EXIT.unavailable;
  }
  if (err instanceof UsageError) {
    io.err(`caretaker: ${err.message}`);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    for (const issue of err.issues) io.err(`  ${formatIssue(issue)}`);
    return EXIT.config;
  }
  if (err instanceof ApiError) {
    if (json) io.out(JSON.stringify(err.body ?? { error: err.error, message: err.message }));
    io.err(`caretaker: ${err.message}`);
    if (isNotConfigured(err)) return EXIT.config;
    // An unknown probe, certificate, job or set is the caller's argument, as the modules' own commands say.
    if (err.status === 404) return EXIT.usage;
    const issues = (err.body as { issues?: ConfigIssue[] } | undefined)?.issues;
    for (const issue of Array.isArray(issues) ? issues : []) io.err(`  ${formatIssue(issue)}`);
    // `systemctl reload` runs `caretaker reload`: a refused file must fail the reload the way check-config does.
    if (err.error === 'invalid_config') return EXIT.config;
    return err.status === 503 ? EXIT.unavailable : EXIT.failure;
  }
  io.err(`caretaker: ${describeError(err)}`);
  return EXIT.failure;
}
