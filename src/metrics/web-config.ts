import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * node_exporter's web-config file (prometheus/exporter-toolkit), so a user can point caretaker at the
 * file their exporters already use. The subset: TLS with optional client certificates, bcrypt basic
 * auth, extra response headers. Keys caretaker does not implement are errors rather than silently ignored.
 */
const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const satisfies Record<string, SecureVersion>;
const TLS_VERSION_NAMES = Object.keys(TLS_VERSIONS) as Array<keyof typeof TLS_VERSIONS>;
const BCRYPT_HASH = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

const fileSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: z.string().min(1),
      key_file: z.string().min(1),
      client_ca_file: z.string().min(1).optional(),
      client_auth_type: z.enum(CLIENT_AUTH_TYPES).default('NoClientCert'),
      min_version: z.enum(TLS_VERSION_NAMES).default('TLS12'),
      max_version: z.enum(TLS_VERSION_NAMES).optional(),
    })
    .superRefine((tls, ctx) => {
      const verifies = tls.client_auth_type === 'VerifyClientCertIfGiven' || tls.client_auth_type === 'RequireAndVerifyClientCert';
      if (verifies && !tls.client_ca_file) ctx.addIssue({ code: 'custom', path: ['client_ca_file'], message: `is required with client_auth_type ${tls.client_auth_type}` });
      // exporter-toolkit refuses this too: a CA that is never used is almost always a forgotten policy.
      if (!verifies && tls.client_ca_file) ctx.addIssue({ code: 'custom', path: ['client_auth_type'], message: 'must verify client certificates (VerifyClientCertIfGiven or RequireAndVerifyClientCert) when client_ca_file is set' });
    })
    .optional(),
  basic_auth_users: z.record(z.string().min(1), z.string().regex(BCRYPT_HASH, { error: 'must be a bcrypt hash (for example from `htpasswd -nBC 10 "" | tr -d ":\\n"`)' })).optional(),
  http_server_config: z.strictObject({ headers: z.record(z.string(), z.string()).optional() }).optional(),
});

export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
  clientAuth: ClientAuthType;
  minVersion: SecureVersion;
  maxVersion?: SecureVersion;
}

export interface WebConfig {
  /** The web-config file this came from, absolute. */
  file: string;
  tls?: TlsFiles;
  /** user → bcrypt hash; empty means no basic auth. */
  users: Record<string, string>;
  headers: Record<string, string>;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Reads the PEM files a TlsFiles names. */
export async function readTlsMaterial(tls: TlsFiles): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([readFile(tls.certFile), readFile(tls.keyFile), tls.clientCaFile ? readFile(tls.clientCaFile) : undefined]);
  return { cert, key, ...(ca ? { ca } : {}) };
}

function readSync(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Reads and checks a web-config file, including that the certificate and key load and match, and
 * throws an Error whose message names the failing key. Synchronous because it runs inside the config
 * schema (zod's safeParse is synchronous): a few small local files, read once per config load.
 */
export function readWebConfig(path: string): WebConfig {
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = parseYaml(readSync(file, file).toString('utf8')) ?? {};
  } catch (err) {
    throw new Error(err instanceof Error && err.message.startsWith(file) ? err.message : `${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')} (caretaker supports tls_server_config, basic_auth_users, http_server_config.headers)` : issue.message;
    throw new Error(`${file}: ${key ? `${key}: ` : ''}${message}`);
  }
  const base = dirname(file);
  const config: WebConfig = { file, users: parsed.data.basic_auth_users ?? {}, headers: parsed.data.http_server_config?.headers ?? {} };
  const tls = parsed.data.tls_server_config;
  if (tls) {
    // Like exporter-toolkit, relative paths are taken from the web-config file's directory.
    config.tls = {
      certFile: resolve(base, tls.cert_file),
      keyFile: resolve(base, tls.key_file),
      ...(tls.client_ca_file ? { clientCaFile: resolve(base, tls.client_ca_file) } : {}),
      clientAuth: tls.client_auth_type,
      minVersion: TLS_VERSIONS[tls.min_version],
      ...(tls.max_version ? { maxVersion: TLS_VERSIONS[tls.max_version] } : {}),
    };
    const cert = readSync(config.tls.certFile, `${file}: tls_server_config.cert_file`);
    const key = readSync(config.tls.keyFile, `${file}: tls_server_config.key_file`);
    const ca = config.tls.clientCaFile ? readSync(config.tls.clientCaFile, `${file}: tls_server_config.client_ca_file`) : undefined;
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      throw new Error(`${file}: tls_server_config: cert_file and key_file do not load as a matching PEM pair (${(err as Error).message})`);
    }
    if (ca) {
      try {
        createSecureContext({ ca });
      } catch (err) {
        throw new Error(`${file}: tls_server_config.client_ca_file: not a PEM certificate (${(err as Error).message})`);
      }
    }
  }
  return config;
}
