import { defineModule } from '../../agent/kit/module.js';
import { probesCommand } from './cli.js';
import { configSchema } from './config.js';
import { declareMetrics } from './metrics.js';
import { Prober } from './prober.js';
import { routes } from './routes.js';

export const probes = defineModule({
  name: 'probes',
  prefix: '/probes',
  config: configSchema,
  metrics: declareMetrics,
  routes,
  create: (ctx, config, metrics) => new Prober(ctx, config, metrics),
  commands: [probesCommand],
});
