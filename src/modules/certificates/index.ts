import { adoptCertbotCommand } from './adopt/command.js';
import { certificatesDoctor } from './doctor.js';
import { defineModule } from '../../agent/kit/module.js';
import { certsCommand } from './cli.js';
import { configSchema } from './config.js';
import { CertificateManager } from './manager.js';
import { declareMetrics } from './metrics.js';
import { routes } from './routes.js';

export const certificates = defineModule({
  name: 'certificates',
  prefix: '/certs',
  config: configSchema,
  metrics: declareMetrics,
  routes,
  create: (ctx, config, metrics) => new CertificateManager(ctx, config, metrics),
  commands: [certsCommand, adoptCertbotCommand],
  doctor: certificatesDoctor,
});
