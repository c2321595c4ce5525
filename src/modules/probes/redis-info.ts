/** `INFO` output as a flat map of field → value (section headers and blank lines dropped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

export interface RedisFacts {
  version?: string;
  role?: string;
  connectedClients?: number;
  usedMemoryBytes?: number;
  maxmemoryBytes?: number;
  evictedKeys?: number;
  rejectedConnections?: number;
  connectedReplicas?: number;
  /** Replicas only: whether the link to the master is up. */
  masterLinkUp?: boolean;
  /** Masters with replicas: how far the slowest replica's offset is behind. */
  replicationLagBytes?: number;
  lastRdbSaveOk?: boolean;
}

function numberField(fields: Map<string, string>, name: string): number | undefined {
  const raw = fields.get(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** `slave0:ip=...,port=...,state=online,offset=123,lag=0` → the offsets of all replicas. */
function replicaOffsets(fields: Map<string, string>): number[] {
  const offsets: number[] = [];
  for (const [name, value] of fields) {
    if (!/^slave\d+$/.test(name)) continue;
    const match = /(?:^|,)offset=(\d+)/.exec(value);
    if (match) offsets.push(Number(match[1]));
  }
  return offsets;
}

/** The fields the probe reports, read from parsed INFO; absent fields stay undefined. */
export function redisFacts(fields: Map<string, string>): RedisFacts {
  const role = fields.get('role');
  const facts: RedisFacts = {
    version: fields.get('redis_version'),
    role,
    connectedClients: numberField(fields, 'connected_clients'),
    usedMemoryBytes: numberField(fields, 'used_memory'),
    maxmemoryBytes: numberField(fields, 'maxmemory'),
    evictedKeys: numberField(fields, 'evicted_keys'),
    rejectedConnections: numberField(fields, 'rejected_connections'),
    connectedReplicas: numberField(fields, 'connected_slaves'),
  };
  const linkStatus = fields.get('master_link_status');
  if (role === 'slave' && linkStatus !== undefined) facts.masterLinkUp = linkStatus === 'up';
  const offsets = replicaOffsets(fields);
  const masterOffset = numberField(fields, 'master_repl_offset');
  if (role === 'master' && offsets.length > 0 && masterOffset !== undefined) {
    facts.replicationLagBytes = Math.max(0, masterOffset - Math.min(...offsets));
  }
  const bgsave = fields.get('rdb_last_bgsave_status');
  if (bgsave !== undefined) facts.lastRdbSaveOk = bgsave === 'ok';
  return facts;
}
