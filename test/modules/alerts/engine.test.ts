import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeliveryError } from '../../../src/modules/alerts/channels/channel.js';
import { QUEUE_LIMIT, retryDelay } from '../../../src/modules/alerts/outbox.js';
import { condition, engineRig, HOUR, resolved, retryable, SETTINGS } from './fakes.js';

const keys = (n: { alerts: Array<{ key: string; status: string }> }) => n.alerts.map((a) => `${a.status}:${a.key}`);

test('a condition is told once when it starts, after the grouping window; the same fire again is not news', async () => {
  const rig = engineRig();
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(29_999);
  assert.equal(rig.channels.ops!.sent.length, 0, 'nothing before the window closes');
  await rig.at(30_000);
  assert.deepEqual(rig.channels.ops!.sent.map(keys), [['firing:probe:redis:down']]);
  assert.equal(rig.channels.ops!.sent[0]!.host, 'test-host');
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(60_000);
  assert.equal(rig.channels.ops!.sent.length, 1);
});

test('repeat: a warning is told again every `repeat`, a critical every `repeatCritical`, nothing in between', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  rig.engine.handle(condition('backup:pg:run'));
  rig.engine.handle(condition('cert:api:expiry', { severity: 'critical' }));
  await rig.at(0);
  assert.equal(rig.channels.ops!.sent.length, 1);
  await rig.at(HOUR - 1);
  assert.equal(rig.channels.ops!.sent.length, 1, 'no repeat before repeatCritical');
  await rig.at(HOUR);
  assert.deepEqual(rig.channels.ops!.sent.map(keys).at(-1), ['firing:cert:api:expiry']);
  await rig.at(2 * HOUR);
  await rig.at(3 * HOUR);
  await rig.at(4 * HOUR - 1);
  assert.equal(rig.channels.ops!.sent.length, 4, 'critical repeated hourly, warning not yet');
  await rig.at(4 * HOUR);
  assert.deepEqual(rig.channels.ops!.sent.map(keys).at(-1), ['firing:backup:pg:run', 'firing:cert:api:expiry'], 'both due at 4h: one message');
});

test('resolve: one resolved message with what was told, after the window; nothing more', async () => {
  const rig = engineRig(['ops'], { group: 1_000 });
  rig.engine.handle(condition('probe:redis:down', { summary: 'redis is down' }));
  await rig.at(1_000);
  rig.engine.handle(resolved('probe:redis:down'));
  await rig.at(1_500);
  assert.equal(rig.channels.ops!.sent.length, 1);
  await rig.at(2_500);
  const last = rig.channels.ops!.sent[1]!;
  assert.equal(last.status, 'resolved');
  assert.equal(last.alerts[0]!.summary, 'redis is down', 'the resolve carries the summary the channel was told');
  assert.ok(last.alerts[0]!.endsAt);
  assert.equal(rig.engine.firing.size, 0);
  await rig.at(10 * HOUR);
  assert.equal(rig.channels.ops!.sent.length, 2, 'no repeat of a resolved condition');
});

test('group: ten conditions within the window are one message, their ten resolutions another', async () => {
  const rig = engineRig();
  for (let i = 0; i < 10; i++) {
    rig.clock.now = i * 1_000;
    rig.engine.handle(condition(`probe:p${i}:down`));
  }
  await rig.at(30_000);
  assert.equal(rig.channels.ops!.sent.length, 1);
  assert.equal(rig.channels.ops!.sent[0]!.alerts.length, 10);
  for (let i = 0; i < 10; i++) rig.engine.handle(resolved(`probe:p${i}:down`));
  await rig.at(60_000);
  assert.equal(rig.channels.ops!.sent.length, 2);
  assert.equal(rig.channels.ops!.sent[1]!.status, 'resolved');
  assert.equal(rig.channels.ops!.sent[1]!.alerts.length, 10);
});

test('group: a condition that fires and resolves within the window is never told; one that resolves and fires back is not told again', async () => {
  const rig = engineRig();
  rig.engine.handle(condition('probe:a:down'));
  rig.engine.handle(resolved('probe:a:down'));
  await rig.at(30_000);
  assert.equal(rig.channels.ops!.sent.length, 0);
  rig.engine.handle(condition('probe:b:down'));
  await rig.at(60_000);
  rig.engine.handle(resolved('probe:b:down'));
  rig.engine.handle(condition('probe:b:down'));
  await rig.at(90_000);
  assert.equal(rig.channels.ops!.sent.length, 1);
});

test('a change of severity is told (warning then critical)', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  rig.engine.handle(condition('cert:api:expiry', { severity: 'warning' }));
  await rig.at(0);
  rig.engine.handle(condition('cert:api:expiry', { severity: 'critical' }));
  await rig.at(1);
  assert.deepEqual(rig.channels.ops!.sent.map((n) => n.alerts[0]!.severity), ['warning', 'critical']);
});

test('routes: by severity and module; a route without match takes everything; the resolve goes where the fire went', async () => {
  const rig = engineRig(['ops', 'tg', 'mail'], {
    group: 0,
    routes: [{ match: { severity: 'critical' }, channels: ['tg'] }, { match: { module: 'backups' }, channels: ['mail'] }, { channels: ['ops'] }],
  });
  rig.engine.handle(condition('probe:a:down'));
  rig.engine.handle(condition('probe:b:down', { severity: 'critical' }));
  rig.engine.handle(condition('backup:pg:run', { module: 'backups' }));
  await rig.at(0);
  const told = (name: string) => rig.channels[name]!.sent.flatMap(keys);
  assert.deepEqual(told('ops'), ['firing:backup:pg:run', 'firing:probe:a:down', 'firing:probe:b:down']);
  assert.deepEqual(told('tg'), ['firing:probe:b:down']);
  assert.deepEqual(told('mail'), ['firing:backup:pg:run']);
  rig.engine.handle(resolved('probe:b:down'));
  await rig.at(1);
  assert.deepEqual(told('tg'), ['firing:probe:b:down', 'resolved:probe:b:down']);
  assert.deepEqual(told('mail'), ['firing:backup:pg:run']);
});

test('rate limit: past it changes wait and go out merged in one message once the window slides', async () => {
  const rig = engineRig(['ops'], { group: 0, rateLimit: { messages: 2, per: 60_000 } });
  for (let i = 0; i < 5; i++) {
    rig.engine.handle(condition(`probe:p${i}:down`));
    await rig.at(i * 1_000);
  }
  assert.equal(rig.channels.ops!.sent.length, 2);
  await rig.at(59_999);
  assert.equal(rig.channels.ops!.sent.length, 2);
  await rig.at(60_000);
  assert.equal(rig.channels.ops!.sent.length, 3);
  assert.deepEqual(rig.channels.ops!.sent[2]!.alerts.map((a) => a.key), ['probe:p2:down', 'probe:p3:down', 'probe:p4:down']);
});

test('retry: 5xx then success is delivered once, after the backoff', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  const ops = rig.channels.ops!;
  ops.behave = retryable();
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(0);
  assert.equal(ops.attempts, 1);
  ops.behave = () => undefined;
  await rig.at(4_999);
  assert.equal(ops.attempts, 1, 'not before the backoff');
  await rig.at(5_000);
  assert.equal(ops.sent.length, 1);
  await rig.at(HOUR - 1);
  assert.equal(ops.sent.length, 1, 'delivered once');
  assert.deepEqual(rig.results, [['ops', 'failed'], ['ops', 'delivered']]);
});

test('retry: Retry-After is honoured over a shorter backoff', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  const ops = rig.channels.ops!;
  ops.behave = retryable(20_000);
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(0);
  ops.behave = () => undefined;
  await rig.at(19_999);
  assert.equal(ops.attempts, 1);
  await rig.at(20_000);
  assert.equal(ops.sent.length, 1);
});

test('retry: a receiver down for long keeps the message queued (capped backoff), counts each failure and delivers when back', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  const ops = rig.channels.ops!;
  ops.behave = retryable();
  rig.engine.handle(condition('probe:redis:down'));
  for (let t = 0; t <= 2 * HOUR; t += 1_000) await rig.at(t);
  const failures = rig.results.filter(([, r]) => r === 'failed').length;
  // 0, 5, 15, 35, 75, 155 s, then every 300 s.
  assert.equal(failures, 6 + Math.floor((2 * HOUR - 155_000) / 300_000));
  assert.equal(rig.engine.channelStates()[0]!.outbox.queue.length, 1, 'still queued');
  ops.behave = () => undefined;
  await rig.at(2 * HOUR + 300_000);
  assert.equal(ops.sent.length, 1);
  assert.equal(rig.engine.channelStates()[0]!.outbox.queue.length, 0);
});

test('retry: a refused message (4xx) is counted as rejected and retried at the longest backoff, not dropped', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  const ops = rig.channels.ops!;
  ops.behave = () => {
    throw new DeliveryError('test://receiver answered HTTP 403', false);
  };
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(0);
  ops.behave = () => undefined;
  await rig.at(299_999);
  assert.equal(ops.sent.length, 0);
  await rig.at(300_000);
  assert.equal(ops.sent.length, 1);
  assert.deepEqual(rig.results.map(([, r]) => r), ['rejected', 'delivered']);
});

test('backoff doubles from min up to max', () => {
  const policy = SETTINGS.retry;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 40].map((n) => retryDelay(policy, n)), [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  assert.equal(retryDelay(policy, 1, 90_000), 90_000);
  assert.equal(retryDelay(policy, 1, 10 * HOUR), HOUR, 'an absurd Retry-After is capped');
});

test('queue: past its limit the oldest message is dropped and counted, never silently', async () => {
  const rig = engineRig(['ops'], { group: 0, rateLimit: { messages: 1000, per: HOUR } });
  rig.channels.ops!.behave = retryable();
  for (let i = 0; i < QUEUE_LIMIT + 3; i++) {
    rig.engine.handle(condition(`probe:p${i}:down`));
    await rig.at(i);
  }
  assert.equal(rig.engine.channelStates()[0]!.outbox.queue.length, QUEUE_LIMIT);
  assert.equal(rig.results.filter(([, r]) => r === 'dropped').length, 3);
});

test('persist: a restored engine knows what was told and when; the same fire is not re-sent, the first-seen resolve is', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  rig.engine.handle(condition('probe:redis:down', { summary: 'redis is down' }));
  await rig.at(0);
  const snapshot = JSON.parse(JSON.stringify(rig.engine.snapshot()));

  const after = engineRig(['ops'], { group: 0 });
  after.engine.restore(snapshot);
  assert.equal(after.engine.firing.size, 1, 'the open alert is not forgotten');
  after.engine.handle(condition('probe:redis:down', { summary: 'redis is down', startsAt: new Date(10_000).toISOString() }));
  await after.at(10_000);
  assert.equal(after.channels.ops!.sent.length, 0, 'not re-sent after the restart');
  await after.at(4 * HOUR);
  assert.equal(after.channels.ops!.sent.length, 1, 'repeat keeps its schedule from before the restart');
  after.engine.handle(resolved('probe:redis:down'));
  await after.at(4 * HOUR + 1);
  assert.equal(after.channels.ops!.sent[1]!.status, 'resolved');
  assert.equal(after.channels.ops!.sent[1]!.alerts[0]!.summary, 'redis is down');
});

test('persist: a queued message survives the restart and is delivered then', async () => {
  const rig = engineRig(['ops'], { group: 0 });
  rig.channels.ops!.behave = retryable();
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(0);
  const after = engineRig(['ops'], { group: 0 });
  after.engine.restore(JSON.parse(JSON.stringify(rig.engine.snapshot())));
  await after.at(5_000);
  assert.deepEqual(after.channels.ops!.sent.map(keys), [['firing:probe:redis:down']]);
});

test('reconfigure: a kept channel keeps what it was told; a new one starts empty; a removed one is returned to be closed', async () => {
  const rig = engineRig(['ops', 'old'], { group: 0 });
  rig.engine.handle(condition('probe:redis:down'));
  await rig.at(0);
  const { RecordingChannel } = await import('./fakes.js');
  const fresh = new RecordingChannel('new');
  const dropped = rig.engine.reconfigure({ ...SETTINGS, group: 0 }, [rig.channels.ops!, fresh]);
  assert.deepEqual(dropped.map((c) => c.name), ['old']);
  await rig.at(1);
  assert.equal(rig.channels.ops!.sent.length, 1, 'the kept channel is not told again');
  assert.deepEqual(fresh.sent.map(keys), [['firing:probe:redis:down']], 'the new channel hears of what already fires');
});

test('reconfigure: a route that now sends a firing condition to another channel tells that channel once', async () => {
  const rig = engineRig(['ops', 'tg'], { group: 0, routes: [{ channels: ['ops'] }] });
  rig.engine.handle(condition('probe:redis:down', { severity: 'critical' }));
  await rig.at(0);
  assert.equal(rig.channels.tg!.sent.length, 0);
  rig.engine.reconfigure({ ...SETTINGS, group: 0, routes: [{ channels: ['ops'] }, { match: { severity: 'critical' }, channels: ['tg'] }] }, Object.values(rig.channels));
  await rig.at(1);
  await rig.at(2);
  assert.equal(rig.channels.ops!.sent.length, 1);
  assert.equal(rig.channels.tg!.sent.length, 1);
});
