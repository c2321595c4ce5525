import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ClusterService, Lease } from '../../../agent/kit/cluster.js';
import { describeError } from '../../../agent/kit/errors.js';
import type { CertConfig } from '../config.js';
import { StandaloneSolver } from '../kinds/http01-standalone.js';
import { WebrootSolver } from '../kinds/http01-webroot.js';
import type { ChallengeSolver, ChallengeTask } from '../kinds/kind.js';
import { TOKEN_TTL_MS } from './shared.js';

/** Announced when the holder publishes an http-01 token, and when it is done with it. */
const TOKEN_TOPIC = 'http01';
/** Time for the other nodes to open a listener or write the token file before the CA is told to look. */
const SETTLE_MS = 500;

interface TokenMessage {
  op: 'present' | 'remove';
  cert: string;
  token: string;
  node: string;
}

const tokenKey = (token: string) => `http01:${token}`;

/**
 * The holder's solver in a cluster: each http-01 token is also published to Redis (with a TTL), so that the node
 * the CA reaches (the load balancer decides) answers it, whichever node placed the order.
 */
export class PublishingSolver implements ChallengeSolver {
  constructor(
    private readonly local: ChallengeSolver,
    private readonly cluster: ClusterService,
    private readonly lease: Lease,
    private readonly cert: string,
  ) {}

  get type(): ChallengeSolver['type'] {
    return this.local.type;
  }

  open(signal: AbortSignal): Promise<void> {
    return this.local.open(signal);
  }

  async present(task: ChallengeTask, signal: AbortSignal): Promise<void> {
    await this.local.present(task, signal);
    if (this.type !== 'http-01') return;
    await this.cluster.write(tokenKey(task.token), task.keyAuthorization, this.lease, TOKEN_TTL_MS);
    await this.cluster.announce(TOKEN_TOPIC, this.message('present', task));
    await sleep(SETTLE_MS, undefined, { signal });
  }

  async remove(task: ChallengeTask): Promise<void> {
    await this.local.remove(task);
    if (this.type === 'http-01') await this.cluster.announce(TOKEN_TOPIC, this.message('remove', task)).catch(() => undefined);
  }

  close(): Promise<void> {
    return this.local.close();
  }

  private message(op: TokenMessage['op'], task: ChallengeTask): string {
    return JSON.stringify({ op, cert: this.cert, token: task.token, node: this.cluster.node } satisfies TokenMessage);
  }
}

interface Relay {
  solver: ChallengeSolver;
  opened: Promise<void>;
  tokens: Map<string, NodeJS.Timeout>;
}

/**
 * The other nodes' side of http-01: on a published token, a standalone node opens its listener (answering any
 * token it is asked from Redis) and a webroot node writes the token file; both undo it when the holder is done,
 * or when the token's TTL has passed (an announcement lost, a holder killed).
 */
export class TokenRelay {
  private readonly relays = new Map<string, Relay>();
  private unwatch: (() => void) | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly cluster: ClusterService,
    private readonly configOf: (cert: string) => CertConfig | undefined,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.unwatch = this.cluster.watch(TOKEN_TOPIC, (raw) => {
      void this.handle(raw).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'http-01 token from another node not answered'));
    });
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.controller.abort();
    const relays = [...this.relays.values()];
    this.relays.clear();
    for (const relay of relays) {
      for (const timer of relay.tokens.values()) clearTimeout(timer);
      await relay.solver.close();
    }
  }

  private async handle(raw: string): Promise<void> {
    const message = JSON.parse(raw) as TokenMessage;
    if (message.node === this.cluster.node || !/^[A-Za-z0-9_-]+$/.test(message.token)) return;
    const challenge = this.configOf(message.cert)?.challenge;
    if (!challenge || challenge.type !== 'http-01') return;
    const where = JSON.stringify(challenge);
    if (message.op === 'remove') return this.drop(where, message.token);
    let relay = this.relays.get(where);
    if (!relay) {
      const solver: ChallengeSolver =
        'webroot' in challenge ? new WebrootSolver(challenge.webroot) : new StandaloneSolver(challenge.standalone.address, challenge.standalone.port, (token) => this.lookup(token));
      const opened = solver.open(this.controller.signal).catch((err: unknown) => {
        this.relays.delete(where);
        throw err;
      });
      relay = { solver, opened, tokens: new Map() };
      this.relays.set(where, relay);
    }
    await relay.opened;
    if (relay.tokens.has(message.token)) return;
    const keyAuthorization = await this.lookup(message.token);
    if (keyAuthorization === undefined) return;
    relay.tokens.set(message.token, setTimeout(() => void this.drop(where, message.token), TOKEN_TTL_MS).unref());
    await relay.solver.present({ domain: message.cert, wildcard: false, token: message.token, keyAuthorization }, this.controller.signal);
    this.log.info({ cert: message.cert, from: message.node }, 'answering an http-01 token of another node');
  }

  private async lookup(token: string): Promise<string | undefined> {
    return (await this.cluster.read(tokenKey(token)))?.toString('utf8');
  }

  private async drop(where: string, token: string): Promise<void> {
    const relay = this.relays.get(where);
    const timer = relay?.tokens.get(token);
    if (!relay || timer === undefined) return;
    clearTimeout(timer);
    relay.tokens.delete(token);
    await relay.solver.remove({ domain: '', wildcard: false, token, keyAuthorization: '' });
    if (relay.tokens.size > 0) return;
    this.relays.delete(where);
    await relay.solver.close();
  }
}
