import type { FastifyPluginAsync } from 'fastify';
import type { RoutesOptions } from '../../agent/kit/module.js';
import type { Prober } from './prober.js';

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', description: 'probe name from the config' } },
  required: ['name'],
} as const;

/** `GET /probes` and `GET /probes/:name`: the latest result and latency of each probe. */
export const probeRoutes: FastifyPluginAsync<RoutesOptions<Prober>> = async (app, opts) => {
  app.get('/', { schema: { summary: 'every probe with its latest result', tags: ['probes'] } }, async () => ({
    probes: opts.live.current().list(),
  }));

  app.get<{ Params: { name: string } }>(
    '/:name',
    { schema: { summary: 'one probe with its latest result', tags: ['probes'], params: nameParams } },
    async (request) => opts.live.current().get(request.params.name),
  );
};
