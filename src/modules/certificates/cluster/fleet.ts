import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ClusterService } from '../../../agent/kit/cluster.js';
import type { CertConfig } from '../config.js';
import { TokenRelay } from './http01.js';
import { CERT_TOPIC, SharedCertificates } from './shared.js';

/** The periodic look at the shared store when announcements were missed: one read per certificate a minute. */
export const CLUSTER_SYNC_MS = 60_000;
const JOIN_WAIT_MS = 3000;

interface Joined {
  cluster: ClusterService;
  shared: SharedCertificates;
  relay: TokenRelay;
  unwatch: () => void;
}

/**
 * The certificates module's membership in the cluster of the running config: it hears new versions stored by any
 * node and answers the http-01 tokens other nodes publish. Follows `ctx.cluster` as reloads change it.
 */
export class Fleet {
  private joined: Joined | undefined;

  constructor(
    private readonly configOf: (cert: string) => CertConfig | undefined,
    private readonly onStored: (cert: string) => void,
    private readonly log: Logger,
  ) {}

  /** The store joined last, without waiting for anything. */
  get shared(): SharedCertificates | undefined {
    return this.joined?.shared;
  }

  /** The shared store of `cluster` (undefined: a single server), joining it on first use. */
  async join(cluster: ClusterService | undefined): Promise<SharedCertificates | undefined> {
    if (this.joined?.cluster === cluster) return this.joined?.shared;
    await this.leave();
    if (!cluster) return undefined;
    // The cluster's connection opens as the agent starts: the first check waits for it a little rather than
    // skipping its work until the next one, a minute later.
    for (const deadline = Date.now() + JOIN_WAIT_MS; !cluster.reachable() && Date.now() < deadline; ) await sleep(50);
    if (this.joined?.cluster === cluster) return this.joined.shared;
    const relay = new TokenRelay(cluster, this.configOf, this.log);
    relay.start();
    const unwatch = cluster.watch(CERT_TOPIC, (cert) => this.onStored(cert));
    this.joined = { cluster, shared: new SharedCertificates(cluster), relay, unwatch };
    return this.joined.shared;
  }

  async leave(): Promise<void> {
    const joined = this.joined;
    this.joined = undefined;
    if (!joined) return;
    joined.unwatch();
    await joined.relay.stop();
  }
}
