/**
 * What every admin API route shares: who the caller is (HTTP Basic with an admin's address and
 * password, RFC 7617, throttled with the mail logins; or a Bearer token, RFC 6750), errors as RFC 9457
 * problem details with a stable code, bounded JSON bodies, and paged lists.
 */
import type { TLSSocket } from 'node:tls';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { isMailError, MailError, type ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { parseSize } from '../../lib/units.js';
import type { Principal } from '../../services/admin/index.js';

export type ApiEnv = { Bindings: HttpBindings; Variables: { principal: Principal } };
export type ApiContext = Context<ApiEnv>;

/** Largest JSON body the API reads. */
export const MAX_API_BODY = 64 * 1024;
export const MAX_PAGE = 500;

/** The HTTP status of each error code; codes not named are 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  INVALID_ADDRESS: 400,
  ALIAS_LOOP: 400,
  AUTH_FAILED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  DOMAIN_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  ALIAS_NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  DOMAIN_NOT_EMPTY: 409,
  LIMIT_REACHED: 409,
  AUTH_LOCKED: 429,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

/** An RFC 9457 problem: `code` is stable (the error code, lower case), `detail` says what to fix. */
export function problem(c: ApiContext, status: number, code: string, detail: string): Response {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  // A script's request (the UI's fetch) gets no Basic challenge: the browser would open its own login dialog.
  const fromScript = (c.req.header('sec-fetch-mode') ?? 'navigate') !== 'navigate';
  if (status === 401)
    headers['www-authenticate'] = fromScript
      ? 'Bearer realm="postern"'
      : 'Basic realm="postern", charset="UTF-8", Bearer realm="postern"';
  const body = { type: 'about:blank', title: TITLES[status] ?? 'Error', status, code, detail };
  return c.body(JSON.stringify(body), status as 400, headers);
}

/** A thrown error as a problem: a MailError by its code; anything else is logged and answered 500. */
export function problemOf(c: ApiContext, err: unknown, log: Logger): Response {
  if (isMailError(err)) {
    const status = STATUS[err.code] ?? 500;
    if (status === 500) log.error({ code: err.code, reason: err.message }, 'admin API call failed');
    return problem(c, status, err.code.toLowerCase(), status === 500 ? 'internal error' : err.message);
  }
  log.error({ reason: err instanceof Error ? err.message : String(err) }, 'admin API call failed');
  return problem(c, 500, 'internal', 'internal error');
}

export function remoteOf(c: ApiContext): string | null {
  return (c.env.incoming.socket as TLSSocket).remoteAddress ?? null;
}

/** The credentials of a request: Basic (user, password) or Bearer (token), or undefined. */
export function credentials(
  header: string | undefined,
):
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'session'; cookie: string }
  | undefined {
  if (!header || header.length > 4096) return undefined;
  const m = /^(Basic|Bearer)\s+(\S+)\s*$/i.exec(header);
  if (!m) return undefined;
  if (m[1]!.toLowerCase() === 'bearer') return { kind: 'bearer', token: m[2]! };
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The request's JSON object. Only `application/json` is read: a browser cannot send it from another
 * site without a CORS preflight, which this server never grants (so Basic credentials a browser
 * remembers cannot be used by a cross-site form).
 */
export async function jsonBody(c: ApiContext): Promise<Record<string, unknown>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new MailError('INVALID_INPUT', 'send the body as application/json');
  if (Number(c.req.header('content-length') ?? '0') > MAX_API_BODY)
    throw new MailError('INVALID_INPUT', `the body is over ${MAX_API_BODY} bytes`);
  const reader = c.req.raw.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const chunk = reader ? await reader.read() : { done: true as const, value: undefined };
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > MAX_API_BODY) {
      await reader?.cancel();
      throw new MailError('INVALID_INPUT', `the body is over ${MAX_API_BODY} bytes`);
    }
    chunks.push(chunk.value);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new MailError('INVALID_INPUT', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new MailError('INVALID_INPUT', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/** A field of a body: absent is undefined; present with another type is INVALID_INPUT naming it. */
export function field<T extends 'string' | 'boolean' | 'number'>(
  body: Record<string, unknown>,
  name: string,
  type: T,
): (T extends 'string' ? string : T extends 'boolean' ? boolean : number) | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== type) throw new MailError('INVALID_INPUT', `"${name}" must be a ${type}`);
  return v as never;
}

export function required(body: Record<string, unknown>, name: string): string {
  const v = field(body, name, 'string');
  if (v === undefined) throw new MailError('INVALID_INPUT', `"${name}" is required`);
  return v;
}

export function stringList(body: Record<string, unknown>, name: string): string[] | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 1000 || v.some((x) => typeof x !== 'string'))
    throw new MailError('INVALID_INPUT', `"${name}" must be a list of strings`);
  return v as string[];
}

/** A quota as bytes (a number) or a size ("2G"); 0 is none. */
export function quotaField(body: Record<string, unknown>, name = 'quota'): number | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const bytes = parseSize(v);
    if (bytes !== undefined) return bytes;
  }
  throw new MailError('INVALID_INPUT', `"${name}" must be a number of bytes or a size such as "2G"`);
}

/** `?limit=&offset=&q=` over a list: a page of the items whose text contains q. */
export function page<T>(c: ApiContext, items: T[], text: (item: T) => string) {
  const limit = intParam(c, 'limit', 100, 1, MAX_PAGE);
  const offset = intParam(c, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const q = (c.req.query('q') ?? '').toLowerCase();
  const matching = q ? items.filter((i) => text(i).toLowerCase().includes(q)) : items;
  return { items: matching.slice(offset, offset + limit), total: matching.length, limit, offset };
}

export function intParam(c: ApiContext, name: string, fallback: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max)
    throw new MailError('INVALID_INPUT', `?${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** A browser's request from another site: Sec-Fetch-Site says so, or the Origin names another host. */
export function isCrossSite(c: ApiContext): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = c.req.header('origin');
  if (!origin) return false;
  try {
    return new URL(origin).host !== (c.req.header('host') ?? '');
  } catch {
    return true;
  }
}
