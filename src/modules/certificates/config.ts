import { z } from 'zod';
import { duration, existingPath, itemName, namedList } from '../../agent/kit/schema.js';
import { shellCommand } from '../../agent/kit/unit-control.js';

/** A DNS name the CA can validate; `*.` only as the whole left-most label (dns-01 only, checked below). */
const domainName = z
  .string({ error: 'expected a domain name' })
  .regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, {
    error: 'must be a DNS name such as example.com or *.example.com',
  })
  .transform((name) => name.toLowerCase());

const hostPort = z
  .string({ error: 'expected host:port' })
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { error: 'must be host:port, e.g. 127.0.0.1:443' });

export const webrootChallengeSchema = z.strictObject({
  type: z.literal('http-01'),
  /** Directory served at `/` by the web server; tokens go under `.well-known/acme-challenge/`. */
  webroot: z.string().startsWith('/', { error: 'must be an absolute path' }),
});

export const standaloneChallengeSchema = z.strictObject({
  type: z.literal('http-01'),
  /** Our own listener, open only while an order is pending. */
  standalone: z.strictObject({
    address: z.string().default('0.0.0.0'),
    port: z.number().int().min(1).max(65535).default(80),
  }),
});

export const dnsHookChallengeSchema = z.strictObject({
  type: z.literal('dns-01'),
  /** Executable run as `<hook> set|clear <fqdn> <value>`; exit 0 once the TXT record is visible. */
  hook: existingPath({ kind: 'file', executable: true }),
  /** How long each hook call may take. */
  timeout: duration({ min: '1s', max: '30m' }).default(120_000),
});

export const challengeSchema = z.union([webrootChallengeSchema, standaloneChallengeSchema, dnsHookChallengeSchema], {
  error: "expected { type: http-01, webroot: /path } or { type: http-01, standalone: { port } } or { type: dns-01, hook: /path }",
});

export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;

const deploySchema = z.strictObject({
  /** Run by /bin/sh after a new certificate is live, e.g. `nginx -t && nginx -s reload` or `systemctl reload nginx`. */
  command: shellCommand(),
  timeout: duration({ min: '1s', max: '1h' }).default(60_000),
  /** host:port that must serve the new certificate after the command (checked over TLS). */
  verify: hostPort.optional(),
});

export const certSchema = z
  .strictObject({
    name: itemName(),
    domains: z.array(domainName).min(1, { error: 'list at least one domain' }).max(100),
    challenge: challengeSchema,
    keyType: z.enum(KEY_TYPES).default('ecdsa-p256'),
    /** Keep the private key across renewals (for key pinning setups); a fresh key per renewal otherwise. */
    reuseKey: z.boolean().default(false),
    /** ACME profile for this certificate (e.g. Let's Encrypt `classic`, `tlsserver`, `shortlived`); overrides acme.profile. */
    profile: z.string().min(1).optional(),
    deploy: deploySchema.optional(),
  })
  .superRefine((cert, ctx) => {
    const seen = new Set<string>();
    cert.domains.forEach((domain, index) => {
      if (seen.has(domain)) ctx.addIssue({ code: 'custom', path: ['domains', index], message: `duplicate domain '${domain}'` });
      seen.add(domain);
      if (domain.startsWith('*.') && cert.challenge.type !== 'dns-01') {
        ctx.addIssue({ code: 'custom', path: ['domains', index], message: `wildcard '${domain}' needs challenge type dns-01` });
      }
    });
  });

export const acmeSchema = z.strictObject({
  /** RFC 8555 directory URL (Let's Encrypt, its staging, ZeroSSL, a private CA). */
  directory: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of an ACME directory' }),
  email: z.email({ error: 'must be an email address' }),
  /** External Account Binding (ZeroSSL, Google, some private CAs). */
  eab: z.strictObject({ kid: z.string().min(1), hmacKey: z.string().min(1) }).optional(),
  /** PEM file of extra CA certificates trusted for the directory's TLS (a private CA). */
  caBundle: existingPath({ kind: 'file' }).optional(),
  /** Default ACME profile for every certificate. */
  profile: z.string().min(1).optional(),
  /** Bound for each HTTP request to the CA. */
  requestTimeout: duration({ min: '1s', max: '5m' }).default(10_000),
});

export const certificatesSchema = z.strictObject({
  dir: z.string().startsWith('/', { error: 'must be an absolute path' }).default('/etc/letsencrypt'),
  acme: acmeSchema,
  /** How often the local expiry check runs (no network unless a renewal is due). */
  renewCheckInterval: duration({ min: '1s', max: '1d' }).default(300_000),
  certs: namedList(certSchema).default([]),
});

export type CertificatesConfig = z.output<typeof certificatesSchema>;
export type CertConfig = z.output<typeof certSchema>;
export type AcmeConfig = z.output<typeof acmeSchema>;
export type ChallengeConfig = z.output<typeof challengeSchema>;
export type KeyType = (typeof KEY_TYPES)[number];
