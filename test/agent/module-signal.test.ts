import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ConditionBus } from '../../src/agent/kit/conditions.js';
import { ConflictBoard } from '../../src/agent/kit/conflicts.js';
import { ClusterSlot } from '../../src/agent/kit/cluster.js';
import { createRegistrar } from '../../src/agent/kit/metrics.js';
import { ModuleSlot } from '../../src/agent/module-slot.js';
import { widgets } from '../helpers/widgets-module.js';

test("a module's stop signal takes one listener per probe or job without Node's leak warning", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-signal-'));
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  const listening = new Set<() => void>();
  const spec = {
    ...widgets,
    create: (ctx: Parameters<typeof widgets.create>[0], config: Parameters<typeof widgets.create>[1], metrics: Parameters<typeof widgets.create>[2]) => {
      // 50 probes checking at once, each waiting on the module's signal as the probes module does.
      for (let i = 0; i < 50; i++) {
        const listener = () => undefined;
        ctx.signal.addEventListener('abort', listener, { once: true });
        listening.add(listener);
      }
      return widgets.create(ctx, config, metrics);
    },
  };
  const slot = new ModuleSlot(spec, widgets.metrics(createRegistrar(new Registry())), pino({ level: 'silent' }), new ConditionBus(), new ConflictBoard(), new ClusterSlot());
  try {
    await slot.start([{ name: 'one' }], dir, 1000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(listening.size, 50);
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning'), []);
  } finally {
    await slot.stop(1000);
    process.off('warning', onWarning);
    await rm(dir, { recursive: true, force: true });
  }
});
