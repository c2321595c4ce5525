import type { FastifyPluginAsync } from 'fastify';
import type { RoutesOptions } from '../../agent/kit/module.js';
import type { BackupRunner } from './runner.js';

const jobParams = {
  type: 'object',
  required: ['job'],
  properties: { job: { type: 'string', description: 'backup job name' } },
} as const;

/** GET /backups, GET /backups/:job, POST /backups/:job/run (mounted under the module prefix). */
export const backupRoutes: FastifyPluginAsync<RoutesOptions<BackupRunner>> = async (app, opts) => {
  app.get('/', { schema: { summary: 'Backup jobs and their last results' } }, async () => opts.live.current().status());

  app.get<{ Params: { job: string } }>(
    '/:job',
    { schema: { summary: 'One backup job with its backup files', params: jobParams } },
    async (request) => opts.live.current().job(request.params.job),
  );

  app.post<{ Params: { job: string } }>(
    '/:job/run',
    { schema: { summary: 'Start a backup now (202); 409 while one is running', params: jobParams } },
    async (request, reply) => reply.status(202).send({ started: true, job: opts.live.current().runNow(request.params.job) }),
  );
};
