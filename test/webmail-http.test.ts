/**
 * The webmail's sign-in and its session over real HTTPS: the cookie's flags, JMAP and /api/v1/me
 * reached with it (the CSRF token required for changes, another site refused), an app password's
 * session kept out of the settings, signing out here and everywhere, the idle end, and password
 * guessing at the sign-in locked out while a signed-in client is still served.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // JSON of any shape, checked by the tests
}

function request(
  port: number,
  method: string,
  path: string,
  options: {
    host?: string;
    cookie?: string;
    csrf?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const host = options.host ?? 'mail.example.com';
  const headers: Record<string, string> = { host, ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: host, rejectUnauthorized: false, method, path, headers, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Signs in; the cookie (name=value) and the CSRF token. */
async function signIn(
  port: number,
  address: string,
  password: string,
): Promise<{ cookie: string; csrf: string; answer: Answer }> {
  const answer = await request(port, 'POST', '/mail/api/session', { body: { address, password } });
  const set = ([] as string[]).concat(answer.headers['set-cookie'] ?? []);
  const cookie = set.find((c) => c.startsWith('postern_mail='))?.split(';')[0] ?? '';
  return { cookie, csrf: (answer.json as { csrf?: string } | undefined)?.csrf ?? '', answer };
}

const GET_MAILBOXES = {
  using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
  methodCalls: [['Mailbox/get', { ids: null, properties: ['name'] }, '0']],
};

describe('webmail sessions over HTTPS', () => {
  let t: TestServer;
  let port: number;
  let appPassword: string;

  before(async () => {
    t = await startTestServer({
      listeners: ['https'],
      extraConfig: '[auth]\nfailure_delay = "0s"\nmax_failures = 5\n',
      logLevel: 'info',
    });
    port = t.port('https');
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount('ann@example.com', 'ann-secret-1');
    await t.server.directory.addAccount('bob@example.com', 'bob-secret-1');
    const basic = `Basic ${Buffer.from('ann@example.com:ann-secret-1').toString('base64')}`;
    const made = await request(port, 'POST', '/api/v1/me/app-passwords', {
      body: { name: 'phone' },
      headers: { authorization: basic },
    });
    assert.equal(made.status, 201);
    appPassword = made.json.password;
  });
  after(async () => t?.stop());

  it('serves the app at /mail/ and at webmail.<domain>/ with its policy; autoconfig keeps /mail/config-v1.1.xml', async () => {
    for (const [host, path] of [
      ['mail.example.com', '/mail/'],
      ['webmail.example.com', '/'],
    ] as const) {
      const page = await request(port, 'GET', path, { host });
      assert.equal(page.status, 200, `${host}${path}`);
      assert.match(page.text, /<div id="app">/);
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /script-src 'self';/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-eval/);
    }
    const other = await request(port, 'GET', '/', { host: 'webmail.not-hosted.example' });
    assert.doesNotMatch(other.text, /<div id="app">/);
    const autoconfig = await request(port, 'GET', '/mail/config-v1.1.xml?emailaddress=ann%40example.com', {
      host: 'autoconfig.example.com',
    });
    assert.match(autoconfig.text, /<clientConfig/);
  });

  it('signs in with a Secure, HttpOnly, SameSite=Strict cookie; refuses a wrong password, garbage and another site', async () => {
    const wrong = await signIn(port, 'ann@example.com', 'nope');
    assert.equal(wrong.answer.status, 401);
    assert.equal(wrong.cookie, '');
    const garbage = await request(port, 'POST', '/mail/api/session', { raw: '{"address":' });
    assert.equal(garbage.status, 400);
    const crossSite = await request(port, 'POST', '/mail/api/session', {
      body: { address: 'ann@example.com', password: 'ann-secret-1' },
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(crossSite.status, 403);
    const ok = await signIn(port, 'ann@example.com', 'ann-secret-1');
    assert.equal(ok.answer.status, 201);
    const set = String(([] as string[]).concat(ok.answer.headers['set-cookie'] ?? []));
    assert.match(set, /HttpOnly/i);
    assert.match(set, /Secure/i);
    assert.match(set, /SameSite=Strict/i);
    assert.equal(ok.answer.json.address, 'ann@example.com');
    assert.equal(ok.answer.json.settings, true);
    const again = await request(port, 'GET', '/mail/api/session', { cookie: ok.cookie });
    assert.equal(again.json.csrf, ok.csrf);
  });

  it('reaches JMAP with the cookie: changes need the CSRF token, and another site is refused', async () => {
    const { cookie, csrf } = await signIn(port, 'ann@example.com', 'ann-secret-1');
    const session = await request(port, 'GET', '/jmap/session', { cookie });
    assert.equal(session.status, 200);
    assert.equal(session.json.username, 'ann@example.com');
    const noToken = await request(port, 'POST', '/jmap/api', { cookie, body: GET_MAILBOXES });
    assert.equal(noToken.status, 403);
    const wrongToken = await request(port, 'POST', '/jmap/api', { cookie, csrf: 'x'.repeat(32), body: GET_MAILBOXES });
    assert.equal(wrongToken.status, 403);
    const ok = await request(port, 'POST', '/jmap/api', { cookie, csrf, body: GET_MAILBOXES });
    assert.equal(ok.status, 200);
    assert.ok(
      ok.json.methodResponses[0][1].list.some((m: { name: string }) => m.name === 'INBOX' || m.name === 'Inbox'),
    );
    const crossSite = await request(port, 'GET', '/jmap/session', {
      cookie,
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(crossSite.status, 403);
    const forged = await request(port, 'GET', '/jmap/session', {
      cookie: `postern_mail=${'A'.repeat(22)}.${'B'.repeat(43)}`,
    });
    assert.equal(forged.status, 401);
  });

  it("lets a password session change the account's settings, not an app password's", async () => {
    const full = await signIn(port, 'ann@example.com', 'ann-secret-1');
    const me = await request(port, 'GET', '/api/v1/me', { cookie: full.cookie });
    assert.equal(me.status, 200);
    assert.equal(me.json.address, 'ann@example.com');
    const vacation = { enabled: true, subject: 'Away', body: 'Back soon', days: 7 };
    const noToken = await request(port, 'PUT', '/api/v1/me/vacation', { cookie: full.cookie, body: vacation });
    assert.equal(noToken.status, 403);
    const saved = await request(port, 'PUT', '/api/v1/me/vacation', {
      cookie: full.cookie,
      csrf: full.csrf,
      body: vacation,
    });
    assert.equal(saved.status, 200);

    const app = await signIn(port, 'ann@example.com', appPassword);
    assert.equal(app.answer.status, 201);
    assert.equal(app.answer.json.settings, false);
    assert.equal((await request(port, 'GET', '/jmap/session', { cookie: app.cookie })).status, 200);
    const refused = await request(port, 'GET', '/api/v1/me', { cookie: app.cookie });
    assert.equal(refused.status, 403);
    assert.match(refused.json.detail, /app password/);
  });

  it('signs out one session, then every session of the account, leaving another account signed in', async () => {
    const a1 = await signIn(port, 'ann@example.com', 'ann-secret-1');
    const a2 = await signIn(port, 'ann@example.com', 'ann-secret-1');
    const b = await signIn(port, 'bob@example.com', 'bob-secret-1');
    assert.equal((await request(port, 'DELETE', '/mail/api/session', { cookie: a1.cookie })).status, 403); // no CSRF token
    assert.equal(
      (await request(port, 'DELETE', '/mail/api/session', { cookie: a1.cookie, csrf: a1.csrf })).status,
      204,
    );
    assert.equal((await request(port, 'GET', '/jmap/session', { cookie: a1.cookie })).status, 401);
    assert.equal((await request(port, 'GET', '/jmap/session', { cookie: a2.cookie })).status, 200);
    const a3 = await signIn(port, 'ann@example.com', 'ann-secret-1');
    assert.equal(
      (await request(port, 'DELETE', '/mail/api/sessions', { cookie: a3.cookie, csrf: a3.csrf })).status,
      204,
    );
    assert.equal((await request(port, 'GET', '/jmap/session', { cookie: a2.cookie })).status, 401);
    assert.equal((await request(port, 'GET', '/jmap/session', { cookie: a3.cookie })).status, 401);
    assert.equal((await request(port, 'GET', '/jmap/session', { cookie: b.cookie })).status, 200);
  });

  it('locks out a source guessing passwords at the sign-in while a signed-in client is still served', async () => {
    const bob = await signIn(port, 'bob@example.com', 'bob-secret-1');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await signIn(port, 'ann@example.com', `guess-${i}`)).answer.status);
    // Wrong passwords are 401 until the source is locked out (earlier tests' failures count too), then 429.
    assert.ok(
      statuses.every((s) => s === 401 || s === 429),
      String(statuses),
    );
    assert.equal(statuses.at(-1), 429);
    // Even the right password is refused from the locked source …
    assert.equal((await signIn(port, 'ann@example.com', 'ann-secret-1')).answer.status, 429);
    // … while the session already open keeps working.
    const served = await request(port, 'POST', '/jmap/api', {
      cookie: bob.cookie,
      csrf: bob.csrf,
      body: GET_MAILBOXES,
    });
    assert.equal(served.status, 200);
  });
});

describe('webmail session idle end', () => {
  it('ends a session unused for [webmail] session_idle', async () => {
    const t = await startTestServer({
      listeners: ['https'],
      extraConfig: '[webmail]\nsession_idle = "2s"\n',
      logLevel: 'info',
    });
    try {
      await t.server.directory.addDomain('example.com');
      await t.server.directory.addAccount('ann@example.com', 'ann-secret-1');
      const { cookie } = await signIn(t.port('https'), 'ann@example.com', 'ann-secret-1');
      assert.equal((await request(t.port('https'), 'GET', '/jmap/session', { cookie })).status, 200);
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal((await request(t.port('https'), 'GET', '/jmap/session', { cookie })).status, 401);
      assert.equal((await request(t.port('https'), 'GET', '/mail/api/session', { cookie })).status, 401);
    } finally {
      await t.stop();
    }
  });
});
