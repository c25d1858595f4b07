/**
 * Who may use the dashboard, and how a state-changing request proves it came from the page.
 *
 * - Bound to loopback (the default), only local processes reach it; the Host header must name
 *   the loopback address, which defeats DNS rebinding (a web page whose name resolves to
 *   127.0.0.1 would otherwise read the page, CSRF token included).
 * - Bound anywhere else, every request but /healthz needs the token from a secret reference:
 *   `Authorization: Bearer <token>`, or the HttpOnly SameSite=Strict cookie set by visiting
 *   `/?token=<token>` once. Without a token the server refuses to start.
 * - POSTs carry the per-process CSRF token (header `X-CSRF-Token` or form field `csrf`), and a
 *   cross-site `Origin` is refused.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'sluice_token';

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Compares two secrets in constant time (hashing first makes the lengths equal). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

export interface AccessPolicy {
  /** The token, when the server is bound beyond loopback. */
  token?: string;
  /** Bound to loopback: the Host header must be a loopback name. */
  loopbackOnly: boolean;
  port: number;
}

/** True when the Host header names this server on loopback (any port is accepted for port 0 tests). */
export function hostHeaderAllowed(req: IncomingMessage, policy: AccessPolicy): boolean {
  if (!policy.loopbackOnly) return true;
  const host = req.headers.host ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return isLoopbackHost(name);
}

/** True when the request carries the token (header or cookie), or no token is configured. */
export function authorized(req: IncomingMessage, policy: AccessPolicy): boolean {
  if (policy.token === undefined) return true;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ') && sameSecret(auth.slice(7).trim(), policy.token)) return true;
  const cookie = cookieValue(req, TOKEN_COOKIE);
  return cookie !== undefined && sameSecret(cookie, policy.token);
}

/** A cross-site Origin (a browser POST from another page) is refused even with a valid token. */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return origin === undefined;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
