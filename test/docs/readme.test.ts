// The README's claims that a test can check: exit codes, admin routes, config keys, the tour's promtool line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/agent/cli/index.js';
import { EXIT } from '../../src/agent/kit/cli.js';
import { modules } from '../../src/modules/index.js';
import { requireBinaries } from '../harness/deps.js';
import { freePort } from '../harness/ports.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { allModulesConfig } from '../metrics/all-modules.js';
import { schemaPaths } from './schema-paths.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = await readFile(join(root, 'README.md'), 'utf8');
const moduleReadmes = await Promise.all(
  modules.map(async (m) => ({ spec: m, text: await readFile(join(root, 'src', 'modules', m.name, 'README.md'), 'utf8') })),
);

/** The rows of the markdown table whose header row is exactly `headers`. */
function table(text: string, headers: string[]): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line === `| ${headers.join(' | ')} |`);
  assert.ok(start >= 0, `no table | ${headers.join(' | ')} |`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim()));
  }
  return rows;
}

/** Words in backticks. */
function quoted(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, modules, { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let dir: TempDir;
let t: TestAgent;
before(async () => {
  dir = await makeTempDir('readme');
  // examples/full.yaml: every module, every probe pointed at a port where nothing listens, host metrics on.
  t = await startTestAgent(await allModulesConfig(dir.path), modules);
});
after(async () => {
  await t.close();
  await dir.cleanup();
});

describe('exit codes', () => {
  const rows = table(readme, ['code', 'meaning']);
  const documented = new Map(rows.map(([code, meaning]) => [Number(code), meaning!]));

  test('the README table lists exactly the codes the CLI uses, and so does `caretaker help`', async () => {
    const used = Object.values(EXIT).sort((a, b) => a - b);
    assert.deepEqual([...documented.keys()], used);
    const help = (await cli(['help'])).out.split('\n').find((line) => line.startsWith('exit codes:'));
    assert.deepEqual([...(help ?? '').matchAll(/(\d+) /g)].map((m) => Number(m[1])), used);
  });

  test('each code is what the CLI returns in the situation the table names', async () => {
    const url = ['--url', t.adminAddress];
    assert.equal((await cli(['version'])).code, EXIT.ok);

    assert.match(documented.get(EXIT.failure)!, /a probe down/);
    let probes = await cli(['probes', '--json', ...url]);
    for (let i = 0; i < 100 && (JSON.parse(probes.out) as { probes: Array<{ status: string }> }).probes.some((p) => p.status === 'pending'); i++) {
      await sleep(100);
      probes = await cli(['probes', '--json', ...url]);
    }
    assert.equal(probes.code, EXIT.failure, probes.out);

    assert.match(documented.get(EXIT.usage)!, /a missing argument, a name that is not configured \(probe, certificate, backup job, log set\)/);
    assert.equal((await cli(['backups', 'run', ...url])).code, EXIT.usage);
    for (const args of [['probes', 'nosuch'], ['certs', 'renew', 'nosuch'], ['backups', 'list', 'nosuch'], ['logs', 'rotate', 'nosuch']]) {
      assert.equal((await cli([...args, ...url])).code, EXIT.usage, args.join(' '));
    }
    assert.equal((await cli(['frobnicate'])).code, EXIT.usage);

    assert.match(documented.get(EXIT.unavailable)!, /not running or not reachable/);
    assert.equal((await cli(['status', '--url', `127.0.0.1:${await freePort()}`])).code, EXIT.unavailable);

    assert.match(documented.get(EXIT.config)!, /invalid \(`check-config`, `reload`\), or the command's module has no section in it \(`caretaker backups` without `backups:`\)/);
    const broken = join(dir.path, 'broken.yaml');
    await writeFile(broken, 'agent: [\n');
    assert.equal((await cli(['check-config', '--config', broken])).code, EXIT.config);
    const bare = join(dir.path, 'bare.yaml');
    await writeFile(bare, 'agent: { logLevel: info }\n');
    assert.equal((await cli(['backups', 'verify', 'pg', 'x.dump', '--config', bare])).code, EXIT.config);
  });
});

describe('admin routes', () => {
  /** `GET /certs/:name` for every route the admin API registers, from its own OpenAPI description. */
  async function registered(): Promise<string[]> {
    const spec = (await (await fetch(t.adminUrl('/openapi.json'))).json()) as { paths: Record<string, Record<string, unknown>> };
    return Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
  }
  const mentioned = (text: string) => [...text.matchAll(/`((?:GET|POST|PUT|DELETE|PATCH) \/[^`\s]*)`/g)].map((m) => m[1]!);

  test("README's table has every agent route and each module's prefix; each module README names its routes", async () => {
    const routes = await registered();
    const prefixes = modules.map((m) => m.prefix);
    const underModule = (route: string) => prefixes.some((p) => route.split(' ')[1] === p || route.split(' ')[1]!.startsWith(`${p}/`));
    const rows = table(readme, ['route', 'does']).map(([route]) => route!);
    const agentRows = rows.flatMap(quoted).filter((q) => /^[A-Z]+ \//.test(q));
    // The description does not list itself; fetching it above is its check.
    assert.deepEqual(agentRows.sort(), [...routes.filter((r) => !underModule(r)), 'GET /openapi.json'].sort(), 'README.md admin API table vs /openapi.json');
    const moduleRow = rows.find((r) => r.includes(`\`${prefixes[0]}\``));
    assert.deepEqual(quoted(moduleRow ?? '').sort(), [...prefixes].sort(), 'the module prefixes row');
    for (const { spec, text } of moduleReadmes) {
      const own = routes.filter((r) => r.split(' ')[1] === spec.prefix || r.split(' ')[1]!.startsWith(`${spec.prefix}/`));
      const named = new Set(mentioned(text));
      assert.deepEqual(own.filter((r) => !named.has(r)), [], `routes of ${spec.name} its README does not name`);
      assert.deepEqual([...named].filter((r) => !routes.includes(r)), [], `routes src/modules/${spec.name}/README.md names that do not exist`);
    }
  });
});

describe('config keys', () => {
  test("README's configuration table names every key of agent, admin and metrics, and every section exists", async () => {
    const paths = await schemaPaths();
    for (const [section, what] of table(readme, ['section', 'what', 'docs'])) {
      const name = quoted(section!)[0]!;
      assert.ok(paths.has(name), `section ${name}`);
      if (modules.some((m) => m.name === name)) continue;
      const keys = [...paths].filter((p) => p.startsWith(`${name}.`)).map((p) => p.slice(name.length + 1));
      assert.deepEqual([...new Set(quoted(what!).filter((q) => /^[a-z][A-Za-z]*$/.test(q)))].sort(), keys.sort(), `keys of ${name}`);
    }
  });

  test("each module README's key table and dotted key names (`acme.eab`, `rotate.every`) are keys of its section", async () => {
    const paths = await schemaPaths();
    const plain = [...paths].map((p) => p.replaceAll('[]', ''));
    // A key of the section at any depth: `jobs[].name`, and a kind's `url` as in "postgres `url`".
    const isKeyOf = (section: string, key: string) => plain.some((p) => p.startsWith(`${section}.`) && p.endsWith(`.${key.replaceAll('[]', '')}`));
    const keySegments = new Set(plain.flatMap((p) => p.split('.')));
    const namesKey = (dotted: string) => plain.some((p) => p === dotted || p.endsWith(`.${dotted}`));
    for (const { spec, text } of moduleReadmes) {
      const rows = text.includes('| key | default | meaning |') ? table(text, ['key', 'default', 'meaning']) : [];
      for (const [cell] of rows) for (const key of quoted(cell!)) assert.ok(isKeyOf(spec.name, key), `${spec.name} README key table: ${key}`);
      for (const [, dotted] of text.matchAll(/`([a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)+)`/g)) {
        // `state.json`, `meta.profiles`, `naming.ts`: file names and the CA's fields, not keys.
        if (!keySegments.has(dotted!.split('.')[0]!) || /\.(ts|js|json|md|sh|ya?ml|gz)$/.test(dotted!)) continue;
        assert.ok(namesKey(dotted!), `${spec.name} README names \`${dotted}\`, not a key`);
      }
    }
    for (const [, dotted] of readme.matchAll(/`([a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)+)`/g)) {
      if (keySegments.has(dotted!.split('.')[0]!)) assert.ok(namesKey(dotted!), `README.md names \`${dotted}\`, not a key`);
    }
  });
});

describe("the tour's promtool line", () => {
  test('exits 0 against a running agent with every module and host metrics; unfiltered it exits 3 on the camelCase remark only', async () => {
    requireBinaries(['promtool', 'curl']);
    const line = readme.split('\n').find((l) => l.includes('| promtool check metrics'));
    assert.ok(line, 'README has a promtool line');
    const command = line.replace(/\s+#.*$/, '').replaceAll('127.0.0.1:9471', t.metricsAddress);
    // Asynchronously: the agent answering curl runs in this process.
    const run = (script: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
          resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
        );
      });
    const filtered = await run(command);
    assert.equal(filtered.status, 0, `${command}\n${filtered.stdout}${filtered.stderr}`);
    assert.match(line, /# exit 0/);
    const unfiltered = await run(command.replace(/\| grep -v \S+ /, ''));
    assert.equal(unfiltered.status, 3, unfiltered.stdout + unfiltered.stderr);
    const remarks = (unfiltered.stdout + unfiltered.stderr).trim().split('\n');
    assert.ok(remarks.length > 0 && remarks.every((r) => /^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$/.test(r)), remarks.join('\n'));
  });
});
