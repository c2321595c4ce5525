import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authorization, Client, Order } from 'acme-client';
import type { Logger } from 'pino';
import type { AccountStore } from './account.js';
import { httpRequest, TransportError, type HttpResponse, type TransportOptions } from './acme-http.js';
import { ariCertId, parseRenewalInfo, renewalInfoUrl, retryAfterMs, type RenewalInfo } from './ari.js';
import type { ChallengeSolver, ChallengeTask } from './kinds/kind.js';
import type { AcmeConfig } from './config.js';

const PROBLEM_PREFIX = 'urn:ietf:params:acme:error:';
const USER_AGENT = 'caretaker-certificates (acme-client)';
const DIRECTORY_MAX_AGE_MS = 3_600_000;
/** How long the CA may take to validate all challenges, or to issue after finalize. */
const POLL_LIMIT_MS = 120_000;
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 5_000;
/** A Retry-After on a 429/503 longer than this ends the attempt; the manager's backoff takes over. */
const INLINE_RETRY_AFTER_MAX_MS = 5_000;
/**
 * acme-client retries badNonce 5 times by default; CAs may reject many nonces in a row. Each retry is one
 * immediate request with the fresh nonce the rejection carried, so a large budget costs nothing when nonces are
 * good. With half of all nonces rejected (pebble's NONCEREJECT=50) an issuance makes ~15 signed requests, and
 * 12 retries still lost one in ~550 issuances (2^-13 a request); 24 make that one in ~10^6.
 */
const BAD_NONCE_RETRIES = 24;

export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  renewalInfo?: string;
  meta?: { profiles?: Record<string, string>; termsOfService?: string };
}

interface AcmeProblem {
  type: string;
  detail: string;
  status: number;
}

/** A failed ACME step, with the root cause: a transport code (ECONNREFUSED, TIMEOUT…) or an ACME problem type. */
export class AcmeError extends Error {
  readonly code = 'ACME_ERROR';
  constructor(
    message: string,
    readonly details: { problemType?: string; transportCode?: string; retryAfterMs?: number } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AcmeError';
  }
}

export interface IssueRequest {
  domains: string[];
  keyPem: string;
  profile?: string;
  /** The ARI cert ID of the certificate this one replaces (RFC 9773 §5). */
  replaces?: string;
  solver: ChallengeSolver;
  signal: AbortSignal;
  log: Logger;
}

/** The parts of acme-client's Client this module reaches into: the transport and the badNonce budget. */
interface ClientInternals {
  http: {
    request(url: string, method: string, opts?: { data?: unknown; headers?: Record<string, string> }): Promise<HttpResponse>;
    maxBadNonceRetries: number;
  };
}

/** acme-client (and the crypto it pulls in) is loaded by the first order, not by every agent at start. */
const loadAcmeClient = async () => (await import('acme-client')).default;

type OrderCreateRequest = Parameters<Client['createOrder']>[0] & { profile?: string; replaces?: string };

/** Talks to one ACME directory: account, orders, renewal information. */
export class AcmeService {
  private ca: string | undefined;
  private caLoaded = false;
  private cachedDirectory: { value: AcmeDirectory; at: number } | undefined;

  constructor(
    readonly config: AcmeConfig,
    private readonly accounts: AccountStore,
  ) {}

  async transportOptions(signal: AbortSignal): Promise<TransportOptions> {
    if (!this.caLoaded && this.config.caBundle) {
      try {
        this.ca = await readFile(this.config.caBundle, 'utf8');
      } catch (err) {
        throw new AcmeError(`reading acme.caBundle ${this.config.caBundle}: ${(err as Error).message}`, {}, { cause: err });
      }
    }
    this.caLoaded = true;
    return { timeoutMs: this.config.requestTimeout, signal, userAgent: USER_AGENT, ...(this.ca ? { ca: this.ca } : {}) };
  }

  async directory(signal: AbortSignal): Promise<AcmeDirectory> {
    if (this.cachedDirectory && Date.now() - this.cachedDirectory.at < DIRECTORY_MAX_AGE_MS) return this.cachedDirectory.value;
    const resp = await wrapTransport('reading the ACME directory', () =>
      this.transportOptions(signal).then((o) => httpRequest(this.config.directory, 'get', undefined, {}, o)),
    );
    const dir = resp.data as Partial<AcmeDirectory> | string;
    if (resp.status !== 200 || typeof dir !== 'object' || !dir.newOrder || !dir.newAccount || !dir.newNonce) {
      throw new AcmeError(`reading the ACME directory ${this.config.directory}: HTTP ${resp.status}, not an ACME directory`);
    }
    this.cachedDirectory = { value: dir as AcmeDirectory, at: Date.now() };
    return this.cachedDirectory.value;
  }

  /** The CA's renewal window for a certificate, or undefined when it offers no ARI or does not know the certificate. */
  async renewalInfo(cert: X509Certificate, signal: AbortSignal, now = new Date()): Promise<RenewalInfo | undefined> {
    const dir = await this.directory(signal);
    const certId = ariCertId(cert);
    if (!dir.renewalInfo || !certId) return undefined;
    const url = renewalInfoUrl(dir.renewalInfo, certId);
    const resp = await wrapTransport('reading renewal information', () => this.transportOptions(signal).then((o) => httpRequest(url, 'get', undefined, {}, o)));
    if (resp.status === 404) return undefined;
    if (resp.status !== 200) throw new AcmeError(`reading renewal information: HTTP ${resp.status} from ${url}`, problemDetails(resp));
    try {
      return parseRenewalInfo(resp.data, resp.headers['retry-after'], now);
    } catch (err) {
      throw new AcmeError(`reading renewal information from ${url}: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  /** Runs one order to the end and returns the PEM chain (leaf first). */
  async issue(request: IssueRequest): Promise<string> {
    const dir = await this.directory(request.signal);
    const profile = request.profile;
    const offered = dir.meta?.profiles;
    if (profile && offered && !(profile in offered)) {
      throw new AcmeError(`profile '${profile}' is not offered by ${this.config.directory} (offers: ${Object.keys(offered).join(', ') || 'none'})`, {
        problemType: `${PROBLEM_PREFIX}invalidProfile`,
      });
    }
    const session = new OrderSession(this, await this.accountKey(), request.signal);
    await session.useAccount(await this.accounts.url(this.config.directory));
    const replaces = dir.renewalInfo ? request.replaces : undefined;
    const order = await this.createOrder(session, { identifiers: request.domains.map((value) => ({ type: 'dns', value })), ...(profile ? { profile } : {}) }, replaces, request.log);
    await this.authorize(session, order, request);
    const [, csr] = await (await loadAcmeClient()).crypto.createCsr({ altNames: [...request.domains] }, request.keyPem);
    const finalized = await session.step('finalizing the order', (c) => c.finalizeOrder(order, csr));
    const valid = await session.poll('waiting for the certificate', async (c) => {
      const current = finalized.status === 'valid' ? finalized : await c.getOrder(finalized);
      if (current.status === 'invalid') throw session.problemError('the order became invalid', current.error);
      return current.status === 'valid' ? current : undefined;
    });
    return session.step('downloading the certificate', (c) => c.getCertificate(valid));
  }

  /** The account URL at this directory, registering the account key first when it has none (a cluster shares the result). */
  async ensureAccount(signal: AbortSignal): Promise<string> {
    const known = await this.accounts.url(this.config.directory);
    if (known) return known;
    const session = new OrderSession(this, await this.accountKey(), signal);
    await this.register(session);
    return session.accountUrl();
  }

  private async accountKey(): Promise<string> {
    try {
      return await this.accounts.key();
    } catch (err) {
      throw new AcmeError(`ACME account key: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  private async register(session: OrderSession): Promise<void> {
    const contact = [`mailto:${this.config.email}`];
    const eab = this.config.eab !== undefined;
    await session.useAccount(undefined);
    // CAs word EAB failures their own way (often without saying "EAB"), so the step says it.
    const what = eab ? 'registering the ACME account with External Account Binding (acme.eab)' : 'registering the ACME account';
    try {
      await session.step(what, (c) => c.createAccount({ termsOfServiceAgreed: true, contact }));
    } catch (err) {
      if (!eab && err instanceof AcmeError && err.details.problemType === `${PROBLEM_PREFIX}externalAccountRequired`) {
        throw new AcmeError(`${err.message}; the CA requires External Account Binding: set acme.eab { kid, hmacKey }`, err.details, { cause: err });
      }
      throw err;
    }
    await this.accounts.setUrl(this.config.directory, session.accountUrl());
  }

  private async createOrder(session: OrderSession, data: OrderCreateRequest, replaces: string | undefined, log: Logger): Promise<Order> {
    if (!session.hasAccount()) await this.register(session);
    const attempt = (withReplaces: boolean) =>
      session.step('creating the order', (c) => c.createOrder(withReplaces && replaces ? { ...data, replaces } : data));
    try {
      return await attempt(true);
    } catch (err) {
      if (!(err instanceof AcmeError)) throw err;
      if (err.details.problemType === `${PROBLEM_PREFIX}accountDoesNotExist`) {
        log.info({ directory: this.config.directory }, 'acme account unknown to the CA, registering again');
        await this.register(session);
        return attempt(true);
      }
      // A CA may refuse `replaces` (already replaced, or not its certificate): order without it.
      if (replaces && err.details.problemType && !err.details.retryAfterMs) {
        log.warn({ problem: err.details.problemType }, 'order with replaces refused, ordering without it');
        return attempt(false);
      }
      throw err;
    }
  }

  private async authorize(session: OrderSession, order: Order, request: IssueRequest): Promise<void> {
    const authorizations = await session.step('reading authorizations', (c) => c.getAuthorizations(order));
    const pending = authorizations.filter((a) => a.status !== 'valid');
    if (pending.length === 0) return;
    const { solver, signal } = request;
    const work: Array<{ authz: Authorization; challengeUrl: string; task: ChallengeTask }> = [];
    for (const authz of pending) {
      const challenge = authz.challenges.find((c) => c.type === solver.type);
      if (!challenge) {
        throw new AcmeError(`the CA offers no ${solver.type} challenge for ${authz.identifier.value} (offers: ${authz.challenges.map((c) => c.type).join(', ')})`);
      }
      const keyAuthorization = await session.client.getChallengeKeyAuthorization(challenge);
      work.push({ authz, challengeUrl: challenge.url, task: { domain: authz.identifier.value, wildcard: authz.wildcard === true, token: challenge.token, keyAuthorization } });
    }
    const presented: ChallengeTask[] = [];
    try {
      await solver.open(signal);
      for (const { task } of work) {
        await solver.present(task, signal);
        presented.push(task);
      }
      for (const { authz, challengeUrl } of work) {
        const challenge = authz.challenges.find((c) => c.url === challengeUrl)!;
        await session.step(`answering the ${solver.type} challenge for ${authz.identifier.value}`, (c) => c.completeChallenge(challenge));
      }
      await Promise.all(
        work.map(({ authz }) =>
          session.poll(`validating ${authz.identifier.value}`, async (c) => {
            const [current] = await c.getAuthorizations({ authorizations: [authz.url] } as Order);
            if (!current || current.status === 'pending') return undefined;
            if (current.status === 'valid') return current;
            const failed = current.challenges.find((ch) => ch.type === solver.type && ch.status === 'invalid');
            throw session.problemError(`${solver.type} validation of ${authz.identifier.value} failed`, failed?.error);
          }),
        ),
      );
    } finally {
      for (const task of presented) {
        await solver.remove(task).catch((err: unknown) => request.log.warn({ domain: task.domain, err: (err as Error).message }, 'challenge cleanup failed'));
      }
      await solver.close();
    }
  }
}

/** One order's acme-client Client, on our transport, remembering the last problem document for error messages. */
class OrderSession {
  client!: Client;
  private lastProblem: AcmeProblem | undefined;
  private lastRetryAfter: string | undefined;

  constructor(
    private readonly service: AcmeService,
    private readonly accountKey: string,
    private readonly signal: AbortSignal,
  ) {}

  async useAccount(accountUrl: string | undefined): Promise<void> {
    const transport = await this.service.transportOptions(this.signal);
    const { directory, eab } = this.service.config;
    const acme = await loadAcmeClient();
    this.client = new acme.Client({ directoryUrl: directory, accountKey: this.accountKey, ...(accountUrl ? { accountUrl } : {}), ...(eab ? { externalAccountBinding: eab } : {}) });
    const internals = this.client as unknown as ClientInternals;
    internals.http.maxBadNonceRetries = BAD_NONCE_RETRIES;
    internals.http.request = (url, method, opts = {}) => this.request(url, method, opts, transport);
  }

  hasAccount(): boolean {
    try {
      this.client.getAccountUrl();
      return true;
    } catch {
      return false;
    }
  }

  accountUrl(): string {
    return this.client.getAccountUrl();
  }

  private async request(url: string, method: string, opts: { data?: unknown; headers?: Record<string, string> }, transport: TransportOptions): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const resp = await httpRequest(url, method, opts.data, opts.headers ?? {}, transport);
      this.lastRetryAfter = resp.headers['retry-after'];
      const wait = retryAfterMs(this.lastRetryAfter, new Date(), { min: 1000, max: Number.MAX_SAFE_INTEGER, fallback: 1000 });
      // A short 503 (CA busy) is worth one wait on an unsigned request; anything longer ends the attempt.
      if (resp.status === 503 && method.toLowerCase() !== 'post' && attempt === 0 && wait <= INLINE_RETRY_AFTER_MAX_MS) {
        await sleep(wait, undefined, { signal: this.signal }).catch(() => undefined);
        continue;
      }
      const data = resp.data as Partial<AcmeProblem> | undefined;
      if (resp.status >= 400 && data && typeof data === 'object' && typeof data.type === 'string') {
        this.lastProblem = { type: data.type, detail: String(data.detail ?? ''), status: resp.status };
      } else if (resp.status < 400) this.lastProblem = undefined;
      return resp;
    }
  }

  /** Runs one acme-client call; any failure becomes an AcmeError naming the step and the root cause. */
  async step<T>(what: string, call: (client: Client) => Promise<T>): Promise<T> {
    this.lastProblem = undefined;
    try {
      return await call(this.client);
    } catch (err) {
      throw this.toAcmeError(what, err);
    }
  }

  /** Polls until `check` returns a value, honouring Retry-After within bounds; transport errors end it at once. */
  async poll<T>(what: string, check: (client: Client) => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + POLL_LIMIT_MS;
    let delay = POLL_MIN_MS;
    for (;;) {
      const result = await this.step(what, check);
      if (result !== undefined) return result;
      if (Date.now() > deadline) throw new AcmeError(`${what}: still pending after ${POLL_LIMIT_MS / 1000} s`, { transportCode: 'TIMEOUT' });
      const hinted = this.lastRetryAfter ? retryAfterMs(this.lastRetryAfter, new Date(), { min: POLL_MIN_MS, max: POLL_MAX_MS, fallback: delay }) : delay;
      try {
        await sleep(hinted, undefined, { signal: this.signal });
      } catch {
        throw new AcmeError(`${what}: cancelled`, { transportCode: 'ABORTED' });
      }
      delay = Math.min(POLL_MAX_MS, delay * 2);
    }
  }

  problemError(what: string, problem: unknown): AcmeError {
    const p = problem as Partial<AcmeProblem> | undefined;
    const type = typeof p?.type === 'string' ? p.type : undefined;
    const detail = typeof p?.detail === 'string' && p.detail !== '' ? `: ${p.detail}` : '';
    return new AcmeError(`${what}${detail}${type ? ` (${shortType(type)})` : ''}`, type ? { problemType: type } : {});
  }

  private toAcmeError(what: string, err: unknown): AcmeError {
    if (err instanceof AcmeError) return err.message.startsWith(what) ? err : new AcmeError(`${what}: ${err.message}`, err.details, { cause: err });
    if (err instanceof TransportError) return new AcmeError(`${what}: ${err.message}`, { transportCode: err.code }, { cause: err });
    const problem = this.lastProblem;
    if (problem) {
      const retry = problem.status === 429 || problem.type === `${PROBLEM_PREFIX}rateLimited`;
      const details = {
        problemType: problem.type,
        ...(retry ? { retryAfterMs: retryAfterMs(this.lastRetryAfter, new Date(), { min: 1000, max: Number.MAX_SAFE_INTEGER, fallback: 60_000 }) } : {}),
      };
      return new AcmeError(`${what}: ${problem.detail || `HTTP ${problem.status}`} (${shortType(problem.type)})`, details, { cause: err });
    }
    return new AcmeError(`${what}: ${(err as Error)?.message ?? String(err)}`, {}, { cause: err });
  }
}

function shortType(type: string): string {
  return type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : type;
}

function problemDetails(resp: HttpResponse): { problemType?: string } {
  const data = resp.data as { type?: unknown } | undefined;
  return data && typeof data === 'object' && typeof data.type === 'string' ? { problemType: data.type } : {};
}

async function wrapTransport<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof AcmeError) throw err;
    if (err instanceof TransportError) throw new AcmeError(`${what}: ${err.message}`, { transportCode: err.code }, { cause: err });
    throw new AcmeError(`${what}: ${(err as Error).message}`, {}, { cause: err });
  }
}
