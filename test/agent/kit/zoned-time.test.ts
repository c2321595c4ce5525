import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemTimeZone, timeZone } from '../../../src/agent/kit/zoned-time.js';

/** Runs `body` with the process in zone `zone` (Node applies a TZ change at once). */
function inZone<T>(zone: string, body: () => T): T {
  const previous = process.env.TZ;
  process.env.TZ = zone;
  try {
    return body();
  } finally {
    if (previous === undefined) delete process.env.TZ;
    else process.env.TZ = previous;
  }
}

test('a time zone left out is the host zone, resolved at load', () => {
  assert.equal(inZone('Asia/Tokyo', () => systemTimeZone()), 'Asia/Tokyo');
  assert.equal(inZone('Asia/Tokyo', () => timeZone('zone').parse(undefined)), 'Asia/Tokyo');
  assert.equal(inZone('America/Denver', () => timeZone('zone').parse(undefined)), 'America/Denver');
});

test('a time zone given is kept, and an unknown one is refused', () => {
  assert.equal(inZone('Asia/Tokyo', () => timeZone('zone').parse('Europe/Berlin')), 'Europe/Berlin');
  const result = timeZone('zone').safeParse('Mars/Olympus');
  assert.equal(result.success, false);
  assert.match(result.error!.issues[0]!.message, /^not an IANA time zone/);
});

test("the key's description says the default is the host zone", () => {
  const description = (timeZone('zone the schedule is read in').meta() as { description?: string } | undefined)?.description ?? '';
  assert.match(description, /^zone the schedule is read in; .*default: the host zone$/);
});
