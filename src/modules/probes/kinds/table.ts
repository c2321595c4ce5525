import type { ProbeConfig } from '../config.js';
import type { Checker, Kind } from './kind.js';
import { createHttpChecker, httpTarget, type HttpProbeConfig } from './http.js';
import { createPostgresChecker, postgresTarget, type PostgresProbeConfig } from './postgres.js';
import { createRedisChecker, redisTarget, type RedisProbeConfig } from './redis.js';
import { createTcpChecker, tcpTarget, type TcpProbeConfig } from './tcp.js';

interface KindImplementation<C> {
  /** Wires a checker; no I/O until its first check. */
  create(config: C & { timeout: number }): Checker;
  /** Where it points, with any password hidden. */
  target(config: C): string;
}

/** Each kind's implementation by `type`, so the rest of the module never branches on it. */
const KIND_IMPLEMENTATIONS: {
  redis: KindImplementation<RedisProbeConfig>;
  postgres: KindImplementation<PostgresProbeConfig>;
  http: KindImplementation<HttpProbeConfig>;
  tcp: KindImplementation<TcpProbeConfig>;
} = {
  redis: { create: (c) => createRedisChecker(c, c.timeout), target: redisTarget },
  postgres: { create: (c) => createPostgresChecker(c, c.timeout), target: postgresTarget },
  http: { create: (c) => createHttpChecker(c), target: httpTarget },
  tcp: { create: (c) => createTcpChecker(c), target: tcpTarget },
};

function implementationOf(config: ProbeConfig): KindImplementation<ProbeConfig> {
  // The table above is keyed by the same `type` the union is discriminated on.
  return KIND_IMPLEMENTATIONS[config.type as Kind] as KindImplementation<ProbeConfig>;
}

export function createChecker(config: ProbeConfig): Checker {
  return implementationOf(config).create(config);
}

export function describeTarget(config: ProbeConfig): string {
  return implementationOf(config).target(config);
}
