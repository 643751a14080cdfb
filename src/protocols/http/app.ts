/**
 * The HTTP and HTTPS routes. Hono's router (small, maintained, web-standard Request/Response, which
 * the webmail and admin API will mount on) behind Node's own HTTP parser, fed by our listeners so
 * that connection limits, SNI, ACME's TLS-ALPN-01 and logging stay the same as for every protocol.
 *
 * Plain HTTP answers ACME http-01 challenges (RFC 8555 §8.3) and redirects everything else to
 * HTTPS. HTTPS adds HSTS (RFC 6797) and serves the MTA-STS policy (RFC 8461 §3.3), Thunderbird
 * autoconfig, Outlook autodiscover and Apple profiles.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Hono, type Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { readAtMost } from '../../lib/bounded-body.js';
import { normalizeAddress } from '../../mail/address.js';
import { mtaStsPolicy } from '../../mail/mta-sts-policy.js';
import type { Logger } from '../../lib/log.js';
import type { ChallengeStore } from '../../services/tls/challenges.js';
import { adminApi, type AdminApiDeps } from './api.js';
import { webAppHandler } from './web.js';
import { webmailApp, type WebmailDeps } from './webmail.js';
import {
  autoconfigXml,
  autodiscoverAddress,
  autodiscoverXml,
  mobileconfig,
  type ClientEndpoints,
} from './client-config.js';

export interface HttpDeps {
  hostname: string;
  /** The hosted domain that takes mail for `name` (domain aliases included), or undefined. */
  hostedDomain(name: string): Promise<string | undefined>;
  challenges: ChallengeStore;
  /** Read per request: ports are known once the listeners are bound. */
  endpoints(): ClientEndpoints;
  mtaSts: { mode: 'enforce' | 'testing' | 'none'; maxAgeSeconds: number };
  hstsMaxAgeSeconds: number;
  /** Port HTTPS redirects point to; 443 is left out of the URL. */
  httpsPort(): number | undefined;
  /** The admin API at /api/v1 (HTTPS only), when the server runs one. */
  adminApi?: AdminApiDeps;
  /** JMAP (protocols/jmap) at /jmap (HTTPS only): its app, routed as it is, and its WebSocket upgrade (/jmap/ws). */
  jmap?: {
    fetch(request: Request, env: HttpBindings): Response | Promise<Response>;
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  };
  /** The webmail at /mail/ and webmail.<domain> (HTTPS only), when the server runs it. */
  webmail?: WebmailDeps;
  log: Logger;
}

type Env = { Bindings: HttpBindings };

const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const MAX_BODY = 64 * 1024;

export function httpApp(deps: HttpDeps): Hono<Env> {
  const app = new Hono<Env>();
  const isTls = (c: Context<Env>) => (c.env.incoming.socket as TLSSocket).encrypted === true;
  const host = (c: Context<Env>) => {
    const h = (c.req.header('host') ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    return HOST.test(h) ? h : undefined;
  };
  const text = (c: Context<Env>, body: string, status: 200 | 400 | 404 | 405 | 413 = 200) =>
    c.body(body, status, { 'content-type': 'text/plain; charset=utf-8' });

  app.use('*', async (c, next) => {
    await next();
    if (isTls(c) && deps.hstsMaxAgeSeconds > 0)
      c.header('strict-transport-security', `max-age=${deps.hstsMaxAgeSeconds}`);
    c.header('x-content-type-options', 'nosniff');
  });

  // RFC 8555 §8.3: over plain HTTP (and HTTPS, for CAs that follow our redirect).
  app.get('/.well-known/acme-challenge/:token', async (c) => {
    const answer = await deps.challenges.getHttp(c.req.param('token'));
    if (answer === undefined) return text(c, 'no such challenge\n', 404);
    return c.body(answer, 200, { 'content-type': 'application/octet-stream' });
  });

  app.use('*', async (c, next) => {
    if (isTls(c)) return next();
    const h = host(c);
    if (!h) return text(c, 'a Host header naming this server is required\n', 400);
    const httpsPort = deps.httpsPort();
    const port = httpsPort && httpsPort !== 443 ? `:${httpsPort}` : '';
    const url = new URL(c.req.url);
    return c.redirect(`https://${h}${port}${url.pathname}${url.search}`, 301);
  });

  mountAdmin(app, deps.adminApi);
  mountJmap(app, deps.jmap);

  // RFC 8461 §3.3: only at mta-sts.<hosted domain>.
  app.get('/.well-known/mta-sts.txt', async (c) => {
    const h = host(c);
    const domain = h?.startsWith('mta-sts.') ? await deps.hostedDomain(h.slice(8)) : undefined;
    if (!domain) return text(c, 'no MTA-STS policy for this name\n', 404);
    return text(
      c,
      mtaStsPolicy({ mode: deps.mtaSts.mode, mx: [deps.hostname], maxAgeSeconds: deps.mtaSts.maxAgeSeconds }),
    );
  });

  // Thunderbird asks autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=… and <domain>/.well-known/autoconfig/….
  const autoconfig = async (c: Context<Env>) => {
    const h = host(c);
    const email = c.req.query('emailaddress');
    const fromAddress = email ? normalizeAddress(email) : undefined;
    const candidate = fromAddress?.ok ? fromAddress.address.domain : h?.replace(/^autoconfig\./, '');
    const domain = candidate ? await deps.hostedDomain(candidate) : undefined;
    if (!candidate || !domain) return text(c, 'not a domain hosted here\n', 404);
    return c.body(autoconfigXml(candidate, deps.endpoints()), 200, {
      'content-type': 'application/xml; charset=utf-8',
    });
  };
  app.get('/mail/config-v1.1.xml', autoconfig);
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', autoconfig);

  // Outlook: POST https://autodiscover.<domain>/autodiscover/autodiscover.xml (any case).
  app.on(['POST', 'GET'], '*', async (c, next) => {
    if (new URL(c.req.url).pathname.toLowerCase() !== '/autodiscover/autodiscover.xml') return next();
    if (c.req.method !== 'POST') return text(c, 'POST an autodiscover request\n', 405);
    const length = Number(c.req.header('content-length') ?? '0');
    if (length > MAX_BODY) return text(c, 'request too large\n', 413);
    const body = await readBounded(c, MAX_BODY);
    if (body === undefined) return text(c, 'request too large\n', 413);
    const raw = autodiscoverAddress(body);
    const address = raw ? normalizeAddress(raw) : undefined;
    if (!address?.ok) return text(c, 'the request names no valid EMailAddress\n', 400);
    if (!(await deps.hostedDomain(address.address.domain))) return text(c, 'not a domain hosted here\n', 404);
    return c.body(autodiscoverXml(address.text, deps.endpoints()), 200, {
      'content-type': 'application/xml; charset=utf-8',
    });
  });

  // Apple devices: a profile for one address, https://<host>/mobileconfig?emailaddress=ann@example.com
  app.get('/mobileconfig', async (c) => {
    const address = normalizeAddress(c.req.query('emailaddress') ?? c.req.query('email') ?? '');
    if (!address.ok) return text(c, 'give ?emailaddress=you@example.com\n', 400);
    if (!(await deps.hostedDomain(address.address.domain))) return text(c, 'not a domain hosted here\n', 404);
    return c.body(mobileconfig(address.text, deps.endpoints()), 200, {
      'content-type': 'application/x-apple-aspen-config',
      'content-disposition': `attachment; filename="${address.address.domain}.mobileconfig"`,
    });
  });

  mountWebmail(app, deps.webmail);
  app.get('/', (c) => text(c, `Postern mail server ${deps.hostname}\n`));
  app.notFound((c) => text(c, 'not found\n', 404));
  app.onError((err, c) => {
    deps.log.error({ reason: err.message, path: new URL(c.req.url).pathname }, 'HTTP handler failed');
    return c.body('internal error\n', 500, { 'content-type': 'text/plain; charset=utf-8' });
  });
  return app;
}

/** The admin API at /api/v1, and on it the admin UI (web/admin) at /admin/ and the account page at /account/. */
function mountAdmin(app: Hono<Env>, deps: AdminApiDeps | undefined): void {
  if (!deps) return;
  app.route('/api/v1', adminApi(deps));
  for (const ui of ['admin', 'account']) {
    app.get(`/${ui}`, (c) => c.redirect(`/${ui}/`, 301));
    app.get(`/${ui}/*`, webAppHandler(ui));
  }
}

/** The webmail at /mail/ and at webmail.<domain>/ (before the server's own answer at /). */
function mountWebmail(app: Hono<Env>, deps: WebmailDeps | undefined): void {
  if (deps) app.route('/', webmailApp(deps));
}

/** JMAP at /jmap (RFC 8620 §2.2: the well-known URL redirects to the session resource). */
function mountJmap(app: Hono<Env>, jmap: HttpDeps['jmap']): void {
  if (!jmap) return;
  app.get('/.well-known/jmap', (c) => c.redirect('/jmap/session', 307));
  app.all('/jmap/*', (c) => jmap.fetch(c.req.raw, c.env));
}

async function readBounded(c: Context<Env>, max: number): Promise<string | undefined> {
  return (await readAtMost(c.req.raw.body, max))?.toString('utf8');
}
