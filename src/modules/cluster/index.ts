import { defineModule } from '../../agent/kit/module.js';
import { clusterCommand } from './cli.js';
import { configSchema } from './config.js';
import { declareMetrics } from './metrics.js';
import { ClusterNode } from './node.js';
import { routes } from './routes.js';

export const cluster = defineModule({
  name: 'cluster',
  prefix: '/cluster',
  config: configSchema,
  metrics: declareMetrics,
  routes,
  create: (ctx, config, metrics) => new ClusterNode(ctx, config, metrics),
  commands: [clusterCommand],
  providesCluster: true,
});
