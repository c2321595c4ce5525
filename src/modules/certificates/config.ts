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
  type: z.literal('http-01').meta({ description: 'http-01: the CA fetches a token over HTTP on port 80' }),
  webroot: z
    .string()
    .startsWith('/', { error: 'must be an absolute path' })
    .meta({ description: 'directory the web server serves at /; tokens are written under .well-known/acme-challenge/ and removed afterwards' }),
});

export const standaloneChallengeSchema = z.strictObject({
  type: z.literal('http-01').meta({ description: 'http-01: the CA fetches a token over HTTP on port 80' }),
  standalone: z
    .strictObject({
      address: z.string().default('0.0.0.0').meta({ description: 'address the temporary listener binds' }),
      port: z.number().int().min(1).max(65535).default(80).meta({ description: 'port the temporary listener binds (the CA always asks port 80: forward it when this differs)' }),
    })
    .meta({ description: "caretaker's own HTTP listener answers the challenge, open only while an order is pending" }),
});

export const dnsHookChallengeSchema = z.strictObject({
  type: z.literal('dns-01').meta({ description: 'dns-01: the CA looks up a TXT record; needed for wildcards' }),
  hook: existingPath({ kind: 'file', executable: true }).meta({
    description: 'executable run as `<hook> set|clear _acme-challenge.<domain> <value>`; it exits 0 once the TXT record is visible',
  }),
  timeout: duration({ min: '1s', max: '30m' }).default(120_000).meta({ description: 'how long each hook call may take (default 2m)' }),
});

export const challengeSchema = z.union([webrootChallengeSchema, standaloneChallengeSchema, dnsHookChallengeSchema], {
  error: "expected { type: http-01, webroot: /path } or { type: http-01, standalone: { port } } or { type: dns-01, hook: /path }",
});

export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;

const deploySchema = z.strictObject({
  command: shellCommand().meta({ description: 'run by /bin/sh after a new certificate is live, e.g. `nginx -t && nginx -s reload` or `systemctl reload nginx`' }),
  timeout: duration({ min: '1s', max: '1h' }).default(60_000).meta({ description: 'the command is killed and the deploy counted as failed after this (default 60s)' }),
  verify: hostPort.optional().meta({ description: 'host:port that must serve the new certificate after the command (checked over TLS)' }),
});

export const certSchema = z
  .strictObject({
    name: itemName().meta({ description: 'names the certificate in routes and metrics, and its directory <dir>/live/<name>/' }),
    domains: z
      .array(domainName)
      .min(1, { error: 'list at least one domain' })
      .max(100)
      .meta({ description: 'names the certificate covers (its subject alternative names); `*.` wildcards need dns-01' }),
    challenge: challengeSchema.meta({ description: 'how the CA checks control of each domain: http-01 webroot, http-01 standalone or dns-01 hook' }),
    keyType: z.enum(KEY_TYPES).default('ecdsa-p256').meta({ description: 'private key algorithm and size' }),
    reuseKey: z.boolean().default(false).meta({ description: 'keep the private key across renewals (for key pinning setups); a fresh key per renewal otherwise' }),
    profile: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "ACME profile for this certificate (e.g. Let's Encrypt classic, tlsserver, shortlived); overrides acme.profile" }),
    deploy: deploySchema.optional().meta({ description: 'what to run once a new certificate is live' }),
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
  directory: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL of an ACME directory' })
    .meta({ description: "RFC 8555 directory URL (Let's Encrypt, its staging, ZeroSSL, a private CA)" }),
  email: z.email({ error: 'must be an email address' }).meta({ description: "contact address of the ACME account (the CA's expiry and policy notices)" }),
  eab: z
    .strictObject({
      kid: z.string().min(1).meta({ description: 'key identifier the CA issued for External Account Binding' }),
      hmacKey: z.string().min(1).meta({ description: 'base64url HMAC key the CA issued with the kid (a secret: use ${credential:NAME})' }),
    })
    .optional()
    .meta({ description: 'External Account Binding (ZeroSSL, Google, some private CAs)' }),
  caBundle: existingPath({ kind: 'file' }).optional().meta({ description: "PEM file of extra CA certificates trusted for the directory's own TLS (a private CA)" }),
  profile: z.string().min(1).optional().meta({ description: "default ACME profile for every certificate, checked against the directory's meta.profiles" }),
  requestTimeout: duration({ min: '1s', max: '5m' }).default(10_000).meta({ description: 'bound for each HTTP request to the CA (default 10s)' }),
});

export const configSchema = z
  .strictObject({
    dir: z
      .string()
      .startsWith('/', { error: 'must be an absolute path' })
      .default('/etc/letsencrypt')
      .meta({ description: "certbot's layout: each certificate in <dir>/live/<name>/ (a symlink into <dir>/archive/<name>/)" }),
    acme: acmeSchema.meta({ description: 'the ACME CA and the account used with it' }),
    renewCheckInterval: duration({ min: '1s', max: '1d' })
      .default(300_000)
      .meta({ description: 'how often the local expiry check runs (no network unless a renewal is due; default 5m)' }),
    certs: namedList(certSchema).default([]).meta({ description: 'the certificates to keep issued, each with its domains, challenge and deploy' }),
  })
  .meta({ description: 'ACME certificates, renewed and deployed in place of certbot.' });

export type CertificatesConfig = z.output<typeof configSchema>;
export type CertConfig = z.output<typeof certSchema>;
export type AcmeConfig = z.output<typeof acmeSchema>;
export type ChallengeConfig = z.output<typeof challengeSchema>;
export type KeyType = (typeof KEY_TYPES)[number];
