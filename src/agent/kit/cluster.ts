/**
 * What a module sees of the cluster (several agents sharing one Redis): leases with fencing tokens and state
 * shared between nodes. The cluster module provides it; the others reach it through `ctx.cluster`, so a module
 * never imports another. Without a `cluster` section there is none, and every module works as a single server.
 */

/** This node holds the lease, or holds it no more (lost or released): work bound to it ends with `signal`. */
export class LeaseLostError extends Error {
  constructor(lease: string, why: string) {
    super(`lease ${lease} lost: ${why}`);
    this.name = 'LeaseLostError';
  }
}

/** A lease this node holds. A later holder always has a larger `token` (the fence). */
export interface Lease {
  readonly name: string;
  readonly token: number;
  /**
   * Aborted as soon as this node can no longer be sure it holds the lease: a renewal did not succeed before
   * its own deadline (a monotonic clock started before the request that took it), or the lease was released.
   */
  readonly signal: AbortSignal;
  /**
   * Throws LeaseLostError unless the lease is still held by the local deadline. A process paused past it
   * (SIGSTOP, a VM freeze) sees that here on waking, before the timers that would have said so have run.
   */
  check(): void;
  /** Ends the lease now (compare-and-delete: a lease taken over by another node is left alone). */
  release(): Promise<void>;
}

/** Who holds a lease, as Redis says now. */
export interface LeaseHolder {
  node: string;
  token: number;
  expiresInMs: number;
}

export interface ClusterService {
  /** This node's name (default: the host name). */
  readonly node: string;
  /** The cluster's name: shared state of other clusters on the same Redis is never read. */
  readonly name: string;
  /** The longest a dead holder keeps a lease. */
  readonly leaseTtlMs: number;
  /** True while the last command to Redis succeeded. No leader work is started while it is false. */
  reachable(): boolean;
  /** Takes lease `name` when no node holds it; the holder otherwise. Renewed in the background until released or lost. */
  acquire(name: string): Promise<{ lease: Lease } | { holder: LeaseHolder | null }>;
  holder(name: string): Promise<LeaseHolder | null>;
  /** A shared value, or null. */
  read(key: string): Promise<Buffer | null>;
  /**
   * Writes a shared value while holding `lease`: refused (LeaseLostError) when the lease is no longer this
   * node's in Redis, or when the value was last written under a larger fence (a newer holder's write).
   * `ttlMs`: the value expires (for per-run records).
   */
  write(key: string, value: Buffer | string, lease: Lease, ttlMs?: number): Promise<void>;
  /** Encrypts a secret for shared state with the cluster's encryptionKey (authenticated: a changed byte fails `unseal`). */
  seal(plain: Buffer): Buffer;
  /** Decrypts what `seal` made on any node with the same key; throws on a wrong key or a changed value. */
  unseal(sealed: Buffer): Buffer;
  /** Tells every node (including this one) that `topic` changed; `watch` hears it. Best effort: watchers also re-check on their own. */
  announce(topic: string, message: string): Promise<void>;
  /** Calls `listener` for every announcement of `topic` from now on; returns the unsubscribe. */
  watch(topic: string, listener: (message: string) => void): () => void;
}

/** `ctx.cluster`: the cluster of the running config, if it has one. */
export interface ClusterLink {
  current(): ClusterService | undefined;
}

/** Given to the module that provides the cluster, and only to it. */
export interface ClusterProvider extends ClusterLink {
  provide(service: ClusterService | undefined): void;
}

/** The agent's one link: the cluster module sets it, everyone else reads it. */
export class ClusterSlot implements ClusterProvider {
  private service: ClusterService | undefined;

  current(): ClusterService | undefined {
    return this.service;
  }

  provide(service: ClusterService | undefined): void {
    this.service = service;
  }
}
