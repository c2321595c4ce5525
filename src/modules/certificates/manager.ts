import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Lease } from '../../agent/kit/cluster.js';
import { ConflictError, describeError } from '../../agent/kit/errors.js';
import { ItemSet, type ItemEntry } from '../../agent/kit/item-set.js';
import type { ModuleContext, ModuleHealth, ModuleInstance, ScheduledTask } from '../../agent/kit/module.js';
import { diffByName } from '../../agent/kit/named.js';
import { AccountStore } from './account.js';
import { AcmeError, AcmeService } from './acme.js';
import type { renewOutcome } from './answers.js';
import { ariCertId, type RenewalInfo } from './ari.js';
import { deployKey, expiryKey, expiryLevel, expiryReport, renewalKey } from './cert-conditions.js';
import { choosePlan, configMismatch, isHealthy, validityOf, type CertificateView } from './cert-state.js';
import { solverFor } from './kinds/table.js';
import { certbotConflicts } from './adopt/conflicts.js';
import { useSharedAccount } from './cluster/account.js';
import { CLUSTER_SYNC_MS, Fleet } from './cluster/fleet.js';
import { PublishingSolver } from './cluster/http01.js';
import { certLease, type SharedAri, type SharedCertificate, type SharedCertificates } from './cluster/shared.js';
import type { CertConfig, CertificatesConfig } from './config.js';
import { runDeployCommand, servernameFor, verifyServed } from './deploy.js';
import { generatePrivateKey, keyTypeOfPem } from './keys.js';
import { acquireLock, LockHeldError } from './lock.js';
import { itemLabelSets, type CertificatesMetrics } from './metrics.js';
import type { RenewalPlan, RenewalWindow } from './renewal-window.js';
import { CertificateStore, type StoredCertificate } from './store.js';

export interface ManagerOptions {
  now?: () => Date;
  random?: () => number;
  /** First retry delay after a failed order; doubles per failure up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** What runs certbot on this host (the conflict check); the Debian paths by default. */
  certbotSchedules?: readonly string[];
}

export type RenewOutcome = z.infer<typeof renewOutcome>;

/** A CA's Retry-After (rate limit) is obeyed up to this long, never longer. */
const RETRY_AFTER_CAP_MS = 24 * 3_600_000;
/** When ARI cannot be read (no renewalInfo, CA down), ask again after this long. */
const ARI_RETRY_MS = 6 * 3_600_000;

/** What the manager keeps of one certificate; the item set holds its config, logger and order in flight. */
interface CertState {
  live?: StoredCertificate;
  plan?: { plan: RenewalPlan; window?: RenewalWindow };
  ari?: RenewalInfo;
  ariCheckAt: number;
  ariPolling?: boolean;
  view: CertificateView;
}

type Entry = ItemEntry<CertConfig, CertState>;

/** The certificates instance: one expiry check on a timer, one order at a time per certificate. */
export class CertificateManager implements ModuleInstance<CertificatesConfig> {
  private config: CertificatesConfig;
  private store: CertificateStore;
  private acme: AcmeService;
  private readonly accounts: AccountStore;
  private readonly entries: ItemSet<CertConfig, CertState>;
  private task: ScheduledTask | undefined;
  private stopped = false;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly certbotSchedules: readonly string[] | undefined;
  private readonly fleet: Fleet;
  private scheduledEveryMs = 0;

  constructor(
    private readonly ctx: ModuleContext,
    config: CertificatesConfig,
    private readonly metrics: CertificatesMetrics,
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
    this.certbotSchedules = options.certbotSchedules;
    this.entries = new ItemSet<CertConfig, CertState>({
      ctx,
      noun: 'certificate',
      logKey: 'cert',
      runName: 'renewal',
      now: this.now,
      create: (cert) => ({ ariCheckAt: 0, view: { name: cert.name, domains: [...cert.domains], state: 'missing', consecutiveFailures: 0 } }),
      update: (state, cert) => {
        state.view.domains = [...cert.domains];
        return state;
      },
      labelSets: (cert) => itemLabelSets(metrics, cert.name),
    });
    for (const cert of config.certs) this.entries.add(cert);
    this.fleet = new Fleet(
      (name) => (this.entries.has(name) ? this.entries.get(name).config : undefined),
      (name) => void this.installShared(name),
      ctx.log,
    );
  }

  async start(): Promise<void> {
    for (const entry of this.entries.values()) {
      entry.item.live = await this.readLive(this.store, entry.name, entry.log);
      this.refresh(entry);
    }
    this.schedule();
    await this.checkCertbot(this.config);
  }

  /** Says so when certbot would still renew a certificate this module renews (two owners, twice the orders). */
  private async checkCertbot(config: CertificatesConfig): Promise<void> {
    const found = await certbotConflicts(config.dir, config.certs.map((c) => c.name), this.certbotSchedules);
    this.ctx.conflicts.set('certbot', found);
  }

  async reload(next: CertificatesConfig): Promise<void> {
    const store = next.dir === this.config.dir ? this.store : new CertificateStore(next.dir);
    const acmeChanged = JSON.stringify(next.acme) !== JSON.stringify(this.config.acme);
    const acme = acmeChanged ? new AcmeService(next.acme, this.accounts) : this.acme;
    const diff = diffByName(this.config.certs, next.certs);
    // Certificates are read before anything changes, so a check meanwhile never sees an added one as missing.
    const read = (cert: CertConfig) => this.readLive(store, cert.name, this.entries.has(cert.name) ? this.entries.get(cert.name).log : this.ctx.log.child({ cert: cert.name }));
    const rereads = store !== this.store ? [...diff.unchanged, ...diff.changed.map(([, n]) => n)] : [];
    const lives = new Map(await Promise.all([...diff.added, ...rereads].map(async (cert) => [cert.name, await read(cert)] as const)));
    await this.entries.apply(next.certs);
    for (const [name, live] of lives) this.entries.get(name).item.live = live;
    if (acmeChanged) for (const { item } of this.entries.values()) (item.ari = undefined), (item.ariCheckAt = 0);
    // A cluster joined or left by this reload changes it too (a check at least every minute in a cluster).
    const intervalChanged = this.checkEveryMs(next) !== this.scheduledEveryMs;
    this.config = next;
    this.store = store;
    this.acme = acme;
    for (const entry of this.entries.values()) this.refresh(entry);
    if (intervalChanged) {
      this.task?.cancel();
      this.schedule();
    } else void this.task?.runNow();
    await this.checkCertbot(next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.task?.cancel();
    this.task = undefined;
    await this.fleet.leave();
    await this.entries.stop({ keepListed: true });
  }

  health(): ModuleHealth {
    const checks = this.entries.values().map(({ item: { view } }) => ({
      name: view.name,
      ok: isHealthy(view),
      critical: false,
      ...(view.lastError && view.consecutiveFailures > 0 ? { message: view.lastError } : view.state !== 'valid' ? { message: view.state } : {}),
    }));
    const expired = this.entries.values().some((e) => e.item.view.state === 'expired');
    const bad = checks.filter((c) => !c.ok).length;
    return { status: expired ? 'failed' : bad > 0 ? 'degraded' : 'ok', ...(bad > 0 ? { message: `${bad} of ${checks.length} certificates need attention` } : {}), checks };
  }

  status(): { certificates: CertificateView[] } {
    return { certificates: this.list() };
  }

  list(): CertificateView[] {
    return this.entries.values().map((e) => this.view(e));
  }

  get(name: string): CertificateView {
    return this.view(this.entries.get(name));
  }

  /** The profile is read from the running config, so a reload that changes it shows at once. */
  private view(entry: Entry): CertificateView {
    const profile = entry.config.profile ?? this.config.acme.profile;
    return { ...structuredClone(entry.item.view), ...(profile ? { profile } : {}) };
  }

  /** A forced renewal; resolves when the order is done (success or failure, as data). */
  async renew(name: string): Promise<RenewOutcome> {
    return this.launch(name, 'forced');
  }

  /** The local expiry check: no network unless a renewal is due or the CA's ARI is due for a poll. */
  async check(): Promise<void> {
    // In a cluster, a version another node stored is installed first, so it is not ordered again here.
    if (await this.fleet.join(this.ctx.cluster.current())) await Promise.all(this.entries.values().map((e) => this.installShared(e.name)));
    await Promise.all(this.entries.values().map((entry) => this.pollAri(entry)));
    const now = this.now().getTime();
    for (const entry of this.entries.values()) {
      if (entry.busy || this.stopped) continue;
      // Judged on local state at every check, so it fires even while the CA cannot be reached.
      this.reportExpiry(entry);
      const reason = this.dueReason(entry.item, entry.config, now);
      // A lock held by another process (`caretaker certs renew`, a second agent) just means: not this time.
      if (reason) void this.launch(entry.name, reason).catch((err: unknown) => entry.log.info({ err: describeError(err) }, 'renewal skipped'));
    }
  }

  /** Why the certificate should be ordered now, or undefined. Pure on cached state. */
  private dueReason(state: CertState, config: CertConfig, now: number): string | undefined {
    if (state.view.retryAt && Date.parse(state.view.retryAt) > now) return undefined;
    if (!state.live) return 'missing';
    const mismatch = configMismatch(state.live.cert, config);
    if (mismatch) return mismatch;
    if (state.plan && state.plan.plan.at.getTime() <= now) return state.plan.plan.reason;
    return undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.scheduledEveryMs = this.checkEveryMs(this.config);
    this.task = this.ctx.schedule({ name: 'renewal-check', everyMs: this.scheduledEveryMs, runAtStart: true }, () => this.check());
  }

  private checkEveryMs(config: CertificatesConfig): number {
    return this.ctx.cluster.current() ? Math.min(config.renewCheckInterval, CLUSTER_SYNC_MS) : config.renewCheckInterval;
  }

  private async readLive(store: CertificateStore, name: string, log: Logger): Promise<StoredCertificate | undefined> {
    try {
      return await store.read(name);
    } catch (err) {
      log.error({ err: describeError(err), path: store.livePath(name) }, 'live certificate unreadable, ordering a new one');
      return undefined;
    }
  }

  /** Recomputes the plan, the view and the gauges from the live certificate. */
  private refresh(entry: Entry): void {
    // A certificate removed meanwhile keeps its gauges gone.
    if (!this.entries.has(entry.name) || entry.signal.aborted) return;
    const state = entry.item;
    const { view, live } = state;
    const name = entry.config.name;
    const now = this.now();
    if (live) {
      const { notBefore, notAfter } = validityOf(live.cert);
      state.plan = choosePlan(live.cert, state.ari, state.plan, now, this.random);
      Object.assign(view, { serial: live.cert.serialNumber, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), version: live.version });
      this.metrics.notAfter.set({ cert: name }, notAfter.getTime() / 1000);
      this.metrics.notBefore.set({ cert: name }, notBefore.getTime() / 1000);
      const mismatch = configMismatch(live.cert, entry.config);
      view.nextRenewalAt = mismatch ? now.toISOString() : state.plan.plan.at.toISOString();
      view.renewalReason = mismatch ?? state.plan.plan.reason;
      if (!entry.busy && view.consecutiveFailures === 0) view.state = notAfter.getTime() <= now.getTime() ? 'expired' : 'valid';
    } else {
      state.plan = undefined;
      view.nextRenewalAt = now.toISOString();
      view.renewalReason = 'missing';
    }
    if (state.ari) {
      view.ari = {
        windowStart: state.ari.window.start.toISOString(),
        windowEnd: state.ari.window.end.toISOString(),
        nextPollAt: state.ari.nextPollAt.toISOString(),
        ...(state.ari.explanationUrl ? { explanationUrl: state.ari.explanationUrl } : {}),
      };
    } else delete view.ari;
    const next = Math.max(Date.parse(view.nextRenewalAt), view.retryAt ? Date.parse(view.retryAt) : 0);
    this.metrics.nextRenewal.set({ cert: name }, next / 1000);
    if (!entry.busy) this.reportExpiry(entry);
  }

  /** `cert:<name>:expiry` from the live certificate; without one there is nothing to expire (the renewal condition says why). */
  private reportExpiry(entry: Entry): void {
    const { live, view } = entry.item;
    const now = this.now();
    if (!live) return this.ctx.conditions.resolve(expiryKey(entry.name));
    const validity = validityOf(live.cert);
    const level = expiryLevel(validity, now, view.consecutiveFailures > 0);
    if (level === 'fine') this.ctx.conditions.resolve(expiryKey(entry.name));
    else if (level !== 'undecided') this.ctx.conditions.fire(expiryReport(entry.name, validity, now, level, view.consecutiveFailures > 0 ? view.lastError : undefined));
  }

  private async pollAri(entry: Entry): Promise<void> {
    const now = this.now();
    // While orders fail (CA down) the last window stands; polling would only repeat the failure.
    const state = entry.item;
    const backingOff = state.view.retryAt !== undefined && Date.parse(state.view.retryAt) > now.getTime();
    const live = state.live;
    if (!live || entry.busy || state.ariPolling || backingOff || now.getTime() < state.ariCheckAt) return;
    state.ariPolling = true;
    let lease: Lease | undefined;
    try {
      if (this.fleet.shared) {
        lease = await this.ariLease(this.fleet.shared, entry, live);
        if (!lease) return;
      }
      state.ari = await this.acme.renewalInfo(live.cert, entry.signal, now);
      state.ariCheckAt = state.ari ? state.ari.nextPollAt.getTime() : now.getTime() + ARI_RETRY_MS;
      if (state.ari) entry.log.debug({ window: state.ari.window }, 'renewal information read');
    } catch (err) {
      // ARI only refines the plan; without it the lifetime rule (or the last window) still applies.
      state.ariCheckAt = now.getTime() + ARI_RETRY_MS / 6;
      entry.log.warn({ err: describeError(err) }, 'renewal information unavailable');
    } finally {
      state.ariPolling = false;
    }
    this.refresh(entry);
    if (lease) await this.shareAri(entry, lease);
  }

  /**
   * In a cluster one node reads ARI, under the certificate's lease, and shares the point it chose (shareAri), so
   * every node renews at the same time. Undefined when another node holds the lease or stored a newer version
   * (installed first, its ARI read after).
   */
  private async ariLease(shared: SharedCertificates, entry: Entry, live: StoredCertificate): Promise<Lease | undefined> {
    const state = entry.item;
    state.ariCheckAt = this.now().getTime() + CLUSTER_SYNC_MS;
    const taken = await shared.cluster.acquire(certLease(entry.name)).catch(() => undefined);
    if (!taken || !('lease' in taken)) return undefined;
    // null: the store lost the record (Redis restarted empty), which this node's live version fills again.
    const stored = await shared.read(entry.name).catch(() => undefined);
    if (stored !== null && stored?.serial !== live.cert.serialNumber) {
      await taken.lease.release().catch(() => undefined);
      return undefined;
    }
    return taken.lease;
  }

  private async shareAri(entry: Entry, lease: Lease): Promise<void> {
    const { live, ari, plan } = entry.item;
    try {
      if (live && this.fleet.shared) await this.fleet.shared.store(entry.name, live, lease, ari && plan ? { info: ari, plan: plan.plan } : undefined);
    } catch (err) {
      entry.log.warn({ err: describeError(err) }, 'renewal information not shared with the cluster');
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  /** The renewal point another node chose from ARI for the version installed here. */
  private adoptAri(entry: Entry, shared: SharedAri): void {
    const state = entry.item;
    state.ari = shared.info;
    state.plan = { plan: shared.plan, window: shared.info.window };
    state.ariCheckAt = shared.info.nextPollAt.getTime();
    this.refresh(entry);
  }

  /** One order at a time per certificate: a second one is the item set's 409. */
  private async launch(name: string, reason: string): Promise<RenewOutcome> {
    const entry = this.entries.get(name);
    return this.entries.begin(name, reason, (e) => this.renewOnce(e, reason, e.signal)).done.finally(() => this.refresh(entry));
  }

  private async renewOnce(entry: Entry, reason: string, entrySignal: AbortSignal): Promise<RenewOutcome> {
    const { config, log } = entry;
    const state = entry.item;
    const { view } = state;
    let lock;
    try {
      lock = await acquireLock(join(this.ctx.stateDir, 'locks'), config.name);
    } catch (err) {
      if (err instanceof LockHeldError) throw new ConflictError(err.message, { cause: err });
      throw err;
    }
    const shared = await this.fleet.join(this.ctx.cluster.current());
    let lease: Lease | undefined;
    try {
      lease = shared ? await this.takeLease(shared, config.name) : undefined;
    } catch (err) {
      await lock.release();
      throw err;
    }
    const signal = lease ? AbortSignal.any([entrySignal, lease.signal]) : entrySignal;
    const previousState = view.state;
    view.state = 'renewing';
    try {
      if (shared && lease) {
        // Stored by another node since this node last looked: installed, not ordered a second time.
        const stored = reason === 'forced' ? null : await shared.read(config.name);
        if (stored && this.worthInstalling(entry, stored)) {
          await this.applyStored(entry, stored, signal);
          return { result: 'success', certificate: structuredClone(view) };
        }
        await useSharedAccount(shared.cluster, this.accounts, this.acme, signal);
      }
      log.info({ reason, domains: config.domains }, 'renewing certificate');
      const live = await this.readLive(this.store, config.name, log);
      const keyPem =
        config.reuseKey && live && keyTypeOfPem(live.keyPem) === config.keyType ? live.keyPem : await generatePrivateKey(config.keyType);
      const replaces = live ? ariCertId(live.cert) : undefined;
      const profile = config.profile ?? this.config.acme.profile;
      const chain = await this.acme.issue({
        domains: config.domains,
        keyPem,
        ...(profile ? { profile } : {}),
        ...(replaces ? { replaces } : {}),
        solver: shared && lease ? new PublishingSolver(solverFor(config.challenge), shared.cluster, lease, config.name) : solverFor(config.challenge),
        signal,
        log,
      });
      if (signal.aborted) throw new AcmeError('cancelled');
      // The shared store first: a certificate the fence refused is installed nowhere, so no node serves one the others do not.
      if (shared && lease) await shared.store(config.name, { keyPem, fullchainPem: chain }, lease);
      const version = await this.store.write(config.name, { keyPem, fullchainPem: chain });
      state.live = await this.store.read(config.name);
      state.ari = undefined;
      state.ariCheckAt = 0;
      state.plan = undefined;
      Object.assign(view, { state: 'valid', consecutiveFailures: 0, lastRenewalAt: this.now().toISOString() });
      delete view.retryAt;
      this.metrics.renewals.inc({ cert: config.name, result: 'success' });
      this.ctx.conditions.resolve(renewalKey(config.name));
      log.info({ serial: state.live?.cert.serialNumber, notAfter: state.live?.cert.validTo, version }, 'certificate renewed');
      this.refresh(entry);
      if (config.deploy && state.live) await this.deploy(entry, state.live.cert, signal);
      return { result: 'success', certificate: structuredClone(view) };
    } catch (err) {
      if (entrySignal.aborted) {
        view.state = previousState;
        // A stop is said by the item set ('renewal aborted: stopping').
        if (!this.ctx.signal.aborted) log.info('renewal cancelled');
        return { result: 'failure', certificate: structuredClone(view) };
      }
      this.recordFailure(entry, err);
      this.refresh(entry);
      return { result: 'failure', certificate: structuredClone(view) };
    } finally {
      await lock.release();
      await lease?.release().catch(() => undefined);
    }
  }

  /** The lease `cert:<name>`, taken only while the cluster's Redis answers and no other node holds it. */
  private async takeLease(shared: SharedCertificates, name: string): Promise<Lease> {
    if (!shared.cluster.reachable()) throw new ConflictError(`cluster Redis unreachable: certificate '${name}' is not ordered until it answers`);
    const taken = await shared.cluster.acquire(certLease(name)).catch((err: unknown) => {
      throw new ConflictError(`cluster Redis unreachable: certificate '${name}' is not ordered until it answers (${describeError(err)})`);
    });
    if ('lease' in taken) return taken.lease;
    throw new ConflictError(`certificate '${name}' is being ordered by cluster node ${taken.holder?.node ?? 'unknown'}`);
  }

  /** A stored version is installed when it differs from the live one, still fits the config and has not expired. */
  private worthInstalling(entry: Entry, stored: SharedCertificate): boolean {
    if (stored.serial === entry.item.live?.cert.serialNumber) return false;
    if (configMismatch(stored.cert, entry.config)) return false;
    return validityOf(stored.cert).notAfter.getTime() > this.now().getTime();
  }

  /** Installs the version the cluster stores for `name` when it is not the live one (announcement or periodic check). */
  private async installShared(name: string): Promise<void> {
    const shared = await this.fleet.join(this.ctx.cluster.current());
    if (!shared || !this.entries.has(name) || this.stopped) return;
    const entry = this.entries.get(name);
    if (entry.busy) return;
    let stored: SharedCertificate | null;
    try {
      stored = await shared.read(name);
    } catch (err) {
      // Redis down is the cluster module's condition; a record that does not decrypt or match is this one's.
      entry.log[shared.cluster.reachable() ? 'error' : 'debug']({ err: describeError(err) }, 'shared certificate not read');
      return;
    }
    if (stored?.ari && stored.serial === entry.item.live?.cert.serialNumber) this.adoptAri(entry, stored.ari);
    if (!stored || !this.worthInstalling(entry, stored) || entry.busy) return;
    const found = stored;
    await this.entries
      .begin(name, 'cluster', async (e) => {
        const lock = await acquireLock(join(this.ctx.stateDir, 'locks'), name);
        try {
          await this.applyStored(e, found, e.signal);
        } finally {
          await lock.release();
        }
      })
      .done.catch((err: unknown) => entry.log.warn({ err: describeError(err) }, 'shared certificate not installed'))
      .finally(() => this.refresh(entry));
  }

  /** Makes a stored version live here (the same atomic swap as an order's), then this node's own deploy and verify. */
  private async applyStored(entry: Entry, stored: SharedCertificate, signal: AbortSignal): Promise<void> {
    const state = entry.item;
    const version = await this.store.write(entry.name, { keyPem: stored.keyPem, fullchainPem: stored.fullchainPem });
    state.live = await this.store.read(entry.name);
    state.ari = undefined;
    state.ariCheckAt = 0;
    state.plan = undefined;
    Object.assign(state.view, { state: 'valid', consecutiveFailures: 0 });
    delete state.view.retryAt;
    this.ctx.conditions.resolve(renewalKey(entry.name));
    entry.log.info({ serial: stored.serial, version, storedBy: stored.storedBy }, 'certificate installed from the cluster store');
    if (stored.ari) this.adoptAri(entry, stored.ari);
    else this.refresh(entry);
    if (entry.config.deploy && state.live) await this.deploy(entry, state.live.cert, signal);
  }

  private recordFailure(entry: Entry, err: unknown): void {
    const { log, config } = entry;
    const { view } = entry.item;
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
    this.ctx.conditions.fire({ key: renewalKey(config.name), severity: 'warning', summary: `renewal of ${config.name} failed`, detail: view.lastError, item: config.name });
    const fields = { err: view.lastError, failures: view.consecutiveFailures, retryAt: view.retryAt };
    if (view.consecutiveFailures === 1) log.error(fields, 'certificate renewal failed');
    else log.warn(fields, 'certificate renewal failed again');
  }

  private async deploy(entry: Entry, cert: X509Certificate, signal: AbortSignal): Promise<void> {
    const deploy = entry.config.deploy!;
    const at = this.now().toISOString();
    let step = 'deploy command';
    try {
      await runDeployCommand(deploy.command, deploy.timeout, signal);
      step = 'served-certificate check';
      if (deploy.verify) await verifyServed(deploy.verify, servernameFor(entry.config.domains), cert.serialNumber, signal);
      entry.item.view.deploy = { ok: true, at };
      this.ctx.conditions.resolve(deployKey(entry.name));
      entry.log.info({ verified: deploy.verify ?? false }, 'certificate deployed');
    } catch (err) {
      const message = describeError(err);
      entry.item.view.deploy = { ok: false, at, message };
      entry.item.view.lastError = `deploy: ${message}`;
      entry.item.view.lastErrorAt = at;
      this.metrics.lastError.set({ cert: entry.config.name }, Date.parse(at) / 1000);
      this.ctx.conditions.fire({ key: deployKey(entry.name), severity: 'warning', summary: `deploy of ${entry.name} failed`, detail: `${step}: ${message}`, item: entry.name });
      entry.log.error({ err: message }, 'certificate deploy failed');
    }
  }
}
