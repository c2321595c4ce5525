import { hostname } from 'node:os';
import { z } from 'zod';
import { redisSentinel, redisTls, redisUrl } from '../../agent/kit/redis-schema.js';
import { duration } from '../../agent/kit/schema.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const configSchema = z
  .strictObject({
    redis: redisUrl('the Redis every node of the cluster shares (leases, shared certificates, run records); rediss:// for TLS, the password in the url'),
    tls: redisTls(),
    sentinel: redisSentinel()
      .optional()
      .meta({ description: "ask these sentinels for the master's address and follow it across a failover (as probes do); the url then gives only scheme, user, password and db" }),
    name: z.string().regex(NAME, 'letters, digits, ., _ and -, at most 63').meta({ description: 'the cluster: nodes with the same name on the same Redis coordinate; another name is another cluster' }),
    node: z
      .string()
      .regex(NAME, 'letters, digits, ., _ and -, at most 63')
      .optional()
      .meta({ description: "this node's name, unique in the cluster (default: the host name)" }),
    leaseTtl: duration({ min: '2s', max: '10m' })
      .prefault('15s')
      .meta({ description: 'how long a lease outlives its holder: the longest another node waits to take over the work of a node that died' }),
    encryptionKey: z
      .string()
      .min(32, 'at least 32 characters, e.g. the output of: openssl rand -base64 32')
      .meta({ description: 'the key shared secrets (certificate keys, the ACME account key) are encrypted with in Redis; the same on every node, from a credential' }),
  })
  .superRefine((cluster, ctx) => {
    if (cluster.tls !== undefined && !cluster.redis.startsWith('rediss://')) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls settings need a rediss:// url' });
  })
  // Filled in here, not as the key's default: a default would put this machine's name into the JSON Schema.
  .transform((cluster) => ({ ...cluster, node: cluster.node ?? (hostname().split('.')[0]!.slice(0, 63) || 'node') }))
  .meta({ description: 'Several agents sharing one Redis: one node orders each certificate and runs each singleton backup, under leases with fencing tokens.' });

export type ClusterConfig = z.output<typeof configSchema>;
