import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AdminHost } from './host.js';
import { PAGE_SCRIPT, PAGE_STYLE, pageBody, tokenForm } from './status-page-html.js';
import { pageCookieHeader, presentsToken, tokenMatches } from './token.js';

export const STATUS_PAGE_PATH = '/';

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
/** Only the page's own inline style and script run, it only talks to this listener, and no other site may frame it. */
const CSP = [
  "default-src 'none'",
  `style-src ${hash(PAGE_STYLE)}`,
  `script-src ${hash(PAGE_SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .status(status)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    // The first visit carries the token in its URL; no link may pass that URL on.
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body);
}

/**
 * `GET /`: the status page. With `admin.token` set it needs the token: `/?token=…` (or the form, which
 * sends the same) sets an HttpOnly, SameSite=Strict cookie and redirects to `/`, so the token leaves
 * the address bar and history; the page's script then reads the JSON routes with that cookie.
 */
export const statusPageRoutes: FastifyPluginAsync<{ agent: AdminHost }> = async (app, { agent }) => {
  app.get<{ Querystring: { token?: string } }>(STATUS_PAGE_PATH, { schema: { hide: true } }, async (request, reply) => {
    const token = agent.current.admin.token;
    const given = request.query.token;
    if (token && given !== undefined) {
      if (!tokenMatches(given, token)) return html(reply, 401, tokenForm('That is not the admin token (admin.token in the config).'));
      return reply.status(303).header('set-cookie', pageCookieHeader(token)).header('referrer-policy', 'no-referrer').header('location', STATUS_PAGE_PATH).send();
    }
    if (token && !presentsToken(request, token)) return html(reply, 401, tokenForm('This agent has an admin token: enter it once, the browser keeps it for this page.'));
    return html(reply, 200, pageBody(agent.status()));
  });
};
