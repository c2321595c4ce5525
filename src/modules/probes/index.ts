import { defineModule } from '../../agent/kit/module.js';
import { probesCommand } from './cli.js';
import { probesSectionSchema } from './config.js';
import { declareProbeMetrics } from './metrics.js';
import { Prober } from './prober.js';
import { probeRoutes } from './routes.js';

export const probes = defineModule({
  name: 'probes',
  prefix: '/probes',
  config: probesSectionSchema,
  metrics: declareProbeMetrics,
  routes: probeRoutes,
  create: (ctx, config, metrics) => new Prober(ctx, config, metrics),
  commands: [probesCommand],
});
