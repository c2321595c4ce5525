import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConflictError, describeError, NotFoundError } from '../../agent/kit/errors.js';
import type { ModuleContext, ModuleHealth, ModuleInstance, ScheduledTask } from '../../agent/kit/module.js';
import { diffByName } from '../../agent/kit/named.js';
import { AccountStore } from './account.js';
import { AcmeError, AcmeService } from './acme.js';
import type { renewOutcome } from './answers.js';
import { ariCertId, type RenewalInfo } from './ari.js';
import { choosePlan, configMismatch, isHealthy, validityOf, type CertificateView } from './cert-state.js';
import { solverFor } from './challenges/select.js';
import type { CertConfig, CertificatesConfig } from './config.js';
import { runDeployCommand, servernameFor, verifyServed } from './deploy.js';
import { generatePrivateKey, keyTypeOfPem } from './keys.js';
import { acquireLock, LockHeldError } from './lock.js';
import { initCertMetrics, removeCertMetrics, type CertificateMetrics } from './metrics.js';
import type { RenewalPlan, RenewalWindow } from './renewal-window.js';
import { CertificateStore, type StoredCertificate } from './store.js';

export interface ManagerOptions {
  now?: () => Date;
  random?: () => number;
  /** First retry delay after a failed order; doubles per failure up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export type RenewOutcome = z.infer<typeof renewOutcome>;

/** A CA's Retry-After (rate limit) is obeyed up to this long, never longer. */
const RETRY_AFTER_CAP_MS = 24 * 3_600_000;
/** When ARI cannot be read (no renewalInfo, CA down), ask again after this long. */
const ARI_RETRY_MS = 6 * 3_600_000;

interface Entry {
  config: CertConfig;
  log: Logger;
  live?: StoredCertificate;
  plan?: { plan: RenewalPlan; window?: RenewalWindow };
  ari?: RenewalInfo;
  ariCheckAt: number;
  ariPolling?: boolean;
  view: CertificateView;
  inFlight?: { controller: AbortController; promise: Promise<RenewOutcome> };
}

/** The certificates instance: one expiry check on a timer, one order at a time per certificate. */
export class CertificateManager implements ModuleInstance<CertificatesConfig> {
  private config: CertificatesConfig;
  private store: CertificateStore;
  private acme: AcmeService;
  private readonly accounts: AccountStore;
  private readonly entries = new Map<string, Entry>();
  private task: ScheduledTask | undefined;
  private stopped = false;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(
    private readonly ctx: ModuleContext,
    config: CertificatesConfig,
    private readonly metrics: CertificateMetrics,
    options: ManagerOptions = {},
  ) {
    this.config = config;
    this.store = new CertificateStore(config.dir);
    this.accounts = new AccountStore(ctx.stateDir);
    this.acme = new AcmeService(config.acme, this.accounts);
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.retryBaseMs = options.retryBaseMs ?? 60_000;
    this.retryMaxMs = options.retryMaxMs ?? 3_600_000;
    for (const cert of config.certs) this.entries.set(cert.name, this.newEntry(cert));
  }

  async start(): Promise<void> {
    for (const entry of this.entries.values()) {
      initCertMetrics(this.metrics, entry.config.name);
      await this.loadLive(entry);
    }
    this.schedule();
  }

  async reload(next: CertificatesConfig): Promise<void> {
    const store = next.dir === this.config.dir ? this.store : new CertificateStore(next.dir);
    const acmeChanged = JSON.stringify(next.acme) !== JSON.stringify(this.config.acme);
    const acme = acmeChanged ? new AcmeService(next.acme, this.accounts) : this.acme;
    const diff = diffByName(this.config.certs, next.certs);
    // Everything that can fail (reading certificates) happens before anything changes.
    const added = await Promise.all(
      diff.added.map(async (cert) => {
        const entry = this.newEntry(cert);
        entry.live = await this.readLive(store, entry);
        return entry;
      }),
    );
    const reread = store !== this.store ? await Promise.all([...diff.unchanged, ...diff.changed.map(([, n]) => n)].map((c) => this.readLive(store, this.entries.get(c.name)!))) : undefined;

    for (const cert of diff.removed) {
      const entry = this.entries.get(cert.name)!;
      entry.inFlight?.controller.abort();
      this.entries.delete(cert.name);
      removeCertMetrics(this.metrics, cert.name);
    }
    for (const [, cert] of diff.changed) {
      const entry = this.entries.get(cert.name)!;
      entry.config = cert;
      entry.view.domains = [...cert.domains];
    }
    if (reread) [...diff.unchanged, ...diff.changed.map(([, n]) => n)].forEach((c, i) => (this.entries.get(c.name)!.live = reread[i]));
    for (const entry of added) {
      this.entries.set(entry.config.name, entry);
      initCertMetrics(this.metrics, entry.config.name);
    }
    if (acmeChanged) for (const entry of this.entries.values()) (entry.ari = undefined), (entry.ariCheckAt = 0);
    const intervalChanged = next.renewCheckInterval !== this.config.renewCheckInterval;
    this.config = next;
    this.store = store;
    this.acme = acme;
    for (const entry of this.entries.values()) this.refresh(entry);
    if (intervalChanged) {
      this.task?.cancel();
      this.schedule();
    } else void this.task?.runNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.task?.cancel();
    this.task = undefined;
    const running = [...this.entries.values()].flatMap((e) => (e.inFlight ? [e.inFlight] : []));
    for (const run of running) run.controller.abort();
    await Promise.allSettled(running.map((r) => r.promise));
  }

  health(): ModuleHealth {
    const checks = [...this.entries.values()].map(({ view }) => ({
      name: view.name,
      ok: isHealthy(view),
      critical: false,
      ...(view.lastError && view.consecutiveFailures > 0 ? { message: view.lastError } : view.state !== 'valid' ? { message: view.state } : {}),
    }));
    const expired = [...this.entries.values()].some((e) => e.view.state === 'expired');
    const bad = checks.filter((c) => !c.ok).length;
    return { status: expired ? 'failed' : bad > 0 ? 'degraded' : 'ok', ...(bad > 0 ? { message: `${bad} of ${checks.length} certificates need attention` } : {}), checks };
  }

  status(): { certificates: CertificateView[] } {
    return { certificates: this.list() };
  }

  list(): CertificateView[] {
    return [...this.entries.values()].map((e) => structuredClone(e.view));
  }

  get(name: string): CertificateView {
    return structuredClone(this.entry(name).view);
  }

  /** A forced renewal; resolves when the order is done (success or failure, as data). */
  async renew(name: string): Promise<RenewOutcome> {
    const entry = this.entry(name);
    if (entry.inFlight) throw new ConflictError(`certificate '${name}' is already being renewed`);
    return this.launch(entry, 'forced');
  }

  /** The local expiry check: no network unless a renewal is due or the CA's ARI is due for a poll. */
  async check(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.pollAri(entry)));
    const now = this.now().getTime();
    for (const entry of this.entries.values()) {
      if (entry.inFlight || this.stopped) continue;
      const reason = this.dueReason(entry, now);
      // A lock held by another process (`caretaker certs renew`, a second agent) just means: not this time.
      if (reason) void this.launch(entry, reason).catch((err: unknown) => entry.log.info({ err: describeError(err) }, 'renewal skipped'));
    }
  }

  /** Why the certificate should be ordered now, or undefined. Pure on cached state. */
  dueReason(entry: Entry, now: number): string | undefined {
    if (entry.view.retryAt && Date.parse(entry.view.retryAt) > now) return undefined;
    if (!entry.live) return 'missing';
    const mismatch = configMismatch(entry.live.cert, entry.config);
    if (mismatch) return mismatch;
    if (entry.plan && entry.plan.plan.at.getTime() <= now) return entry.plan.plan.reason;
    return undefined;
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) throw new NotFoundError('certificate', name);
    return entry;
  }

  private newEntry(config: CertConfig): Entry {
    return {
      config,
      log: this.ctx.log.child({ cert: config.name }),
      ariCheckAt: 0,
      view: { name: config.name, domains: [...config.domains], state: 'missing', consecutiveFailures: 0 },
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.task = this.ctx.schedule({ name: 'renewal-check', everyMs: this.config.renewCheckInterval, runAtStart: true }, () => this.check());
  }

  private async readLive(store: CertificateStore, entry: Entry): Promise<StoredCertificate | undefined> {
    try {
      return await store.read(entry.config.name);
    } catch (err) {
      entry.log.error({ err: describeError(err), path: store.livePath(entry.config.name) }, 'live certificate unreadable, ordering a new one');
      return undefined;
    }
  }

  private async loadLive(entry: Entry): Promise<void> {
    entry.live = await this.readLive(this.store, entry);
    this.refresh(entry);
  }

  /** Recomputes the plan, the view and the gauges from the live certificate. */
  private refresh(entry: Entry): void {
    const { view, live } = entry;
    const name = entry.config.name;
    const now = this.now();
    if (live) {
      const { notBefore, notAfter } = validityOf(live.cert);
      entry.plan = choosePlan(live.cert, entry.ari, entry.plan, now, this.random);
      Object.assign(view, { serial: live.cert.serialNumber, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), version: live.version });
      this.metrics.notAfter.set({ cert: name }, notAfter.getTime() / 1000);
      this.metrics.notBefore.set({ cert: name }, notBefore.getTime() / 1000);
      const mismatch = configMismatch(live.cert, entry.config);
      view.nextRenewalAt = mismatch ? now.toISOString() : entry.plan.plan.at.toISOString();
      view.renewalReason = mismatch ?? entry.plan.plan.reason;
      if (!entry.inFlight && view.consecutiveFailures === 0) view.state = notAfter.getTime() <= now.getTime() ? 'expired' : 'valid';
    } else {
      entry.plan = undefined;
      view.nextRenewalAt = now.toISOString();
      view.renewalReason = 'missing';
    }
    if (entry.ari) {
      view.ari = {
        windowStart: entry.ari.window.start.toISOString(),
        windowEnd: entry.ari.window.end.toISOString(),
        nextPollAt: entry.ari.nextPollAt.toISOString(),
        ...(entry.ari.explanationUrl ? { explanationUrl: entry.ari.explanationUrl } : {}),
      };
    } else delete view.ari;
    const next = Math.max(Date.parse(view.nextRenewalAt), view.retryAt ? Date.parse(view.retryAt) : 0);
    this.metrics.nextRenewal.set({ cert: name }, next / 1000);
  }

  private async pollAri(entry: Entry): Promise<void> {
    const now = this.now();
    // While orders fail (CA down) the last window stands; polling would only repeat the failure.
    const backingOff = entry.view.retryAt !== undefined && Date.parse(entry.view.retryAt) > now.getTime();
    if (!entry.live || entry.inFlight || entry.ariPolling || backingOff || now.getTime() < entry.ariCheckAt) return;
    entry.ariPolling = true;
    try {
      entry.ari = await this.acme.renewalInfo(entry.live.cert, this.ctx.signal, now);
      entry.ariCheckAt = entry.ari ? entry.ari.nextPollAt.getTime() : now.getTime() + ARI_RETRY_MS;
      if (entry.ari) entry.log.debug({ window: entry.ari.window }, 'renewal information read');
    } catch (err) {
      // ARI only refines the plan; without it the lifetime rule (or the last window) still applies.
      entry.ariCheckAt = now.getTime() + ARI_RETRY_MS / 6;
      entry.log.warn({ err: describeError(err) }, 'renewal information unavailable');
    } finally {
      entry.ariPolling = false;
    }
    this.refresh(entry);
  }

  private launch(entry: Entry, reason: string): Promise<RenewOutcome> {
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.ctx.signal.addEventListener('abort', onStop, { once: true });
    const promise = this.renewOnce(entry, reason, controller.signal).finally(() => {
      this.ctx.signal.removeEventListener('abort', onStop);
      entry.inFlight = undefined;
      this.refresh(entry);
    });
    entry.inFlight = { controller, promise };
    return promise;
  }

  private async renewOnce(entry: Entry, reason: string, signal: AbortSignal): Promise<RenewOutcome> {
    const { config, log, view } = entry;
    let lock;
    try {
      lock = await acquireLock(join(this.ctx.stateDir, 'locks'), config.name);
    } catch (err) {
      if (err instanceof LockHeldError) throw new ConflictError(err.message, { cause: err });
      throw err;
    }
    const previousState = view.state;
    view.state = 'renewing';
    log.info({ reason, domains: config.domains }, 'renewing certificate');
    try {
      const live = await this.readLive(this.store, entry);
      const keyPem =
        config.reuseKey && live && keyTypeOfPem(live.keyPem) === config.keyType ? live.keyPem : await generatePrivateKey(config.keyType);
      const replaces = live ? ariCertId(live.cert) : undefined;
      const profile = config.profile ?? this.config.acme.profile;
      const chain = await this.acme.issue({
        domains: config.domains,
        keyPem,
        ...(profile ? { profile } : {}),
        ...(replaces ? { replaces } : {}),
        solver: solverFor(config.challenge),
        signal,
        log,
      });
      if (signal.aborted) throw new AcmeError('cancelled');
      const version = await this.store.write(config.name, { keyPem, fullchainPem: chain });
      entry.live = await this.store.read(config.name);
      entry.ari = undefined;
      entry.ariCheckAt = 0;
      entry.plan = undefined;
      Object.assign(view, { state: 'valid', consecutiveFailures: 0, lastRenewalAt: this.now().toISOString() });
      delete view.retryAt;
      this.metrics.renewals.inc({ cert: config.name, result: 'success' });
      log.info({ serial: entry.live?.cert.serialNumber, notAfter: entry.live?.cert.validTo, version }, 'certificate renewed');
      this.refresh(entry);
      if (config.deploy && entry.live) await this.deploy(entry, entry.live.cert, signal);
      return { result: 'success', certificate: structuredClone(view) };
    } catch (err) {
      if (signal.aborted) {
        view.state = previousState;
        log.info(this.ctx.signal.aborted ? 'renewal aborted: stopping' : 'renewal cancelled');
        return { result: 'failure', certificate: structuredClone(view) };
      }
      this.recordFailure(entry, err);
      this.refresh(entry);
      return { result: 'failure', certificate: structuredClone(view) };
    } finally {
      await lock.release();
    }
  }

  private recordFailure(entry: Entry, err: unknown): void {
    const { view, log, config } = entry;
    const now = this.now();
    view.consecutiveFailures += 1;
    view.state = 'failed';
    // An AcmeError's message already names the step and the root cause; its causes would repeat it.
    view.lastError = err instanceof AcmeError ? err.message : describeError(err);
    view.lastErrorAt = now.toISOString();
    const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (view.consecutiveFailures - 1));
    const jittered = backoff * (0.5 + this.random() / 2);
    const hinted = err instanceof AcmeError && err.details.retryAfterMs ? Math.min(RETRY_AFTER_CAP_MS, err.details.retryAfterMs) : 0;
    view.retryAt = new Date(now.getTime() + Math.max(jittered, hinted)).toISOString();
    this.metrics.renewals.inc({ cert: config.name, result: 'failure' });
    this.metrics.lastError.set({ cert: config.name }, now.getTime() / 1000);
    const fields = { err: view.lastError, failures: view.consecutiveFailures, retryAt: view.retryAt };
    if (view.consecutiveFailures === 1) log.error(fields, 'certificate renewal failed');
    else log.warn(fields, 'certificate renewal failed again');
  }

  private async deploy(entry: Entry, cert: X509Certificate, signal: AbortSignal): Promise<void> {
    const deploy = entry.config.deploy!;
    const at = this.now().toISOString();
    try {
      await runDeployCommand(deploy.command, deploy.timeout, signal);
      if (deploy.verify) await verifyServed(deploy.verify, servernameFor(entry.config.domains), cert.serialNumber, signal);
      entry.view.deploy = { ok: true, at };
      entry.log.info({ verified: deploy.verify ?? false }, 'certificate deployed');
    } catch (err) {
      const message = describeError(err);
      entry.view.deploy = { ok: false, at, message };
      entry.view.lastError = `deploy: ${message}`;
      entry.view.lastErrorAt = at;
      this.metrics.lastError.set({ cert: entry.config.name }, Date.parse(at) / 1000);
      entry.log.error({ err: message }, 'certificate deploy failed');
    }
  }
}
