/**
 * The webmail (web/mail, a browser app on JMAP) at https://<hostname>/mail/ and at
 * https://webmail.<hosted domain>/, and its sign-in at /mail/api/session: POST signs in (the cookie
 * is set), GET tells the app its session and CSRF token, DELETE signs out; DELETE /mail/api/sessions
 * signs the account out everywhere. The app then speaks JMAP at /jmap with the cookie
 * (protocols/jmap checks it and the CSRF token).
 *
 * Its pages get the UI's headers with two changes the reading pane needs: inline styles (mail HTML is
 * styled inline; scripts stay 'self' only) and https: images (loaded only when the reader allows them
 * for a message, in a sandboxed frame).
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { WEBMAIL_COOKIE, type MailSessions } from '../../services/webmail/sessions.js';
import { isCrossSite, jsonBody, problem, problemOf, remoteOf, type ApiEnv } from './api-support.js';
import { UI_HEADERS, webAppHandler } from './web.js';

export interface WebmailDeps {
  sessions: MailSessions;
  /** The hosted domain that takes mail for `name`, or undefined. */
  hostedDomain(name: string): Promise<string | undefined>;
  log: Logger;
}

export const WEBMAIL_HEADERS: Record<string, string> = {
  ...UI_HEADERS,
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; " +
    "connect-src 'self'; font-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
};

const cookieOptions = { path: '/', secure: true, httpOnly: true, sameSite: 'Strict' } as const;

/** The sign-in routes, the app's files at /mail/, and the app at / on webmail.<domain>. */
export function webmailApp(deps: WebmailDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const { sessions } = deps;
  const files = webAppHandler('mail', undefined, WEBMAIL_HEADERS);

  app.post('/mail/api/session', async (c) => {
    if (isCrossSite(c)) return problem(c, 403, 'csrf', 'a sign-in from another site is refused');
    try {
      const body = await jsonBody(c);
      const address = typeof body['address'] === 'string' ? body['address'] : '';
      const password = typeof body['password'] === 'string' ? body['password'] : '';
      if (!address || !password) return problem(c, 400, 'invalid_input', 'give your mail address and password');
      const { cookie, session } = await sessions.signIn({ address, password }, remoteOf(c));
      setCookie(c, WEBMAIL_COOKIE, cookie, {
        ...cookieOptions,
        maxAge: Math.floor((Date.parse(session.expiresAt) - Date.now()) / 1000),
      });
      return c.json(session, 201);
    } catch (err) {
      if (isMailError(err, 'ACCOUNT_DISABLED')) return problem(c, 401, 'auth_failed', 'wrong address or password');
      return problemOf(c, err, deps.log);
    }
  });
  app.get('/mail/api/session', async (c) => {
    const session = await sessions.describe(getCookie(c, WEBMAIL_COOKIE) ?? '');
    if (!session) return problem(c, 401, 'auth_required', 'not signed in');
    return c.json(session);
  });
  // Sign out here (DELETE /session) or everywhere (DELETE /sessions): both need the CSRF token.
  for (const [path, everywhere] of [
    ['/mail/api/session', false],
    ['/mail/api/sessions', true],
  ] as const)
    app.delete(path, async (c) => {
      const cookie = getCookie(c, WEBMAIL_COOKIE) ?? '';
      const resumed = await sessions.resume(cookie);
      if (resumed && c.req.header('x-csrf-token') !== resumed.csrf)
        return problem(c, 403, 'csrf', "send the session's CSRF token in the X-CSRF-Token header");
      if (resumed && everywhere) await sessions.signOutEverywhere(resumed.accountId);
      else await sessions.signOut(cookie);
      deleteCookie(c, WEBMAIL_COOKIE, cookieOptions);
      return c.body(null, 204);
    });
  app.all('/mail/api/*', (c) => problem(c, 404, 'not_found', 'no such webmail call'));

  app.get('/mail', (c) => c.redirect('/mail/', 301));
  app.get('/mail/*', files);
  // https://webmail.<domain>/ is the app itself (its files stay under /mail/).
  app.get('/', async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase().replace(/:\d+$/, '');
    if (!host.startsWith('webmail.') || !(await deps.hostedDomain(host.slice(8)))) return next();
    return files(c);
  });
  return app;
}
