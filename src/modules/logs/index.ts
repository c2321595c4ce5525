import { logsDoctor } from './doctor.js';
import { defineModule } from '../../agent/kit/module.js';
import { adoptLogrotateCommand } from './adopt/command.js';
import { logsCommand } from './cli.js';
import { configSchema } from './config.js';
import { declareMetrics } from './metrics.js';
import { Rotator } from './rotator.js';
import { routes } from './routes.js';

export const logs = defineModule({
  name: 'logs',
  prefix: '/logs',
  config: configSchema,
  metrics: declareMetrics,
  routes,
  create: (ctx, config, metrics) => new Rotator(ctx, config, metrics),
  commands: [logsCommand, adoptLogrotateCommand],
  doctor: logsDoctor,
});
