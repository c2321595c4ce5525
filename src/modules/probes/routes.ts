import type { FastifyPluginAsync } from 'fastify';
import { errorResponses, itemParams, responseSchema } from '../../agent/kit/answers.js';
import type { RoutesOptions } from '../../agent/kit/module.js';
import { probesAnswer, probeView } from './answers.js';
import type { Prober } from './prober.js';

const nameParams = itemParams('name', 'probe name from the config');

/** `GET /probes`, `GET /probes/:name`: the latest result and latency of each probe; `POST /probes/:name/check` checks one now. */
export const routes: FastifyPluginAsync<RoutesOptions<Prober>> = async (app, opts) => {
  app.get('/', { schema: { summary: 'every probe with its latest result', tags: ['probes'], response: { 200: responseSchema(probesAnswer) } } }, async () => ({
    probes: opts.live.current().list(),
  }));

  app.get<{ Params: { name: string } }>(
    '/:name',
    {
      schema: {
        summary: 'one probe with its latest result',
        tags: ['probes'],
        params: nameParams,
        response: { 200: responseSchema(probeView), ...errorResponses({ 404: 'no probe of that name, or the module is not configured' }) },
      },
    },
    async (request) => opts.live.current().get(request.params.name),
  );

  app.post<{ Params: { name: string } }>(
    '/:name/check',
    {
      schema: {
        summary: 'checks one probe now (or waits for the check in flight) and answers its result',
        tags: ['probes'],
        params: nameParams,
        response: { 200: responseSchema(probeView), ...errorResponses({ 404: 'no probe of that name, or the module is not configured' }) },
      },
    },
    async (request) => {
      const prober = opts.live.current();
      await prober.checkNow(request.params.name);
      return prober.get(request.params.name);
    },
  );
};
