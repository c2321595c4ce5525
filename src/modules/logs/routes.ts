import type { FastifyPluginAsync } from 'fastify';
import type { RoutesOptions } from '../../agent/kit/module.js';
import type { Rotator } from './rotator.js';

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', description: 'log set name from the config' } },
} as const;

/** GET /logs (state of every set), POST /logs/:name/rotate (rotate now; 409 while one runs). */
export const routes: FastifyPluginAsync<RoutesOptions<Rotator>> = async (app, opts) => {
  app.get('/', { schema: { summary: 'Rotation state of every log set', tags: ['logs'] } }, async () => opts.live.current().status());

  app.post<{ Params: { name: string } }>(
    '/:name/rotate',
    { schema: { summary: 'Rotate a log set now, whatever its triggers say', tags: ['logs'], params: nameParams } },
    async (request) => opts.live.current().rotate(request.params.name),
  );
};
