import { backupsDoctor } from './doctor.js';
import { defineModule } from '../../agent/kit/module.js';
import { backupCommands } from './cli.js';
import { redisCopyCommand } from './redis/copy-command.js';
import { configSchema } from './config.js';
import { declareMetrics } from './metrics.js';
import { routes } from './routes.js';
import { BackupRunner } from './runner.js';

export const backups = defineModule({
  name: 'backups',
  prefix: '/backups',
  config: configSchema,
  metrics: declareMetrics,
  routes,
  create: (ctx, config, metrics) => new BackupRunner(ctx, config, metrics),
  commands: [...backupCommands, redisCopyCommand],
  doctor: backupsDoctor,
});
