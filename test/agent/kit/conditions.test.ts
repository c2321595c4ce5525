import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConditionBus, type ConditionEvent } from '../../../src/agent/kit/conditions.js';

function recorded(bus: ConditionBus): ConditionEvent[] {
  const events: ConditionEvent[] = [];
  bus.watch((event) => events.push(event));
  return events;
}

test('a condition is passed on when it starts, when its severity or summary changes and when it resolves, not on repeats', () => {
  let clock = Date.parse('2026-12-01T03:00:00Z');
  const bus = new ConditionBus(() => new Date(clock));
  const events = recorded(bus);
  const probes = bus.reporter('probes');
  probes.fire({ key: 'probe:redis:down', severity: 'critical', summary: 'redis is down', detail: 'ECONNREFUSED', item: 'redis' });
  clock += 1000;
  probes.fire({ key: 'probe:redis:down', severity: 'critical', summary: 'redis is down', detail: 'timeout', item: 'redis' });
  assert.equal(events.length, 1, 'a repeat with another detail is not a change');
  assert.equal(bus.firing()[0]?.detail, 'timeout', 'but the snapshot has the latest detail');
  probes.fire({ key: 'probe:redis:down', severity: 'warning', summary: 'redis is down', item: 'redis' });
  clock += 1000;
  probes.resolve('probe:redis:down');
  probes.resolve('probe:redis:down');
  assert.deepEqual(
    events.map((e) => [e.status, e.severity, e.module, e.startsAt, e.endsAt]),
    [
      ['firing', 'critical', 'probes', '2026-12-01T03:00:00.000Z', undefined],
      ['firing', 'warning', 'probes', '2026-12-01T03:00:00.000Z', undefined],
      ['resolved', 'warning', 'probes', '2026-12-01T03:00:00.000Z', '2026-12-01T03:00:02.000Z'],
    ],
  );
  assert.deepEqual(bus.firing(), []);
});

test('the first resolve of a key never seen firing is passed on once (an alert open before a restart closes)', () => {
  const bus = new ConditionBus();
  const events = recorded(bus);
  const backups = bus.reporter('backups');
  backups.resolve('backup:pg:run');
  backups.resolve('backup:pg:run');
  assert.deepEqual(events.map((e) => [e.key, e.status, e.module]), [['backup:pg:run', 'resolved', 'backups']]);
});

test("resolveItem ends only that module's conditions about that item", () => {
  const bus = new ConditionBus();
  const certs = bus.reporter('certificates');
  certs.fire({ key: 'cert:a:renewal', severity: 'warning', summary: 'a', item: 'a' });
  certs.fire({ key: 'cert:a:expiry', severity: 'critical', summary: 'a', item: 'a' });
  certs.fire({ key: 'cert:b:renewal', severity: 'warning', summary: 'b', item: 'b' });
  bus.reporter('logs').fire({ key: 'logs:a:rotation', severity: 'warning', summary: 'a', item: 'a' });
  certs.resolveItem('a');
  assert.deepEqual(bus.firing().map((e) => e.key).sort(), ['cert:b:renewal', 'logs:a:rotation']);
});

test('a throwing subscriber neither stops the report nor the other subscribers', () => {
  const bus = new ConditionBus();
  bus.watch(() => {
    throw new Error('bug');
  });
  const events = recorded(bus);
  bus.reporter('agent').fire({ key: 'agent:reload', severity: 'critical', summary: 'reload refused' });
  assert.equal(events.length, 1);
});

test('resolveModule ends every condition of that module, and only those', () => {
  const bus = new ConditionBus();
  const events = recorded(bus);
  bus.reporter('probes').fire({ key: 'probe:a:down', severity: 'warning', summary: 'a is down', item: 'a' });
  bus.reporter('probes').fire({ key: 'probe:b:down', severity: 'critical', summary: 'b is down' });
  bus.reporter('logs').fire({ key: 'logs:app:rotation', severity: 'warning', summary: 'rotation of app failed', item: 'app' });
  bus.resolveModule('probes');
  assert.deepEqual(
    events.filter((e) => e.status === 'resolved').map((e) => [e.key, e.module]),
    [
      ['probe:a:down', 'probes'],
      ['probe:b:down', 'probes'],
    ],
  );
  assert.deepEqual(bus.firing().map((e) => e.key), ['logs:app:rotation']);
  bus.resolveModule('probes');
  assert.equal(events.length, 5, 'nothing more once they are resolved');
});

test('stillConfigured: unknown until start-up is done, then from the items each module lists', () => {
  const bus = new ConditionBus();
  const probes = bus.reporter('probes');
  bus.reporter('alerts');
  probes.present('redis');
  probes.present('api');
  assert.equal(bus.stillConfigured({ module: 'probes', item: 'gone' }), undefined);
  bus.startupDone();
  assert.equal(bus.stillConfigured({ module: 'probes', item: 'redis' }), true);
  assert.equal(bus.stillConfigured({ module: 'probes', item: 'gone' }), false);
  assert.equal(bus.stillConfigured({ module: 'alerts', item: 'host' }), true, 'a module that lists no items keeps its conditions');
  assert.equal(bus.stillConfigured({ module: 'logs', item: 'app' }), false, 'a module that is not running');
  probes.resolveItem('api');
  assert.equal(bus.stillConfigured({ module: 'probes', item: 'api' }), false, 'an item removed by a reload');
  bus.resolveModule('probes');
  assert.equal(bus.stillConfigured({ module: 'probes', item: 'redis' }), false, 'a section removed by a reload');
});
