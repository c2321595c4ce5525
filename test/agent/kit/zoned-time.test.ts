import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isValidTimeZone, systemTimeZone, timeZone, zonedParts } from '../../../src/agent/kit/zoned-time.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

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

test('the host zone and UTC read from Date agree with Intl, hour by hour across both DST changes', () => {
  const intl = (date: Date, zone: string) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(date).map((p) => [p.type, Number(p.value)]));
    return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second };
  };
  for (const zone of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'UTC']) {
    inZone(zone, () => {
      assert.equal(systemTimeZone(), zone);
      for (const start of ['2026-03-07T00:00:30Z', '2026-03-28T00:00:30Z', '2026-10-24T00:00:30Z', '2026-10-31T00:00:30Z', '2026-04-04T00:00:30Z']) {
        for (let h = 0; h < 72; h++) {
          const date = new Date(Date.parse(start) + h * 1_800_000);
          const { weekday, ...ours } = zonedParts(date, zone);
          assert.deepEqual(ours, intl(date, zone), `${date.toISOString()} in ${zone}`);
          assert.equal(weekday, new Date(Date.UTC(ours.year, ours.month - 1, ours.day)).getUTCDay());
        }
      }
    });
  }
});

test('the host zone is named from TZ (a zone name or :name) or /etc/localtime, and left to Intl when TZ names no zone file', () => {
  assert.equal(inZone(':Asia/Tokyo', () => systemTimeZone()), 'Asia/Tokyo');
  assert.equal(inZone('Etc/UTC', () => systemTimeZone()), 'UTC');
  assert.equal(inZone('EST5EDT,M3.2.0,M11.1.0', () => systemTimeZone()), inZone('EST5EDT,M3.2.0,M11.1.0', () => Intl.DateTimeFormat().resolvedOptions().timeZone));
  assert.equal(inZone('Asia/Tokyo', () => isValidTimeZone('Asia/Tokyo') && isValidTimeZone('Mars/Olympus')), false);
});

test('a zone other than UTC or the host one is checked at load without an Intl formatter (8 MiB), an alias with one', () => {
  const script = `
    const Formatter = Intl.DateTimeFormat;
    let formatters = 0;
    Intl.DateTimeFormat = function (...args) { formatters++; return new Formatter(...args); };
    const { isValidTimeZone } = await import('./src/agent/kit/zoned-time.ts');
    const canonical = isValidTimeZone('Europe/Paris') && isValidTimeZone('Asia/Tokyo');
    const before = formatters;
    console.log(JSON.stringify({ canonical, formattersForCanonical: before, alias: isValidTimeZone('US/Pacific'), unknown: isValidTimeZone('Mars/Olympus') }));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { canonical: true, formattersForCanonical: 0, alias: true, unknown: false });
});
