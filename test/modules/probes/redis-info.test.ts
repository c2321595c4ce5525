import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInfo, redisFacts } from '../../../src/modules/probes/redis-info.js';

const MASTER = [
  '# Server',
  'redis_version:7.0.15',
  '',
  '# Clients',
  'connected_clients:4',
  '# Memory',
  'used_memory:1048576',
  'maxmemory:0',
  '# Persistence',
  'rdb_last_bgsave_status:ok',
  '# Stats',
  'evicted_keys:12',
  'rejected_connections:3',
  '# Replication',
  'role:master',
  'connected_slaves:2',
  'slave0:ip=10.0.0.2,port=6379,state=online,offset=900,lag=0',
  'slave1:ip=10.0.0.3,port=6379,state=online,offset=1000,lag=1',
  'master_repl_offset:1000',
].join('\r\n');

test('INFO fields of a master, with the slowest replica as the lag', () => {
  assert.deepEqual(redisFacts(parseInfo(MASTER)), {
    version: '7.0.15',
    role: 'master',
    connectedClients: 4,
    usedMemoryBytes: 1048576,
    maxmemoryBytes: 0,
    evictedKeys: 12,
    rejectedConnections: 3,
    connectedReplicas: 2,
    replicationLagBytes: 100,
    lastRdbSaveOk: true,
  });
});

test('a replica reports its master link; a failed save is reported', () => {
  const facts = redisFacts(parseInfo('role:slave\nmaster_link_status:down\nrdb_last_bgsave_status:err\nconnected_slaves:0\n'));
  assert.equal(facts.role, 'slave');
  assert.equal(facts.masterLinkUp, false);
  assert.equal(facts.lastRdbSaveOk, false);
  assert.equal(facts.replicationLagBytes, undefined);
});

test('missing or non-numeric fields stay undefined', () => {
  const facts = redisFacts(parseInfo('connected_clients:lots\nweird line\n'));
  assert.equal(facts.connectedClients, undefined);
  assert.equal(facts.usedMemoryBytes, undefined);
});
