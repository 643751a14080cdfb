/**
 * JMAP logins: HTTP Basic (address and password or app password) or an app password's bearer token,
 * checked by the throttled Auth; a login that succeeded stands for a minute for the same credentials
 * (kept as an HMAC under a key made at start: no password is kept), so that a client's stream of
 * requests does not cost a password hash each.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';

export interface Caller {
  accountId: number;
  address: string;
}

export interface LoginDeps {
  authenticate(user: string, password: string, context: { ip: string; protocol: string }): Promise<Caller>;
  authenticateBearer(token: string, context: { ip: string; protocol: string }): Promise<Caller>;
  log: Logger;
}

/** How long a login that succeeded stands for the same credentials. */
const LOGIN_CACHE_MS = 60_000;
const MAX_CACHED_LOGINS = 10_000;

/** The caller an Authorization header names, or undefined when it names none (or a wrong one). */
export function loginCache(deps: LoginDeps): (authorization: string, ip: string) => Promise<Caller | undefined> {
  const key = randomBytes(32);
  const cache = new Map<string, { caller: Caller; until: number }>();
  return async (header, ip) => {
    const basic = /^Basic\s+([A-Za-z0-9+/=]{1,4096})\s*$/i.exec(header);
    const bearer = /^Bearer\s+([\x21-\x7e]{1,200})\s*$/i.exec(header);
    if (!basic && !bearer) return undefined;
    const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : `\0bearer\0${bearer![1]!}`;
    const colon = decoded.indexOf(':');
    if (basic && colon < 0) return undefined;
    const digest = createHmac('sha256', key).update(decoded).digest('base64');
    const hit = cache.get(digest);
    if (hit && hit.until > Date.now()) return hit.caller;
    try {
      const context = { ip, protocol: 'jmap' };
      const user = basic
        ? await deps.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1), context)
        : await deps.authenticateBearer(bearer![1]!, context);
      if (cache.size >= MAX_CACHED_LOGINS) cache.delete(cache.keys().next().value!);
      cache.set(digest, { caller: user, until: Date.now() + LOGIN_CACHE_MS });
      return user;
    } catch (err) {
      if (isMailError(err, 'AUTH_FAILED') || isMailError(err, 'AUTH_LOCKED') || isMailError(err, 'ACCOUNT_DISABLED')) {
        deps.log.info({ ip, reason: err.code }, 'JMAP login failed');
        return undefined;
      }
      throw err;
    }
  };
}
