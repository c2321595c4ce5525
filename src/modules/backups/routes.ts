import type { FastifyPluginAsync } from 'fastify';
import { errorResponses, itemParams, responseSchema } from '../../agent/kit/answers.js';
import type { RoutesOptions } from '../../agent/kit/module.js';
import { backupsAnswer, jobDetail, runStartedAnswer } from './answers.js';
import type { BackupRunner } from './runner.js';

const jobParams = itemParams('job', 'backup job name');

/** GET /backups, GET /backups/:job, POST /backups/:job/run, POST /backups/:job/drill (mounted under the module prefix). */
export const routes: FastifyPluginAsync<RoutesOptions<BackupRunner>> = async (app, opts) => {
  const notFound = errorResponses({ 404: 'no backup job of that name, or the module is not configured' });
  app.get('/', { schema: { summary: 'Backup jobs and their last results', tags: ['backups'], response: { 200: responseSchema(backupsAnswer) } } }, async () =>
    opts.live.current().status(),
  );

  app.get<{ Params: { job: string } }>(
    '/:job',
    { schema: { summary: 'One backup job with its backup files', tags: ['backups'], params: jobParams, response: { 200: responseSchema(jobDetail), ...notFound } } },
    async (request) => opts.live.current().job(request.params.job),
  );

  app.post<{ Params: { job: string } }>(
    '/:job/run',
    {
      schema: {
        summary: 'Start a backup now (202); 409 while one is running',
        tags: ['backups'],
        params: jobParams,
        response: { 202: responseSchema(runStartedAnswer), ...notFound, ...errorResponses({ 409: 'a run of the job is in progress' }) },
      },
    },
    async (request, reply) => reply.status(202).send({ started: true, job: opts.live.current().runNow(request.params.job) }),
  );

  app.post<{ Params: { job: string } }>(
    '/:job/drill',
    {
      schema: {
        summary: 'Start a restore drill now (202): the newest verified backup restored into a scratch target and compared; its result in GET /backups/:job',
        tags: ['backups'],
        params: jobParams,
        response: {
          202: responseSchema(runStartedAnswer),
          ...notFound,
          ...errorResponses({ 400: 'the job has no drill configured', 409: 'a drill of the job is in progress' }),
        },
      },
    },
    async (request, reply) => reply.status(202).send({ started: true, job: opts.live.current().drillNow(request.params.job) }),
  );
};
