import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SAFE_METHODS } from './guard.js';

/** The status page's cookie; the JSON routes accept it for reads only, so it can never change anything. */
export const PAGE_COOKIE = 'caretaker_page';

function sameBytes(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function tokenMatches(presented: string, token: string): boolean {
  return sameBytes(presented, token);
}

/**
 * What the cookie holds: a digest of the token, not the token, so a copy taken from the browser's cookie
 * store is no bearer token for POST routes; a new `admin.token` turns every old cookie away.
 */
export function pageCookieValue(token: string): string {
  return createHmac('sha256', token).update('caretaker status page').digest('base64url');
}

export function pageCookieHeader(token: string): string {
  return `${PAGE_COOKIE}=${pageCookieValue(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${30 * 24 * 3600}`;
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The bearer token, or for a read the page's cookie. */
export function presentsToken(request: FastifyRequest, token: string): boolean {
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (bearer !== undefined) return tokenMatches(bearer, token);
  const cookie = SAFE_METHODS.has(request.method) ? cookieOf(request, PAGE_COOKIE) : undefined;
  return cookie !== undefined && sameBytes(cookie, pageCookieValue(token));
}
