import type { FastifyRequest } from 'fastify';
import { CaretakerError } from '../kit/errors.js';
import type { ListenAddress } from '../kit/schema.js';

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The names a client may put in `Host` for this listener. Anything else is a page on another site that
 * got its DNS name pointed at us (DNS rebinding) and would otherwise be same-origin with the API.
 * A unix socket has none to check: no browser reaches it except through a proxy, which picks the Host.
 */
export function ownHostNames(listen: ListenAddress): ReadonlySet<string> | undefined {
  if (listen.kind === 'unix') return undefined;
  return new Set(['127.0.0.1', 'localhost', '::1', listen.host.toLowerCase()]);
}

/** `Host` or an origin's host without port or IPv6 brackets, lowercased. */
function bareHost(authority: string): string {
  const match = /^(?:\[([^\]]*)\]|([^:]*))(?::\d*)?$/.exec(authority.trim().toLowerCase());
  return match?.[1] ?? match?.[2] ?? authority;
}

function listNames(names: ReadonlySet<string>): string {
  return [...names].map((name) => (name.includes(':') ? `[${name}]` : name)).join(', ');
}

function isOwnOrigin(origin: string, request: FastifyRequest, names: ReadonlySet<string> | undefined): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `Origin: null` (sandboxed frames, file: pages) or garbage
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  // Behind a proxy on a unix socket the page's own origin is the Host the proxy passes on.
  if (!names) return url.host === request.headers.host?.toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return names.has(bareHost(url.host)) && port === request.socket.localPort;
}

/**
 * Browser-borne requests: any Host that is not ours is refused, unless every route needs the token
 * (`allowRemote`), which a rebound page does not have, and remote callers may use any DNS name. A
 * change (POST…) from another origin, or with a body a form or `fetch(no-cors)` can send (text/plain,
 * form encodings), is refused before the token check, so it holds without a token too. The CLI and
 * curl send no Origin and JSON bodies.
 */
export function checkBrowserRequest(request: FastifyRequest, names: ReadonlySet<string> | undefined, everyRouteNeedsToken: boolean): void {
  const host = request.headers.host;
  if (names && !everyRouteNeedsToken && host !== undefined && !names.has(bareHost(host))) {
    throw new CaretakerError(
      421,
      'unknown_host',
      `Host '${host}' is not a name of this admin API (${listNames(names)}); call it by one of those (other names are refused against DNS rebinding)`,
    );
  }
  if (SAFE_METHODS.has(request.method)) return;
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') {
    throw new CaretakerError(403, 'forbidden', `a ${site} browser request may not change anything here; use the caretaker CLI or curl`);
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, request, names)) {
    throw new CaretakerError(403, 'forbidden', `Origin '${origin}' is not this admin API; a page on another site may not change anything here`);
  }
  const hasBody = (request.headers['content-length'] ?? '0') !== '0' || request.headers['transfer-encoding'] !== undefined;
  const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (hasBody && mediaType !== 'application/json') {
    throw new CaretakerError(415, 'unsupported_media_type', `a request body must be application/json, not ${mediaType ? `'${mediaType}'` : 'untyped'}`);
  }
}
