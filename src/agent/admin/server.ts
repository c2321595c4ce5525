import { unlink } from 'node:fs/promises';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { AdminSettings } from '../config/schema.js';
import { CaretakerError } from '../kit/errors.js';
import { LISTENER_LIMITS, limitConnections, serverOptions } from '../kit/http-limits.js';
import { formatListen } from '../kit/schema.js';
import type { ModuleSlot } from '../module-slot.js';
import { clientErrorHandler, errorHandler, notFoundHandler } from './error-handler.js';
import { checkBrowserRequest, ownHostNames, SAFE_METHODS } from './guard.js';
import type { AdminHost } from './host.js';
import { agentRoutes } from './routes.js';
import { STATUS_PAGE_PATH, statusPageRoutes } from './status-page.js';
import { presentsToken } from './token.js';

export interface AdminServer {
  readonly app: FastifyInstance;
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Mutations need the token when one is set; with remote access allowed, every route does. The status
 * page answers for itself: it takes the token from its URL once and answers a form, not JSON, without it.
 */
function authorize({ token, allowRemote }: AdminSettings, request: FastifyRequest): void {
  if (!token || request.routeOptions.url === STATUS_PAGE_PATH) return;
  if (SAFE_METHODS.has(request.method) && !allowRemote) return;
  if (!presentsToken(request, token)) {
    throw new CaretakerError(401, 'unauthorized', 'this route needs the admin token: Authorization: Bearer <admin.token>');
  }
}

/**
 * The admin app with every route mounted; module routes find the instance running now on each request.
 * Host names are those of the address bound at start: a new `admin.listen` needs a restart anyway.
 */
export async function buildAdminApp(agent: AdminHost, slots: readonly ModuleSlot[], log: Logger): Promise<FastifyInstance> {
  const limits = LISTENER_LIMITS;
  const names = ownHostNames(agent.current.admin.listen);
  const app: FastifyInstance = Fastify({
    // fastify logs every request and its own listening at info; only problems belong in the agent's log.
    loggerInstance: log.child({}, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    http: serverOptions(limits),
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    clientErrorHandler: clientErrorHandler(limits),
    // A bad percent-encoding or an overlong path segment, which fastify answers before any handler.
    frameworkErrors: errorHandler,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    // An unknown field in a request body is the caller's mistake: refuse it rather than drop it silently.
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.setErrorHandler(errorHandler);
  // Answers go out with JSON.stringify, not compiled from their response schemas: fast-json-stringify's ~25
  // serializers cost 1.5 MiB of heap against the idle budget, for a loopback API that is never hot, and it
  // would silently drop a field a schema forgot. The schemas describe the bodies; test/agent/openapi.test.ts
  // checks the answers against them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onRequest', async (request) => {
    const settings = agent.current.admin;
    checkBrowserRequest(request, names, settings.allowRemote && settings.token !== undefined);
    authorize(settings, request);
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'caretaker admin API', version: agent.version },
    },
  });
  await app.register(agentRoutes, { agent });
  await app.register(statusPageRoutes, { agent });
  for (const slot of slots) {
    await app.register(slot.spec.routes, {
      prefix: slot.spec.prefix,
      live: {
        current: () => {
          const instance = slot.instance;
          if (!instance) {
            throw new CaretakerError(404, 'not_configured', `the ${slot.name} module is not configured (no '${slot.name}' section in the config)`);
          }
          return instance;
        },
      },
    });
  }
  await app.ready();
  limitConnections(app.server, limits, log);
  return app;
}

export async function startAdminServer(agent: AdminHost, slots: readonly ModuleSlot[], log: Logger): Promise<AdminServer> {
  const app = await buildAdminApp(agent, slots, log);
  const listen = agent.current.admin.listen;
  if (listen.kind === 'unix') {
    await unlink(listen.path).catch(() => undefined);
    await app.listen({ path: listen.path });
  } else {
    await app.listen({ host: listen.host, port: listen.port });
  }
  const bound = app.server.address();
  const address = listen.kind === 'tcp' && bound && typeof bound === 'object' ? formatListen({ ...listen, port: bound.port }) : formatListen(listen);
  return { app, address, close: () => app.close() };
}
