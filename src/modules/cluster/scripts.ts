/**
 * The Lua scripts behind leases and fenced writes, each one atomic on the single Redis primary. A lease is the
 * string `<token> <node>` under `lease:<name>` with a PX expiry; its token comes from INCR of `fence:<name>`,
 * so a later holder always has a larger one. Shared values are hashes {v: value, f: fence of the write}.
 */

/** KEYS lease, fence; ARGV node, ttl ms → {1, token} taken, or {0, "<token> <node>", pttl} held by someone. */
export const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current then return {0, current, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return {1, token}
`;

/** KEYS lease; ARGV "<token> <node>", ttl ms → 1 renewed, 0 not ours any more. */
export const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS lease; ARGV "<token> <node>" → 1 released, 0 not ours (left alone). */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS lease, value; ARGV "<token> <node>", token, value, ttl ms (0: none) → 1 written, 0 the lease is not
 * ours, -1 the value was written under a larger fence.
 */
export const FENCED_WRITE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local fence = tonumber(redis.call('HGET', KEYS[2], 'f') or '0')
if fence > tonumber(ARGV[2]) then return -1 end
redis.call('HSET', KEYS[2], 'v', ARGV[3], 'f', ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) else redis.call('PERSIST', KEYS[2]) end
return 1
`;
