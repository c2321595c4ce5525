import { defineModule } from '../../agent/kit/module.js';
import { Alerter } from './alerter.js';
import { alertsCommand } from './cli.js';
import { configSchema } from './config.js';
import { declareMetrics } from './metrics.js';
import { routes } from './routes.js';

export const alerts = defineModule({
  name: 'alerts',
  prefix: '/alerts',
  config: configSchema,
  metrics: declareMetrics,
  routes,
  create: (ctx, config, metrics) => new Alerter(ctx, config, metrics),
  commands: [alertsCommand],
});
