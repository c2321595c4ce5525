import type { FastifyPluginAsync } from 'fastify';
import { errorResponses, itemParams, responseSchema } from '../../agent/kit/answers.js';
import type { RoutesOptions } from '../../agent/kit/module.js';
import { certificatesAnswer, certificateView, renewOutcome } from './answers.js';
import type { CertificateManager } from './manager.js';

const nameParams = itemParams('name', 'certificate name from the config');

/** GET /certs, GET /certs/:name, POST /certs/:name/renew (mounted under the module prefix). */
export const routes: FastifyPluginAsync<RoutesOptions<CertificateManager>> = async (app, opts) => {
  const notFound = errorResponses({ 404: 'no certificate of that name, or the module is not configured' });
  app.get(
    '/',
    { schema: { summary: 'Every configured certificate with its validity and renewal plan', tags: ['certificates'], response: { 200: responseSchema(certificatesAnswer) } } },
    async () => ({ certificates: opts.live.current().list() }),
  );

  app.get<{ Params: { name: string } }>(
    '/:name',
    { schema: { summary: 'One certificate', tags: ['certificates'], params: nameParams, response: { 200: responseSchema(certificateView), ...notFound } } },
    async (request) => opts.live.current().get(request.params.name),
  );

  app.post<{ Params: { name: string } }>(
    '/:name/renew',
    {
      schema: {
        summary: 'Order a new certificate now; answers when the order is done (result success or failure). 409 while one is in progress.',
        tags: ['certificates'],
        params: nameParams,
        response: { 200: responseSchema(renewOutcome), ...notFound, ...errorResponses({ 409: 'a renewal of it is in progress' }) },
      },
    },
    async (request) => opts.live.current().renew(request.params.name),
  );
};
