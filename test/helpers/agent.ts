import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.js';
import type { AnyModuleSpec } from '../../src/agent/kit/module.js';
import { createRootLogger, SecretSet } from '../../src/agent/logger.js';
import { SdNotify } from '../../src/agent/sd-notify.js';

export interface TestAgent {
  agent: Agent;
  dir: string;
  configPath: string;
  /** Every log line the agent wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The bound addresses, as `/status` reports them (ports the OS picked). */
  readonly adminAddress: string;
  readonly metricsAddress: string;
  writeConfig(yaml: string): Promise<void>;
  adminUrl(path: string): string;
  metricsUrl(): string;
  close(): Promise<void>;
}

/** The config most tests start from: loopback listeners on ports the OS picks. */
export function baseConfig(dir: string, extra = ''): string {
  return `agent: { stateDir: ${join(dir, 'state')} }\nadmin: { listen: "127.0.0.1:0" }\nmetrics: { listen: "127.0.0.1:0", host: false }\n${extra}`;
}

/** An in-process Agent from a YAML text, with its log lines captured. */
export async function startTestAgent(yaml: string | ((dir: string) => string), modules: readonly AnyModuleSpec[]): Promise<TestAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-agent-'));
  const configPath = join(dir, 'caretaker.yaml');
  const logs: TestAgent['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const secrets = new SecretSet();
  const log = createRootLogger({ secrets, destination: sink, level: 'debug' });
  await writeFile(configPath, typeof yaml === 'function' ? yaml(dir) : yaml);
  const agent = new Agent({ configPath, modules, log, secrets, version: '0.0.0-test', notify: new SdNotify(pino({ level: 'silent' }), {}) });
  await agent.boot();
  return {
    agent,
    dir,
    configPath,
    logs,
    writeConfig: (text) => writeFile(configPath, text),
    get adminAddress() {
      return agent.status().admin!;
    },
    // A reload may move the metrics listener, so it is read each time.
    get metricsAddress() {
      return agent.status().metrics!;
    },
    adminUrl: (path) => `http://${agent.status().admin}${path}`,
    metricsUrl: () => `http://${agent.status().metrics}/metrics`,
    async close() {
      await agent.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
