/**
 * JMAP over HTTPS (RFC 8620, RFC 8621) at /jmap: the session resource (§2), the API endpoint (§3),
 * blob upload and download (§6), push subscriptions (§7.2) and EventSource push (§7.3). Logins are HTTP Basic with the
 * account's address and password or an app password, or an app password's bearer token (the admin
 * API's /me/app-passwords makes both), checked by the same throttled Auth as IMAP;
 * a login that succeeded is remembered for a minute so that a client's stream of requests does not
 * cost a password hash each.
 */
import type { HttpBindings } from '@hono/node-server';
import { readAtMost } from '../../lib/bounded-body.js';
import { Hono, type Context, type Next } from 'hono';
import { getCookie } from 'hono/cookie';
import { WEBMAIL_COOKIE } from '../../services/webmail/sessions.js';
import type { Logger } from '../../lib/log.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { ChangeFeed, Store } from '../../store/index.js';
import type { Submitter } from '../../services/acceptance/submit.js';
import type { SelfRules } from '../../services/admin/self-rules.js';
import type { SieveScripts } from '../../services/sieve/index.js';
import type { PushSubscriptions } from '../../services/push/index.js';
import type { Identities } from '../../services/identities/index.js';
import { readBlob } from './blobs.js';
import { CORE, LIMITS, MAIL, RequestError, runRequest, type MethodEntry } from './dispatch.js';
import { emailGetMethod } from './email-get.js';
import { EMAIL_SORTS, emailQueryMethods } from './email-query.js';
import { emailSearchMethods } from './email-search.js';
import { emailSetMethods } from './email-set.js';
import { emailParseMethods } from './email-parse.js';
import { mailboxMethods } from './mailbox.js';
import { eventSource } from './push.js';
import { pushSubscriptionMethods } from './push-subscription.js';
import { MAX_DELAYED_SEND_SECONDS, SUBMISSION, submissionMethods } from './submission.js';
import { Uploads } from './uploads.js';
import { loginCache, type Caller } from './login.js';
import { WEBSOCKET, webSocketUpgrade } from './websocket.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { VACATION, vacationMethods } from './vacation.js';
import { SIEVE, sieveCapability, sieveMethods } from './sieve.js';

export interface JmapDeps {
  mailboxes: Mailboxes;
  views: EmailViews;
  changes: ChangeFeed;
  /** EmailSubmission's way out: the acceptance pipeline as port 587 runs it. */
  submitter: Submitter;
  submissions: Store['submissions'];
  /** The account's mail rules, where its vacation reply is kept. */
  rules: SelfRules;
  /** The account's Sieve scripts (Sieve over JMAP, RFC 9661). */
  sieve: SieveScripts;
  /** Push subscriptions (RFC 8620 §7.2). */
  push: PushSubscriptions;
  /** The addresses the account sends as (Identity). */
  identities: Identities;
  /** An app password's bearer token (Auth.authenticateBearer), throttled as logins are. */
  authenticateBearer(
    token: string,
    context: { ip: string; protocol: string },
  ): Promise<{ accountId: number; address: string }>;
  /** An account's login (Auth.authenticate: password or app password, throttled per source). */
  authenticate(
    user: string,
    password: string,
    context: { ip: string; protocol: string },
  ): Promise<{ accountId: number; address: string }>;
  /** The webmail's session cookie (services/webmail), when the server runs the webmail. */
  webSessions?: { resume(cookie: string): Promise<{ accountId: number; address: string; csrf: string } | undefined> };
  log: Logger;
}

export type JmapEnv = { Bindings: HttpBindings; Variables: { caller: Caller } };
export type JmapContext = Context<JmapEnv>;

export const accountIdOf = (accountId: number) => `a${accountId}`;

/** The HTTP routes and the WebSocket upgrade of JMAP, sharing their methods and logins. */
export function jmapHandlers(deps: JmapDeps): {
  fetch: Hono<JmapEnv>['fetch'];
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
} {
  const login = loginCache(deps);
  const uploads = new Uploads();
  const methods = jmapMethods(deps, uploads);
  const app = jmapApp(deps, { login, uploads, methods });
  return { fetch: app.fetch, upgrade: webSocketUpgrade({ ...deps, methods, login }) };
}

function jmapMethods(deps: JmapDeps, uploads: Uploads): Map<string, MethodEntry> {
  return new Map<string, MethodEntry>([
    ...mailboxMethods(deps),
    emailGetMethod(deps),
    ...emailQueryMethods(deps),
    ...emailSearchMethods(deps),
    ...emailSetMethods({ ...deps, uploads }),
    ...emailParseMethods({ ...deps, uploads }),
    ...submissionMethods({ ...deps, uploads }),
    ...vacationMethods(deps.rules),
    ...sieveMethods({ sieve: deps.sieve, uploads }),
    ...pushSubscriptionMethods(deps.push),
  ]);
}

export function jmapApp(
  deps: JmapDeps,
  shared: {
    login: ReturnType<typeof loginCache>;
    uploads: Uploads;
    methods: ReadonlyMap<string, MethodEntry>;
  },
): Hono<JmapEnv> {
  const app = new Hono<JmapEnv>().basePath('/jmap');
  const { login, uploads, methods } = shared;
  const inFlight = new Map<number, number>();

  app.onError((err, c) => {
    if (err instanceof RequestError) {
      // A body left unread: the connection is closed after the answer, and the client told so.
      if (err.status === 413) c.header('connection', 'close');
      return problem(c, err.status, err.type, err.detail, err.limit);
    }
    deps.log.error({ err, path: new URL(c.req.url).pathname }, 'JMAP request failed');
    return problem(c, 500, 'about:blank', 'the server could not answer; the log says why');
  });

  app.use('*', async (c, next) => {
    const authorization = c.req.header('authorization');
    const cookie = authorization === undefined ? webSessionCookie(c) : undefined;
    if (cookie !== undefined) return webSessionLogin(c, deps, cookie, next);
    const caller = await login(authorization ?? '', c.env.incoming.socket.remoteAddress ?? '');
    if (!caller) {
      c.header('www-authenticate', challenge(c));
      return problem(
        c,
        401,
        'about:blank',
        "log in with HTTP Basic (your address and password or an app password) or an app password's bearer token",
      );
    }
    c.set('caller', caller);
    return next();
  });

  app.get('/session', (c) => c.json(session(c, c.get('caller'), sieveCapability(deps.sieve))));

  app.post('/api', async (c) => {
    const caller = c.get('caller');
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      throw new RequestError('urn:ietf:params:jmap:error:notJSON', 'send the request as application/json');
    // The body is read before the request counts as running: a client slow to send it holds a
    // connection (bounded per source by the listener, and in time by the request timeout), not one
    // of its account's maxConcurrentRequests.
    const text = await readBody(c, LIMITS.maxSizeRequest, 'maxSizeRequest');
    let body: unknown;
    try {
      body = JSON.parse(text.toString('utf8'));
    } catch {
      throw new RequestError('urn:ietf:params:jmap:error:notJSON', 'the request is not valid JSON');
    }
    const running = inFlight.get(caller.accountId) ?? 0;
    if (running >= LIMITS.maxConcurrentRequests)
      throw new RequestError(
        'urn:ietf:params:jmap:error:limit',
        `at most ${LIMITS.maxConcurrentRequests} requests at once`,
        400,
        'maxConcurrentRequests',
      );
    inFlight.set(caller.accountId, running + 1);
    try {
      const state = '0'; // the session object never changes while the server runs
      const log = deps.log.child({ account: caller.address });
      return c.json(
        await runRequest(
          body,
          methods,
          {
            accountId: caller.accountId,
            jmapAccountId: accountIdOf(caller.accountId),
            address: caller.address,
            ip: c.env.incoming.socket.remoteAddress ?? '',
            log,
          },
          state,
        ),
      );
    } finally {
      const left = (inFlight.get(caller.accountId) ?? 1) - 1;
      if (left > 0) inFlight.set(caller.accountId, left);
      else inFlight.delete(caller.accountId);
    }
  });

  blobRoutes(app, deps, uploads);
  app.get('/eventsource', (c) => eventSource(c, deps));
  return app;
}

/**
 * The 401's challenge: a browser page's script (the webmail's fetch: browsers send Sec-Fetch-Site)
 * gets no Basic, or the browser would open its own login dialog; other clients get both.
 */
function challenge(c: JmapContext): string {
  const fromScript =
    c.req.header('sec-fetch-site') !== undefined && (c.req.header('sec-fetch-mode') ?? 'navigate') !== 'navigate';
  return fromScript ? 'Bearer realm="JMAP"' : 'Basic realm="JMAP", charset="UTF-8", Bearer realm="JMAP"';
}

/** The webmail's session cookie, when the request carries one and no Authorization. */
function webSessionCookie(c: JmapContext): string | undefined {
  return getCookie(c, WEBMAIL_COOKIE);
}

/**
 * A request of the webmail, signed in with its cookie: refused from another site, and, when it is
 * not a GET (downloads, the event source), without the session's CSRF token in X-CSRF-Token.
 */
async function webSessionLogin(c: JmapContext, deps: JmapDeps, cookie: string, next: Next): Promise<Response | void> {
  const refuse = (status: number, detail: string) => {
    // The request's body is left unread: the connection is closed after the answer.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') c.header('connection', 'close');
    return problem(c, status, 'about:blank', detail);
  };
  const session = await deps.webSessions?.resume(cookie);
  if (!session) return refuse(401, 'the webmail session has ended: sign in again');
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return refuse(403, 'a request from another site is refused');
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.req.header('x-csrf-token') !== session.csrf)
    return refuse(403, "send the webmail session's CSRF token in X-CSRF-Token");
  c.set('caller', { accountId: session.accountId, address: session.address });
  return next();
}

/** RFC 8620 §6.1, §6.2: upload into the caller's account, download of what the caller's account holds. */
function blobRoutes(app: Hono<JmapEnv>, deps: JmapDeps, uploads: Uploads): void {
  const uploading = new Map<number, number>();
  app.post('/upload/:accountId', async (c) => {
    const caller = c.get('caller');
    if (c.req.param('accountId') !== accountIdOf(caller.accountId))
      return problem(c, 404, 'about:blank', 'no such account for this login');
    // RFC 8620 §2 maxConcurrentUpload: each upload is read whole before it is kept.
    const running = uploading.get(caller.accountId) ?? 0;
    if (running >= LIMITS.maxConcurrentUpload)
      return problem(
        c,
        429,
        'urn:ietf:params:jmap:error:limit',
        `at most ${LIMITS.maxConcurrentUpload} uploads at once`,
      );
    uploading.set(caller.accountId, running + 1);
    const data = await readBody(c, LIMITS.maxSizeUpload, 'maxSizeUpload').finally(() => {
      const left = (uploading.get(caller.accountId) ?? 1) - 1;
      if (left > 0) uploading.set(caller.accountId, left);
      else uploading.delete(caller.accountId);
    });
    const type = (c.req.header('content-type') ?? 'application/octet-stream').slice(0, 200);
    const blob = uploads.add(caller.accountId, data, type);
    if (!blob)
      return problem(c, 413, 'about:blank', 'the account holds too many uploads; use or wait for them to expire');
    return c.json({ accountId: accountIdOf(caller.accountId), ...blob }, 201);
  });

  app.get('/download/:accountId/:blobId', async (c) => {
    const caller = c.get('caller');
    if (c.req.param('accountId') !== accountIdOf(caller.accountId))
      return problem(c, 404, 'about:blank', 'no such account for this login');
    const blob = await readBlob({ ...deps, uploads }, caller.accountId, c.req.param('blobId'));
    if (!blob) return problem(c, 404, 'about:blank', 'no such blob');
    const type = safeType(c.req.query('type') ?? blob.type);
    const name = (c.req.query('name') ?? 'download').replace(/[\r\n"\\]/g, '_').slice(0, 200);
    // ?inline=1 (the webmail's previews) shows a picture or a PDF in the browser; anything else is saved.
    const inline = c.req.query('inline') === '1' && INLINE_TYPES.has(type);
    return c.body(new Uint8Array(blob.data), 200, {
      'content-type': type,
      'content-disposition': `${inline ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      'cache-control': 'private, immutable, max-age=31536000',
      // A PDF viewer is refused in a sandboxed document; it runs no page script of ours either way.
      'content-security-policy': type === 'application/pdf' ? "default-src 'none'" : "default-src 'none'; sandbox",
    });
  });
}

/** What a download may show in the browser rather than save. */
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf']);

/** The session resource (RFC 8620 §2) with absolute URLs on the host the client used. */
function session(c: JmapContext, caller: Caller, sieve: Record<string, unknown>): Record<string, unknown> {
  const base = `${new URL(c.req.url).origin}/jmap`;
  const id = accountIdOf(caller.accountId);
  return {
    capabilities: {
      [CORE]: LIMITS,
      [MAIL]: {},
      [SUBMISSION]: {},
      [VACATION]: {},
      [SIEVE]: {},
      // RFC 8887 §4.1.
      [WEBSOCKET]: { url: `${base.replace(/^http/, 'ws')}/ws`, supportsPush: true },
    },
    accounts: {
      [id]: {
        name: caller.address,
        isPersonal: true,
        isReadOnly: false,
        accountCapabilities: {
          [MAIL]: {
            maxMailboxesPerEmail: 1,
            maxMailboxDepth: null,
            maxSizeMailboxName: 490,
            maxSizeAttachmentsPerEmail: LIMITS.maxSizeUpload,
            emailQuerySortOptions: EMAIL_SORTS,
            mayCreateTopLevelMailbox: true,
          },
          // RFC 8621 §1.3.2; RFC 4865: HOLDFOR / HOLDUNTIL in the envelope's mailFrom parameters.
          [SUBMISSION]: {
            maxDelayedSend: MAX_DELAYED_SEND_SECONDS,
            submissionExtensions: { FUTURERELEASE: [String(MAX_DELAYED_SEND_SECONDS)] },
          },
          [VACATION]: {},
          [SIEVE]: sieve,
        },
      },
    },
    primaryAccounts: { [CORE]: id, [MAIL]: id, [SUBMISSION]: id, [VACATION]: id, [SIEVE]: id },
    username: caller.address,
    apiUrl: `${base}/api`,
    downloadUrl: `${base}/download/{accountId}/{blobId}?type={type}&name={name}`,
    uploadUrl: `${base}/upload/{accountId}`,
    eventSourceUrl: `${base}/eventsource?types={types}&closeafter={closeafter}&ping={ping}`,
    state: '0',
  };
}

/** A download's Content-Type: a plain type/subtype (a parameter, a line break or a script type is not echoed). */
function safeType(type: string): string {
  const t = type.split(';')[0]!.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/.test(t)) return 'application/octet-stream';
  return t;
}

/** The body, at most `max` bytes (RFC 8620 §3.6.1 limit otherwise). */
async function readBody(c: JmapContext, max: number, limit: string): Promise<Buffer> {
  const tooLarge = () =>
    new RequestError('urn:ietf:params:jmap:error:limit', `the body is over ${max} bytes`, 413, limit);
  if (Number(c.req.header('content-length') ?? '0') > max) throw tooLarge();
  const body = await readAtMost(c.req.raw.body, max);
  if (!body) throw tooLarge();
  return body;
}

/** RFC 7807 problem details, as RFC 8620 §3.6.1 answers request-level errors. */
function problem(c: JmapContext, status: number, type: string, detail: string, limit?: string): Response {
  return c.body(JSON.stringify({ type, status, detail, ...(limit ? { limit } : {}) }), status as 400, {
    'content-type': 'application/problem+json',
  });
}
