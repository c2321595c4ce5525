import type { FastifyPluginAsync } from 'fastify';
import { responseSchema } from '../../agent/kit/answers.js';
import type { RoutesOptions } from '../../agent/kit/module.js';
import type { Alerter } from './alerter.js';
import { alertsAnswer } from './answers.js';

/** `GET /alerts`: what fires, and each channel's queue and last delivery. */
export const routes: FastifyPluginAsync<RoutesOptions<Alerter>> = async (app, opts) => {
  app.get(
    '/',
    { schema: { summary: 'firing conditions, each channel’s last delivery and queue, the agent heartbeat', tags: ['alerts'], response: { 200: responseSchema(alertsAnswer) } } },
    async () => opts.live.current().view(),
  );
};
