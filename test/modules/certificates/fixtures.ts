import { createPublicKey, X509Certificate } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configSchema, type CertificatesConfig } from '../../../src/modules/certificates/config.js';
import { CertificateManager, type ManagerOptions } from '../../../src/modules/certificates/manager.js';
import { declareMetrics } from '../../../src/modules/certificates/metrics.js';
import type { PebbleServer } from '../../harness/pebble.js';
import { createTestContext, type TestModuleContext } from '../../helpers/module-context.js';

export interface ManagerFixture {
  manager: CertificateManager;
  tc: TestModuleContext;
  config: CertificatesConfig;
  dispose(): Promise<void>;
}

/** The certificates section for a pebble, parsed through the real schema so defaults apply. */
export function configFor(directory: string, ca: string | undefined, dir: string, certs: unknown[], acme: Record<string, unknown> = {}): CertificatesConfig {
  return configSchema.parse({
    dir,
    acme: { directory, email: 'ops@example.com', ...(ca ? { caBundle: ca } : {}), requestTimeout: '5s', ...acme },
    renewCheckInterval: '1h',
    certs,
  });
}

export function pebbleConfig(pebble: PebbleServer, dir: string, certs: unknown[], acme: Record<string, unknown> = {}): CertificatesConfig {
  return configFor(pebble.directoryUrl, pebble.ca, dir, certs, acme);
}

/** A manager on a real ModuleContext, not started (tests call renew() or start() themselves). */
export async function createManager(config: CertificatesConfig, options: ManagerOptions = {}, shared: { stateDir?: string } = {}): Promise<ManagerFixture> {
  const context = await createTestContext('certificates', shared);
  const manager = new CertificateManager(context.ctx, config, declareMetrics(context.registrar), options);
  return {
    manager,
    tc: context,
    config,
    async dispose() {
      await manager.stop();
      await context.dispose();
    },
  };
}

/** Whether live/<name>/privkey.pem belongs to live/<name>/cert.pem (and fullchain starts with that cert). */
export async function liveSetMatches(dir: string, name: string): Promise<{ ok: boolean; serial: string }> {
  const live = path.join(dir, 'live', name);
  const [key, cert, fullchain] = await Promise.all(['privkey.pem', 'cert.pem', 'fullchain.pem'].map((f) => readFile(path.join(live, f), 'utf8')));
  const x509 = new X509Certificate(cert!);
  const leafOfChain = new X509Certificate(fullchain!);
  const keyPublic = createPublicKey(key!).export({ type: 'spki', format: 'der' });
  const certPublic = x509.publicKey.export({ type: 'spki', format: 'der' });
  return { ok: keyPublic.equals(certPublic) && leafOfChain.serialNumber === x509.serialNumber, serial: x509.serialNumber };
}

/** A dns-01 hook script that sets and clears TXT records through challtestsrv's management API. */
export async function writeChalltestsrvHook(dir: string, managementUrl: string): Promise<string> {
  const hook = path.join(dir, 'dns-hook.sh');
  await writeFile(
    hook,
    `#!/bin/sh
# $1 = set|clear, $2 = _acme-challenge FQDN, $3 = TXT value
set -eu
case "$1" in
  set) curl -fsS -X POST -d "{\\"host\\":\\"$2.\\",\\"value\\":\\"$3\\"}" ${managementUrl}/set-txt ;;
  clear) curl -fsS -X POST -d "{\\"host\\":\\"$2.\\"}" ${managementUrl}/clear-txt ;;
  *) echo "unknown action $1" >&2; exit 2 ;;
esac
`,
  );
  await chmod(hook, 0o755);
  return hook;
}
