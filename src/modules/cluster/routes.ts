import type { FastifyPluginAsync } from 'fastify';
import { responseSchema } from '../../agent/kit/answers.js';
import type { RoutesOptions } from '../../agent/kit/module.js';
import { clusterAnswer } from './answers.js';
import type { ClusterNode } from './node.js';

/** `GET /cluster`: the nodes seen, each lease with its holder, token, fence and expiry. */
export const routes: FastifyPluginAsync<RoutesOptions<ClusterNode>> = async (app, opts) => {
  app.get('/', { schema: { summary: 'nodes and leases of the cluster, as its Redis says now', tags: ['cluster'], response: { 200: responseSchema(clusterAnswer) } } }, async () =>
    opts.live.current().answer(),
  );
};
