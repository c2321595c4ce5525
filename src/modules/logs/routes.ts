import type { FastifyPluginAsync } from 'fastify';
import { errorResponses, itemParams, responseSchema } from '../../agent/kit/answers.js';
import type { RoutesOptions } from '../../agent/kit/module.js';
import { logsStatus, rotationOutcome } from './answers.js';
import type { Rotator } from './rotator.js';

const nameParams = itemParams('name', 'log set name from the config');

/** GET /logs (state of every set), POST /logs/:name/rotate (rotate now; 409 while one runs). */
export const routes: FastifyPluginAsync<RoutesOptions<Rotator>> = async (app, opts) => {
  app.get('/', { schema: { summary: 'Rotation state of every log set', tags: ['logs'], response: { 200: responseSchema(logsStatus) } } }, async () =>
    opts.live.current().status(),
  );

  app.post<{ Params: { name: string } }>(
    '/:name/rotate',
    {
      schema: {
        summary: 'Rotate a log set now, whatever its triggers say',
        tags: ['logs'],
        params: nameParams,
        response: {
          200: responseSchema(rotationOutcome),
          ...errorResponses({ 404: 'no log set of that name, or the module is not configured', 409: 'a rotation of the set is in progress' }),
        },
      },
    },
    async (request) => opts.live.current().rotate(request.params.name),
  );
};
