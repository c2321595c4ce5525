import type { FastifyPluginAsync } from 'fastify';
import { responseSchema } from '../kit/answers.js';
import { deepHealthAnswer, healthAnswer, reloadAnswer, reloadRefusedAnswer, statusAnswer } from './answers.js';
import type { AdminHost } from './host.js';

/** The agent's own routes: liveness, readiness, status, reload and the API description. */
export const agentRoutes: FastifyPluginAsync<{ agent: AdminHost }> = async (app, { agent }) => {
  app.get(
    '/health',
    { schema: { summary: 'Liveness: 200 while the agent runs', tags: ['agent'], response: { 200: responseSchema(healthAnswer) } } },
    async () => ({ status: 'ok' }),
  );

  const deepHealth = responseSchema(deepHealthAnswer);
  app.get(
    '/health/deep',
    {
      schema: {
        summary: 'Readiness: 200 when every critical check is up, else 503 with per-check detail',
        tags: ['agent'],
        response: { 200: deepHealth, 503: { ...deepHealth, description: 'a critical check is failing' } },
      },
    },
    async (_request, reply) => {
      const health = agent.deepHealth();
      return reply.status(health.ok ? 200 : 503).send({ status: health.ok ? 'ok' : 'failing', ...health });
    },
  );

  app.get(
    '/status',
    { schema: { summary: 'Version, uptime, each module’s state and next runs', tags: ['agent'], response: { 200: responseSchema(statusAnswer) } } },
    async () => agent.status(),
  );

  app.post(
    '/reload',
    {
      schema: {
        summary: 'Re-read the config file (same as SIGHUP); 400 with the issues when it is invalid',
        tags: ['agent'],
        response: {
          200: responseSchema(reloadAnswer),
          400: responseSchema(reloadRefusedAnswer, 'the config file is invalid (invalid_config, with its issues); the running config stays'),
        },
      },
    },
    async (_request, reply) => {
      const report = await agent.reload();
      if (report.issues) {
        return reply.status(400).send({
          error: 'invalid_config',
          message: 'the config file is invalid; the running config stays',
          issues: report.issues,
        });
      }
      return reply.status(200).send(report);
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};
