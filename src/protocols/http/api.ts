/**
 * The admin HTTP API at https://<hostname>/api/v1 (docs/admin-api.md; the contract is
 * ../shared/WEB.md's table). Routes only translate: who the caller is, the JSON body, the page of a
 * list; every rule — rights, limits, validation, the audit log — is the Administration service's.
 */
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from '../../lib/log.js';
import { MailError } from '../../lib/errors.js';
import { accountPrincipal, adminPrincipal, principalOfToken, type Administration } from '../../services/admin/index.js';
import type { HeldMail } from '../../services/admin/held.js';
import type { Operations } from '../../services/admin/operations.js';
import type { SelfService } from '../../services/admin/self.js';
import type { AdminSessions } from '../../services/admin/sessions.js';
import { WEBMAIL_COOKIE, type MailSessions } from '../../services/webmail/sessions.js';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AdminRecord, Store } from '../../store/index.js';
import {
  credentials,
  field,
  isCrossSite,
  intParam,
  jsonBody,
  page,
  problem,
  problemOf,
  quotaField,
  remoteOf,
  required,
  stringList,
  type ApiContext,
  type ApiEnv,
} from './api-support.js';
import { openApiDocument } from './openapi.js';

export interface AdminApiDeps {
  admin: Administration;
  held: HeldMail;
  sessions: AdminSessions;
  operations: Operations;
  self: SelfService;
  store: Store;
  /** An admin's login, throttled with the mail protocols' (Auth.authenticateAdmin). */
  authenticate(user: string, password: string, context: { ip: string; protocol: string }): Promise<AdminRecord>;
  /** An account owner's login for /me: the account's own password, not an app password. */
  authenticateAccount(
    user: string,
    password: string,
    context: { ip: string; protocol: string },
  ): Promise<{ accountId: number; address: string }>;
  /** Webmail sessions: the webmail's settings reach /me with its cookie (signed in with the password). */
  mailSessions?: Pick<MailSessions, 'resume'> | undefined;
  hostname: string;
  log: Logger;
}

export function adminApi(deps: AdminApiDeps): Hono<{ Bindings: HttpBindings }> {
  const api = new Hono<ApiEnv>();
  const { admin } = deps;

  api.onError((err, c) => problemOf(c, err, deps.log));

  api.get('/openapi.json', (c) => c.json(openApiDocument(deps.hostname)));

  sessionRoutes(api, deps.sessions);

  // Everything else needs a caller: an account owner under /me, an admin (or an admin's token) elsewhere.
  api.use('*', async (c, next) => {
    const remote = remoteOf(c);
    // A refusal leaves a change's body unread: the connection is closed after the answer.
    const refuse: typeof problem = (...args) => {
      if (!SAFE_METHODS.has(c.req.method)) c.header('connection', 'close');
      return problem(...args);
    };
    const isSelf = /^\/api\/v1\/me(\/|$)/.test(c.req.path);
    const cookie = getCookie(c, SESSION_COOKIE);
    const mailCookie = isSelf ? getCookie(c, WEBMAIL_COOKIE) : undefined;
    const creds =
      credentials(c.req.header('authorization')) ??
      (cookie && !isSelf ? { kind: 'session' as const, cookie } : undefined) ??
      (mailCookie ? { kind: 'mail' as const, cookie: mailCookie } : undefined);
    if (!creds || (isSelf && creds.kind !== 'basic' && creds.kind !== 'mail'))
      return refuse(
        c,
        401,
        'auth_required',
        isSelf
          ? 'log in with HTTP Basic: the account address and its password'
          : 'log in with HTTP Basic (an admin address and password) or a Bearer token',
      );
    const context = { ip: remote ?? '', protocol: 'https' };
    // Credentials a browser remembers (Basic typed into its dialog) must not serve another site's form:
    // a change that a browser says comes from elsewhere is refused, whatever the credentials.
    if (!SAFE_METHODS.has(c.req.method) && isCrossSite(c))
      return refuse(c, 403, 'csrf', 'a change from another site is refused');
    if (creds.kind === 'mail') {
      const resumed = await deps.mailSessions?.resume(creds.cookie);
      if (!resumed) return refuse(c, 401, 'auth_failed', 'the webmail session is over: sign in again');
      if (!resumed.settings)
        return refuse(
          c,
          403,
          'forbidden',
          "signed in with an app password: sign in with the account's password to change settings",
        );
      if (!SAFE_METHODS.has(c.req.method) && c.req.header('x-csrf-token') !== resumed.csrf)
        return refuse(c, 403, 'csrf', "send the session's CSRF token in the X-CSRF-Token header");
      c.set('principal', accountPrincipal(resumed, { via: 'ui', remote }));
    } else if (creds.kind === 'session') {
      const resumed = await deps.sessions.resume(creds.cookie, remote);
      if (!resumed) return refuse(c, 401, 'auth_failed', 'the session is over: log in again');
      // A browser session changes nothing without the CSRF token, which only the UI's own pages can read.
      if (!SAFE_METHODS.has(c.req.method) && c.req.header('x-csrf-token') !== resumed.session.csrf)
        return refuse(c, 403, 'csrf', "send the session's CSRF token in the X-CSRF-Token header");
      c.set('principal', resumed.principal);
    } else if (creds.kind === 'bearer') {
      const principal = await principalOfToken(deps.store, creds.token, { via: 'api', remote });
      if (!principal) return refuse(c, 401, 'auth_failed', 'the token is unknown, expired or revoked');
      c.set('principal', principal);
    } else if (isSelf) {
      const account = await deps.authenticateAccount(creds.user, creds.password, context);
      c.set('principal', accountPrincipal(account, { via: 'api', remote }));
    } else {
      const record = await deps.authenticate(creds.user, creds.password, context);
      c.set('principal', adminPrincipal(record, { via: 'api', remote }));
    }
    return next();
  });

  accessRoutes(api, admin);
  directoryRoutes(api, admin);
  operationRoutes(api, deps.operations);
  selfRoutes(api, deps.self);
  totpRoutes(api, deps.sessions);
  quarantineRoutes(api, deps.held);
  api.all('*', (c) => problem(c, 404, 'not_found', `no such API path: ${new URL(c.req.url).pathname}`));
  return api as unknown as Hono<{ Bindings: HttpBindings }>;
}

const who = (c: ApiContext) => c.get('principal');
const param = (c: ApiContext, name: string) => c.req.param(name) ?? ''; // Hono decodes %XX

/** Tokens, admins and the audit log. */
function accessRoutes(api: Hono<ApiEnv>, admin: Administration): void {
  // Tokens: an admin's own.
  api.post('/tokens', async (c) => {
    const body = await jsonBody(c);
    const token = await admin.createToken(who(c), {
      name: required(body, 'name'),
      scopes: stringList(body, 'scopes') ?? ['read', 'write'],
      expiresInDays: field(body, 'expires_in_days', 'number') ?? 90,
    });
    return c.json(token, 201);
  });
  api.get('/tokens', async (c) => c.json(page(c, await admin.listTokens(who(c)), (t) => t.name)));
  api.delete('/tokens/:id', async (c) => {
    await admin.removeToken(who(c), param(c, 'id'));
    return c.body(null, 204);
  });

  // Admins.
  api.get('/admins', async (c) => c.json(page(c, await admin.listAdmins(who(c)), (a) => a.address)));
  api.post('/admins', async (c) => {
    const body = await jsonBody(c);
    const role = required(body, 'role');
    if (role !== 'superadmin' && role !== 'domain')
      throw new MailError('INVALID_INPUT', '"role" must be "superadmin" or "domain"');
    const created = await admin.addAdmin(who(c), {
      address: required(body, 'address'),
      password: required(body, 'password'),
      role,
      domains: stringList(body, 'domains') ?? [],
    });
    return c.json(created, 201);
  });
  api.delete('/admins/:address', async (c) => {
    await admin.removeAdmin(who(c), param(c, 'address'));
    return c.body(null, 204);
  });

  // The audit log, newest first, paged by ?before=<id>; ?format=csv exports up to 10,000 entries at once.
  api.get('/audit', async (c) => {
    const csv = c.req.query('format') === 'csv';
    const limit = intParam(c, 'limit', csv ? 10_000 : 100, 1, csv ? 10_000 : 500);
    const before =
      c.req.query('before') === undefined ? undefined : intParam(c, 'before', 0, 1, Number.MAX_SAFE_INTEGER);
    const items = await admin.listAudit(who(c), { limit, ...(before !== undefined ? { before } : {}) });
    const next = items.length === limit ? items[items.length - 1]!.id : null;
    if (!csv) return c.json({ items, next });
    return c.body(auditCsv(items), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="postern-audit.csv"',
    });
  });
}

/** RFC 4180 CSV: every field quoted, quotes doubled; a field a spreadsheet would run as a formula is prefixed with '. */
function auditCsv(items: Array<Record<string, unknown>>): string {
  const columns = ['id', 'at', 'actor', 'via', 'remote', 'action', 'target', 'domain', 'before', 'after'];
  const cell = (v: unknown) => {
    let text = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return `"${text.replace(/"/g, '""')}"`;
  };
  return [columns.join(','), ...items.map((e) => columns.map((k) => cell(e[k])).join(','))].join('\r\n') + '\r\n';
}

/** Domains, accounts and aliases. */
function directoryRoutes(api: Hono<ApiEnv>, admin: Administration): void {
  // Domains.
  api.get('/domains', async (c) => c.json(page(c, await admin.listDomains(who(c)), (d) => d.name)));
  api.post('/domains', async (c) => {
    const body = await jsonBody(c);
    const aliasOf = field(body, 'aliasOf', 'string');
    const limits = limitsOf(body);
    const domain = await admin.addDomain(who(c), {
      name: required(body, 'name'),
      ...(aliasOf !== undefined ? { aliasOf } : {}),
      ...(Object.keys(limits).length ? { limits } : {}),
    });
    return c.json(domain, 201);
  });
  api.get('/domains/:domain', async (c) => c.json(await admin.getDomain(who(c), param(c, 'domain'))));
  api.patch('/domains/:domain', async (c) => {
    const limits = limitsOf(await jsonBody(c));
    return c.json(await admin.setDomainLimits(who(c), param(c, 'domain'), limits));
  });
  api.delete('/domains/:domain', async (c) => {
    await admin.removeDomain(who(c), param(c, 'domain'), { force: c.req.query('force') === 'true' });
    return c.body(null, 204);
  });

  // Accounts.
  api.get('/domains/:domain/accounts', async (c) =>
    c.json(page(c, await admin.listAccounts(who(c), param(c, 'domain')), (a) => a.address)),
  );
  api.post('/domains/:domain/accounts', async (c) => {
    const body = await jsonBody(c);
    const address = required(body, 'address');
    const domain = param(c, 'domain').toLowerCase();
    if (!address.toLowerCase().endsWith(`@${domain}`))
      throw new MailError('INVALID_INPUT', `the address must be in ${domain}`);
    const quotaBytes = quotaField(body);
    const account = await admin.addAccount(who(c), {
      address,
      password: required(body, 'password'),
      ...(quotaBytes !== undefined ? { quotaBytes } : {}),
    });
    return c.json(account, 201);
  });
  api.get('/accounts/:address', async (c) => c.json(await admin.getAccount(who(c), param(c, 'address'))));
  api.patch('/accounts/:address', async (c) => {
    const body = await jsonBody(c);
    const password = field(body, 'password', 'string');
    const quotaBytes = quotaField(body);
    const enabled = field(body, 'enabled', 'boolean');
    const change = {
      ...(password !== undefined ? { password } : {}),
      ...(quotaBytes !== undefined ? { quotaBytes } : {}),
      ...(enabled !== undefined ? { enabled } : {}),
    };
    return c.json(await admin.updateAccount(who(c), param(c, 'address'), change));
  });
  api.delete('/accounts/:address', async (c) => {
    await admin.removeAccount(who(c), param(c, 'address'));
    return c.body(null, 204);
  });

  // Aliases (a catch-all is the source "@domain").
  api.get('/domains/:domain/aliases', async (c) =>
    c.json(page(c, await admin.listAliases(who(c), param(c, 'domain')), (a) => a.source)),
  );
  api.post('/domains/:domain/aliases', async (c) => {
    const body = await jsonBody(c);
    const source = required(body, 'source');
    const domain = param(c, 'domain').toLowerCase();
    if (!source.toLowerCase().endsWith(`@${domain}`))
      throw new MailError('INVALID_INPUT', `the source must be in ${domain}`);
    return c.json(await admin.putAlias(who(c), source, destinationsOf(body), { create: true }), 201);
  });
  api.get('/aliases/:source', async (c) => c.json(await admin.getAlias(who(c), param(c, 'source'))));
  api.put('/aliases/:source', async (c) =>
    c.json(await admin.putAlias(who(c), param(c, 'source'), destinationsOf(await jsonBody(c)))),
  );
  api.delete('/aliases/:source', async (c) => {
    await admin.removeAlias(who(c), param(c, 'source'));
    return c.body(null, 204);
  });
}

/** DKIM keys and DNS records of a domain, the outbound queue, the server's status. */
function operationRoutes(api: Hono<ApiEnv>, ops: Operations): void {
  api.get('/domains/:domain/dkim', async (c) => c.json({ items: await ops.listDkim(who(c), param(c, 'domain')) }));
  api.post('/domains/:domain/dkim/rotate', async (c) => {
    const body = c.req.header('content-type') === undefined ? {} : await jsonBody(c);
    const algorithm = field(body, 'algorithm', 'string');
    const key = await ops.rotateDkim(who(c), param(c, 'domain'), {
      now: field(body, 'now', 'boolean') === true,
      ...(algorithm !== undefined ? { algorithm } : {}),
    });
    return c.json(key, 201);
  });
  api.get('/domains/:domain/dns', async (c) => c.json({ items: await ops.dnsRecords(who(c), param(c, 'domain')) }));
  api.get('/domains/:domain/doctor', async (c) => c.json(await ops.doctor(who(c), param(c, 'domain'))));
  api.get('/doctor', async (c) => c.json(await ops.doctorStatus(who(c))));
  api.post('/doctor', async (c) => c.json(await ops.runDoctor(who(c)), 202));
  api.get('/queue', async (c) => c.json(page(c, await ops.listQueue(who(c)), (e) => `${e.id} ${e.sender}`)));
  api.get('/queue/:id', async (c) => c.json(await ops.getQueue(who(c), param(c, 'id'))));
  for (const action of ['retry', 'hold', 'release'] as const)
    api.post(`/queue/:id/${action}`, async (c) => c.json(await ops.changeQueue(who(c), param(c, 'id'), action)));
  api.delete('/queue/:id', async (c) => {
    await ops.changeQueue(who(c), param(c, 'id'), 'remove');
    return c.body(null, 204);
  });
  api.get('/status', async (c) => c.json(await ops.status(who(c))));
  api.get('/stats', async (c) => c.json(await ops.stats(who(c))));
  api.get('/certificates', async (c) => c.json({ items: await ops.certificates(who(c)) }));
  api.get('/logs', async (c) =>
    c.json({
      items: await ops.logs(who(c), (c.req.query('q') ?? '').slice(0, 200), intParam(c, 'limit', 200, 1, 1000)),
    }),
  );
}

const SESSION_COOKIE = 'postern_admin';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Browser sessions (login answers before any credentials are asked) and two-factor enrolment. */
function sessionRoutes(api: Hono<ApiEnv>, sessions: AdminSessions): void {
  api.post('/session', async (c) => {
    const body = await jsonBody(c);
    const totp = field(body, 'totp', 'string');
    const { cookie, session } = await sessions.login(
      { address: required(body, 'address'), password: required(body, 'password'), ...(totp ? { totp } : {}) },
      remoteOf(c),
    );
    setCookie(c, SESSION_COOKIE, cookie, {
      path: '/',
      secure: true,
      httpOnly: true,
      sameSite: 'Strict',
      maxAge: Math.floor((Date.parse(session.expiresAt) - Date.now()) / 1000),
    });
    return c.json(session, 201);
  });
  api.get('/session', async (c) => {
    const resumed = await sessions.resume(getCookie(c, SESSION_COOKIE) ?? '', remoteOf(c));
    if (!resumed) return problem(c, 401, 'auth_required', 'no session: POST /session to log in');
    return c.json(resumed.session);
  });
  api.delete('/session', async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    const resumed = cookie ? await sessions.resume(cookie, remoteOf(c)) : undefined;
    if (resumed && c.req.header('x-csrf-token') !== resumed.session.csrf)
      return problem(c, 403, 'csrf', "send the session's CSRF token in the X-CSRF-Token header");
    if (cookie) await sessions.logout(cookie);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'Strict' });
    return c.body(null, 204);
  });
}

/** Two-factor enrolment of the calling admin (after the caller is known). */
function totpRoutes(api: Hono<ApiEnv>, sessions: AdminSessions): void {
  api.post('/totp', async (c) => c.json(await sessions.startTotp(who(c)), 201));
  api.post('/totp/confirm', async (c) => {
    await sessions.confirmTotp(who(c), required(await jsonBody(c), 'code'));
    return c.body(null, 204);
  });
  api.delete('/totp', async (c) => {
    await sessions.disableTotp(who(c), required(await jsonBody(c), 'code'));
    return c.body(null, 204);
  });
}

/** Mail the content filter held, for the admins of its recipients' domains. */
function quarantineRoutes(api: Hono<ApiEnv>, held: HeldMail): void {
  const id = (c: ApiContext) => {
    const n = Number(param(c, 'id'));
    if (!Number.isSafeInteger(n) || n < 1) throw new MailError('NOT_FOUND', `no quarantined message ${param(c, 'id')}`);
    return n;
  };
  api.get('/quarantine', async (c) => {
    const domain = c.req.query('domain');
    const items = await held.list(who(c), { limit: intParam(c, 'limit', 100, 1, 500), ...(domain ? { domain } : {}) });
    return c.json({ items });
  });
  api.get('/quarantine/:id', async (c) => c.json(await held.show(who(c), id(c))));
  api.post('/quarantine/:id/release', async (c) => {
    await held.release(who(c), id(c));
    return c.body(null, 204);
  });
  api.delete('/quarantine/:id', async (c) => {
    await held.delete(who(c), id(c));
    return c.body(null, 204);
  });
}

/** The account owner's own: /me, its password, mail rules and app passwords. */
function selfRoutes(api: Hono<ApiEnv>, self: SelfService): void {
  api.get('/me', async (c) => c.json(await self.me(who(c))));
  api.put('/me/password', async (c) => {
    const body = await jsonBody(c);
    await self.setPassword(who(c), required(body, 'current'), required(body, 'password'));
    return c.body(null, 204);
  });
  api.get('/me/app-passwords', async (c) => c.json({ items: await self.listAppPasswords(who(c)) }));
  api.post('/me/app-passwords', async (c) =>
    c.json(await self.addAppPassword(who(c), required(await jsonBody(c), 'name')), 201),
  );
  api.get('/me/rules', async (c) => c.json(await self.rules.get(who(c))));
  for (const part of ['vacation', 'forwarding'] as const)
    api.put(`/me/${part}`, async (c) => c.json(await self.rules.set(who(c), part, await jsonBody(c))));
  api.put('/me/filters', async (c) => c.json(await self.rules.set(who(c), 'filters', (await jsonBody(c)).filters)));
  api.delete('/me/app-passwords/:id', async (c) => {
    const id = Number(param(c, 'id'));
    if (!Number.isSafeInteger(id) || id < 1) throw new MailError('NOT_FOUND', `no app password ${param(c, 'id')}`);
    await self.removeAppPassword(who(c), id);
    return c.body(null, 204);
  });
}

function limitsOf(body: Record<string, unknown>) {
  const out: Partial<Record<'maxAccounts' | 'maxAliases' | 'maxQuotaBytes' | 'defaultQuotaBytes', number>> = {};
  const maxAccounts = field(body, 'maxAccounts', 'number');
  const maxAliases = field(body, 'maxAliases', 'number');
  const maxQuota = quotaField(body, 'maxQuotaBytes');
  const defaultQuota = quotaField(body, 'defaultQuotaBytes');
  if (maxAccounts !== undefined) out.maxAccounts = maxAccounts;
  if (maxAliases !== undefined) out.maxAliases = maxAliases;
  if (maxQuota !== undefined) out.maxQuotaBytes = maxQuota;
  if (defaultQuota !== undefined) out.defaultQuotaBytes = defaultQuota;
  return out;
}

function destinationsOf(body: Record<string, unknown>): string[] {
  const destinations = stringList(body, 'destinations');
  if (!destinations) throw new MailError('INVALID_INPUT', '"destinations" is required: a list of addresses');
  return destinations;
}
