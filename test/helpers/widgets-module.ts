import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../src/agent/kit/errors.js';
import { defineModule, type ModuleContext, type ModuleInstance, type RoutesOptions } from '../../src/agent/kit/module.js';
import { diffByName } from '../../src/agent/kit/named.js';
import { duration, itemName, namedList } from '../../src/agent/kit/schema.js';

/**
 * A stand-in module for testing the agent through the real module contract: it records every
 * lifecycle call, and its items' health is set by the test.
 */
const widgetSchema = z.strictObject({
  name: itemName(),
  interval: duration().prefault('1m'),
  critical: z.boolean().default(false),
  failStart: z.boolean().default(false),
  failReload: z.boolean().default(false),
  /** Reported as handled by another tool too (a conflict of kind `othertool`). */
  alsoHandledElsewhere: z.boolean().default(false),
  /** Fires the condition `widget:<name>:broken` at start. */
  broken: z.boolean().default(false),
});
const sectionSchema = namedList(widgetSchema);
type Section = z.output<typeof sectionSchema>;

export const widgetEvents: string[] = [];
export const widgetHealth = new Map<string, boolean>();

class Widgets implements ModuleInstance<Section> {
  constructor(
    private readonly ctx: ModuleContext,
    private config: Section,
  ) {}
  async start() {
    widgetEvents.push(`start:${this.config.map((w) => w.name).join(',')}`);
    const refusing = this.config.find((w) => w.failStart);
    if (refusing) throw new Error('widget refused to start', { cause: new Error(`ECONNREFUSED 127.0.0.1:1 (widget ${refusing.name})`) });
    for (const widget of this.config) this.ctx.schedule({ name: widget.name, everyMs: widget.interval }, async () => undefined);
    for (const widget of this.config.filter((w) => w.broken)) this.ctx.conditions.fire({ key: `widget:${widget.name}:broken`, severity: 'warning', summary: `${widget.name} is broken`, item: widget.name });
    this.reportConflicts();
  }
  private reportConflicts() {
    const found = this.config.filter((w) => w.alsoHandledElsewhere);
    this.ctx.conflicts.set('othertool', found.map((w) => ({ item: w.name, detail: `othertool also handles ${w.name} (/etc/othertool.d/${w.name})`, fix: `caretaker adopt othertool ${w.name}` })));
  }
  async reload(next: Section) {
    const diff = diffByName(this.config, next);
    widgetEvents.push(`reload:+${diff.added.map((w) => w.name)}-${diff.removed.map((w) => w.name)}~${diff.changed.map(([, w]) => w.name)}`);
    if (next.some((w) => w.failReload)) throw new Error('widget reload failed');
    this.config = next;
    this.reportConflicts();
  }
  async stop() {
    widgetEvents.push('stop');
  }
  health() {
    const checks = this.config.map((w) => ({ name: w.name, ok: widgetHealth.get(w.name) ?? true, critical: w.critical }));
    return { status: checks.every((c) => c.ok) ? ('ok' as const) : ('degraded' as const), checks };
  }
  status() {
    return { widgets: this.config.map((w) => w.name) };
  }
  get(name: string) {
    const widget = this.config.find((w) => w.name === name);
    if (!widget) throw new NotFoundError('widget', name);
    return widget;
  }
}

const routes: FastifyPluginAsync<RoutesOptions<Widgets>> = async (app, { live }) => {
  app.get('/', async () => live.current().status());
  app.get<{ Params: { name: string } }>('/:name', async (request) => live.current().get(request.params.name));
  app.post<{ Params: { name: string }; Body: { note?: string } }>(
    '/:name/poke',
    { schema: { body: { type: 'object', properties: { note: { type: 'string', maxLength: 100 } }, additionalProperties: false } } },
    async (request) => ({ poked: live.current().get(request.params.name).name, note: request.body?.note ?? null }),
  );
};

export const widgets = defineModule({
  name: 'widgets',
  prefix: '/widgets',
  config: sectionSchema,
  metrics: (registrar) => ({
    pokes: registrar.counter({ name: 'caretaker_widget_pokes_total', help: 'Test counter.', labelNames: ['widget'] as const }),
  }),
  routes,
  create: (ctx, config) => new Widgets(ctx, config),
});
