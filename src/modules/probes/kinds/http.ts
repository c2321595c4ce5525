import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { redactUrl } from '../../../agent/kit/redact-url.js';
import { tlsClient, tlsConnectOptions } from '../../../agent/kit/tls.js';
import { failure } from '../classify.js';
import { commonProbeFields, validUrl, type CheckOutcome, type Checker } from './kind.js';
import { certNotAfterSeconds } from '../tls-options.js';

/** Bytes of the answer kept for `bodyMatch`; the rest is read and dropped so the connection can be reused. */
const BODY_KEEP_BYTES = 64 * 1024;

const statusCode = z.number().int().min(100).max(599);

export const httpProbeConfig = z
  .strictObject({
    ...commonProbeFields,
    type: z.literal('http').meta({ description: 'http: one request, its status and optionally its body checked' }),
    url: validUrl(['http', 'https']).meta({ description: 'http:// or https:// URL requested' }),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).default('GET').meta({ description: 'HTTP method of the request' }),
    expectStatus: z.union([statusCode, z.array(statusCode).min(1)]).optional().meta({ description: 'accepted status code or list of codes; any 2xx when left out (redirects are not followed)' }),
    bodyMatch: z
      .string()
      .min(1)
      .refine(
        (pattern) => {
          try {
            new RegExp(pattern);
            return true;
          } catch {
            return false;
          }
        },
        { error: 'not a valid regular expression' },
      )
      .optional()
      .meta({ description: 'a regular expression the first 64 KiB of the body must match' }),
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'not a valid header name' }), z.string()).default({}).meta({ description: 'request headers, name: value' }),
    body: z.string().optional().meta({ description: 'request body, for POST, PUT and OPTIONS' }),
    tls: tlsClient().default({ verify: true }).meta({ description: 'for https: verification, custom CA, server name' }),
  })
  .superRefine((probe, ctx) => {
    if (probe.body !== undefined && (probe.method === 'GET' || probe.method === 'HEAD')) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${probe.method} request carries no body` });
    }
    if (probe.bodyMatch !== undefined && probe.method === 'HEAD') {
      ctx.addIssue({ code: 'custom', path: ['bodyMatch'], message: 'a HEAD answer has no body to match' });
    }
  });
export type HttpProbeConfig = z.output<typeof httpProbeConfig>;

export function httpTarget(config: HttpProbeConfig): string {
  return `${config.method} ${redactUrl(config.url)}`;
}

function statusAccepted(config: HttpProbeConfig, status: number): boolean {
  if (config.expectStatus === undefined) return status >= 200 && status < 300;
  return Array.isArray(config.expectStatus) ? config.expectStatus.includes(status) : config.expectStatus === status;
}

interface Answer {
  status: number;
  body: string;
  notAfter: number | undefined;
}

/** One request on a keep-alive agent (a single socket), so checks reuse the connection like a real client. */
export function createHttpChecker(config: HttpProbeConfig): Checker {
  const url = new URL(config.url);
  const secure = url.protocol === 'https:';
  const bodyMatch = config.bodyMatch === undefined ? undefined : new RegExp(config.bodyMatch);
  let agent: http.Agent | undefined;

  const request = async (signal: AbortSignal): Promise<{ answer: Answer } | { error: unknown; reused: boolean }> => {
    agent ??= secure
      ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(await tlsConnectOptions(config.tls, url.hostname)) })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = secure ? https.request : http.request;
    return new Promise((resolve) => {
      const req = send(url, { method: config.method, headers: config.headers, agent, signal }, (res) => {
        const socket = res.socket as TLSSocket | null;
        const notAfter = secure && socket ? certNotAfterSeconds(socket.getPeerCertificate()) : undefined;
        const kept: Buffer[] = [];
        let keptBytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (keptBytes >= BODY_KEEP_BYTES) return;
          kept.push(chunk);
          keptBytes += chunk.length;
        });
        res.once('end', () => {
          const body = Buffer.concat(kept).subarray(0, BODY_KEEP_BYTES).toString('utf8');
          resolve({ answer: { status: res.statusCode ?? 0, body, notAfter } });
        });
        res.once('error', (error) => resolve({ error, reused: req.reusedSocket }));
      });
      req.once('error', (error) => resolve({ error, reused: req.reusedSocket }));
      req.end(config.body);
    });
  };

  return {
    async check(signal) {
      let result = await request(signal);
      // A kept socket the server closed meanwhile fails on first use; that says nothing about the server now.
      if ('error' in result && result.reused && !signal.aborted) result = await request(signal);
      if ('error' in result) return failure(result.error, undefined, 'status');
      const { status, body, notAfter } = result.answer;
      const series: CheckOutcome['series'] = { caretaker_probe_http_status_code: status };
      if (notAfter !== undefined) series.caretaker_probe_http_cert_not_after_timestamp_seconds = notAfter;
      const details = { status, ...(notAfter === undefined ? {} : { certNotAfter: new Date(notAfter * 1000).toISOString() }) };
      if (!statusAccepted(config, status)) {
        return { ok: false, reason: 'status', message: `unexpected status ${status}`, series, details };
      }
      if (bodyMatch && !bodyMatch.test(body)) {
        return { ok: false, reason: 'status', message: `status ${status} but the body does not match /${config.bodyMatch}/`, series, details };
      }
      return { ok: true, reason: 'ok', message: `status ${status}`, series, details };
    },
    async close() {
      agent?.destroy();
      agent = undefined;
    },
  };
}
