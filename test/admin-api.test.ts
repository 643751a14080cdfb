/**
 * The admin API over real HTTPS: a superadmin's day (domains with limits, accounts, aliases, tokens,
 * the audit log), the authorization matrix (a domain admin of a.test against b.test, a read-only,
 * expired or revoked token, a mailbox user), the domain limits holding for the API and the CLI
 * alike, garbage answered 400 with a problem document, curl as a client, and every answer checked
 * against the OpenAPI document the server serves.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { cliPrincipal } from '../src/services/admin/index.js';
import {
  addSuperadmin,
  apiClient,
  openApiValidator,
  totpCode,
  type ApiAnswer,
  type Credentials,
} from './helpers/api.js';
import { posternRun } from './helpers/cli.js';
import { peer } from './helpers/peers.js';
import { python, run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { makeTokenForTest } from './helpers/tokens.js';

const ROOT = { user: 'root@admin.test', password: 'root-secret-1' };
const DOM = { user: 'dom@a.test', password: 'dom-secret-1' };

describe('admin API', () => {
  let t: TestServer;
  let call: ReturnType<typeof apiClient>;
  let check: ReturnType<typeof openApiValidator>;

  /** Calls the API and checks the answer against the OpenAPI document at `template`. */
  const api = async (
    method: string,
    path: string,
    template: string,
    options: { auth?: Credentials; body?: unknown } = {},
  ): Promise<ApiAnswer> => {
    const answer = await call(method, path, options);
    assert.equal(check(template, method, answer), undefined);
    return answer;
  };

  before(async () => {
    t = await startTestServer({ listeners: ['https'] });
    call = apiClient(() => t.port('https'));
    const admin = t.server.administration;
    for (const d of ['a.test', 'b.test', 'admin.test']) await t.server.directory.addDomain(d);
    await admin.addAdmin(cliPrincipal(), {
      address: ROOT.user,
      password: ROOT.password,
      role: 'superadmin',
      domains: [],
    });
    await admin.addAdmin(cliPrincipal(), {
      address: DOM.user,
      password: DOM.password,
      role: 'domain',
      domains: ['a.test'],
    });
    await t.server.directory.addAccount('ann@a.test', 'ann-secret-1');
    await t.server.directory.addAccount('bob@b.test', 'bob-secret-1');
    await t.server.directory.addAlias('info@b.test', ['bob@b.test']);
    const doc = await call('GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    check = openApiValidator(doc.body);
  });
  after(async () => t?.stop());

  it('lets a superadmin add a domain with limits, accounts and aliases, and writes each change to the audit log', async () => {
    const created = await api('POST', '/domains', '/domains', {
      auth: ROOT,
      body: { name: 'C.test', maxAccounts: 2, maxQuotaBytes: '3M', defaultQuotaBytes: '1M' },
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.limits, {
      maxAccounts: 2,
      maxAliases: 0,
      maxQuotaBytes: 3 * 1024 * 1024,
      defaultQuotaBytes: 1024 * 1024,
    });
    const carol = await api('POST', '/domains/c.test/accounts', '/domains/{domain}/accounts', {
      auth: ROOT,
      body: { address: 'carol@c.test', password: 'carol-secret-1' },
    });
    assert.equal(carol.status, 201, carol.text);
    assert.equal(carol.body.quotaBytes, 1024 * 1024); // the domain's default
    const patched = await api('PATCH', '/accounts/carol@c.test', '/accounts/{address}', {
      auth: ROOT,
      body: { quota: '2M', enabled: false },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.quotaBytes, 2 * 1024 * 1024);
    assert.equal(patched.body.enabled, false);
    // Past the sum of quotas (2M + 2M > 3M), then past max_accounts.
    const over = await api('POST', '/domains/c.test/accounts', '/domains/{domain}/accounts', {
      auth: ROOT,
      body: { address: 'dave@c.test', password: 'dave-secret-1', quota: '2M' },
    });
    assert.equal(over.status, 409);
    assert.equal(over.body.code, 'limit_reached');
    assert.match(over.body.detail, /max_quota/);
    await api('POST', '/domains/c.test/accounts', '/domains/{domain}/accounts', {
      auth: ROOT,
      body: { address: 'dave@c.test', password: 'dave-secret-1' },
    });
    const third = await api('POST', '/domains/c.test/accounts', '/domains/{domain}/accounts', {
      auth: ROOT,
      body: { address: 'erin@c.test', password: 'erin-secret-1', quota: 1 },
    });
    assert.equal(third.status, 409);
    assert.match(third.body.detail, /at most 2 accounts/);

    const alias = await api('POST', '/domains/c.test/aliases', '/domains/{domain}/aliases', {
      auth: ROOT,
      body: { source: '@c.test', destinations: ['carol@c.test'] },
    });
    assert.equal(alias.status, 201, alias.text);
    const again = await api('POST', '/domains/c.test/aliases', '/domains/{domain}/aliases', {
      auth: ROOT,
      body: { source: '@c.test', destinations: ['dave@c.test'] },
    });
    assert.equal(again.status, 409);
    const put = await api('PUT', `/aliases/${encodeURIComponent('@c.test')}`, '/aliases/{source}', {
      auth: ROOT,
      body: { destinations: ['dave@c.test'] },
    });
    assert.deepEqual(put.body, { source: '@c.test', destinations: ['dave@c.test'] });
    const list = await api('GET', '/domains/c.test/aliases', '/domains/{domain}/aliases', { auth: ROOT });
    assert.deepEqual(list.body.items, [{ source: '@c.test', destinations: ['dave@c.test'] }]);
    const domain = await api('GET', '/domains/c.test', '/domains/{domain}', { auth: ROOT });
    assert.equal(domain.body.accounts, 2);
    assert.equal(domain.body.aliases, 1);
    const paged = await api('GET', '/domains?limit=1&q=test', '/domains', { auth: ROOT });
    assert.equal(paged.body.items.length, 1);
    assert.equal(paged.body.total, 4);

    const audit = await api('GET', '/audit?limit=50', '/audit', { auth: ROOT });
    const actions = audit.body.items.map((e: { action: string; target: string }) => `${e.action} ${e.target}`);
    assert.deepEqual(actions.slice(0, 5), [
      'alias.put @c.test',
      'alias.put @c.test',
      'account.add dave@c.test',
      'account.update carol@c.test',
      'account.add carol@c.test',
    ]);
    const csv = await call('GET', '/audit?format=csv', { auth: ROOT });
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    const rows = csv.text.trimEnd().split('\r\n'); // a catch-all's "@" is kept from spreadsheet formulas
    assert.equal(rows[0], 'id,at,actor,via,remote,action,target,domain,before,after');
    assert.match(
      rows[1]!,
      /^"\d+","[^"]+","root@admin\.test","api","127\.0\.0\.1","alias\.put","'@c\.test","c\.test","{""source"":""@c\.test""/,
    );
    const update = audit.body.items.find((e: { action: string }) => e.action === 'account.update');
    assert.equal(update.actor, ROOT.user);
    assert.equal(update.remote, '127.0.0.1');
    assert.equal(update.before.enabled, true);
    assert.equal(update.after.enabled, false);
    assert.doesNotMatch(JSON.stringify(audit.body), /carol-secret/);

    assert.equal((await api('DELETE', '/domains/c.test', '/domains/{domain}', { auth: ROOT })).status, 409);
    const gone = await api('DELETE', '/domains/c.test?force=true', '/domains/{domain}', { auth: ROOT });
    assert.equal(gone.status, 204);
  });

  it('keeps a domain admin of a.test out of b.test (404) and out of superadmin work (403)', async () => {
    const mine = await api('GET', '/domains', '/domains', { auth: DOM });
    assert.deepEqual(
      mine.body.items.map((d: { name: string }) => d.name),
      ['a.test'],
    );
    const added = await api('POST', '/domains/a.test/accounts', '/domains/{domain}/accounts', {
      auth: DOM,
      body: { address: 'amy@a.test', password: 'amy-secret-1' },
    });
    assert.equal(added.status, 201, added.text);
    const notFound: Array<[string, string, string, unknown?]> = [
      ['GET', '/domains/b.test', '/domains/{domain}'],
      ['GET', '/domains/b.test/accounts', '/domains/{domain}/accounts'],
      [
        'POST',
        '/domains/b.test/accounts',
        '/domains/{domain}/accounts',
        { address: 'x@b.test', password: 'xxxxxxxx1' },
      ],
      ['GET', '/accounts/bob@b.test', '/accounts/{address}'],
      ['PATCH', '/accounts/bob@b.test', '/accounts/{address}', { password: 'stolen-pass-1' }],
      ['DELETE', '/accounts/bob@b.test', '/accounts/{address}'],
      ['GET', '/domains/b.test/aliases', '/domains/{domain}/aliases'],
      [
        'POST',
        '/domains/b.test/aliases',
        '/domains/{domain}/aliases',
        { source: 'y@b.test', destinations: ['ann@a.test'] },
      ],
      ['GET', '/aliases/info@b.test', '/aliases/{source}'],
      ['PUT', '/aliases/info@b.test', '/aliases/{source}', { destinations: ['ann@a.test'] }],
      ['DELETE', '/aliases/info@b.test', '/aliases/{source}'],
      ['GET', '/domains/nowhere.test', '/domains/{domain}'],
    ];
    for (const [method, path, template, body] of notFound) {
      const answer = await api(method, path, template, { auth: DOM, body });
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`);
      assert.equal(answer.headers['content-type'], 'application/problem+json');
    }
    const forbidden: Array<[string, string, string, unknown?]> = [
      ['POST', '/domains', '/domains', { name: 'mine.test' }],
      ['PATCH', '/domains/a.test', '/domains/{domain}', { maxAccounts: 1000 }],
      ['DELETE', '/domains/a.test', '/domains/{domain}'],
      ['GET', '/admins', '/admins'],
      ['POST', '/admins', '/admins', { address: 'me2@a.test', password: 'xxxxxxxx1', role: 'superadmin' }],
      ['DELETE', '/admins/root@admin.test', '/admins/{address}'],
    ];
    for (const [method, path, template, body] of forbidden) {
      const answer = await api(method, path, template, { auth: DOM, body });
      assert.equal(answer.status, 403, `${method} ${path}: ${answer.text}`);
      assert.equal(answer.body.code, 'forbidden');
    }
    // Nothing of b.test changed, and the domain admin's audit view holds a.test only.
    assert.equal((await t.server.store.accounts.get('bob@b.test'))!.isEnabled, true);
    assert.deepEqual((await t.server.store.aliases.get('info@b.test'))!.destinations, ['bob@b.test']);
    const audit = await api('GET', '/audit', '/audit', { auth: DOM });
    assert.ok(audit.body.items.length > 0);
    assert.ok(audit.body.items.every((e: { domain: string }) => e.domain === 'a.test'));
  });

  it('takes tokens with scopes; a read-only token may not write, and an expired, revoked or forged one is refused', async () => {
    const made = await api('POST', '/tokens', '/tokens', {
      auth: DOM,
      body: { name: 'monitoring', scopes: ['read'], expires_in_days: 30 },
    });
    assert.equal(made.status, 201, made.text);
    const token = { token: made.body.token as string };
    assert.match(token.token, /^pst_/);
    assert.equal((await api('GET', '/domains/a.test', '/domains/{domain}', { auth: token })).status, 200);
    assert.equal((await api('GET', '/domains/b.test', '/domains/{domain}', { auth: token })).status, 404);
    const write = await api('PATCH', '/accounts/ann@a.test', '/accounts/{address}', {
      auth: token,
      body: { enabled: false },
    });
    assert.equal(write.status, 403);
    assert.match(write.body.detail, /scopes/);
    const listed = await api('GET', '/tokens', '/tokens', { auth: DOM });
    assert.deepEqual(
      listed.body.items.map((t: { name: string }) => t.name),
      ['monitoring'],
    );
    assert.doesNotMatch(listed.text, /secret|pst_/);

    const forged = { token: `${token.token.slice(0, -4)}AAAA` };
    assert.equal((await api('GET', '/domains', '/domains', { auth: forged })).status, 401);
    // Expired: one made directly in the store with a date in the past.
    const expired = await makeTokenForTest(t.server.store, DOM.user, -1);
    assert.equal((await api('GET', '/domains', '/domains', { auth: { token: expired } })).status, 401);
    const removed = await api('DELETE', `/tokens/${made.body.id}`, '/tokens/{id}', { auth: DOM });
    assert.equal(removed.status, 204);
    const revoked = await api('GET', '/domains', '/domains', { auth: token });
    assert.equal(revoked.status, 401);
    assert.match(String(revoked.headers['www-authenticate']), /Basic/);
    // Another admin's token cannot be removed by its id.
    const rootToken = await api('POST', '/tokens', '/tokens', { auth: ROOT, body: { name: 'ci' } });
    assert.equal((await api('DELETE', `/tokens/${rootToken.body.id}`, '/tokens/{id}', { auth: DOM })).status, 404);
    // A mailbox user is no admin.
    const user = await api('GET', '/domains', '/domains', { auth: { user: 'ann@a.test', password: 'ann-secret-1' } });
    assert.equal(user.status, 401);
  });

  it('lists and rotates DKIM keys and prints DNS records for the domain admin; the queue and status for the superadmin', async () => {
    const keys = await api('GET', '/domains/a.test/dkim', '/domains/{domain}/dkim', { auth: DOM });
    assert.equal(keys.status, 200, keys.text);
    assert.equal(keys.body.items.length, 1);
    const old = keys.body.items[0];
    assert.match(old.txt, /^v=DKIM1; k=rsa; p=/);
    const rotated = await api('POST', '/domains/a.test/dkim/rotate', '/domains/{domain}/dkim/rotate', {
      auth: DOM,
      body: { now: true },
    });
    assert.equal(rotated.status, 201, rotated.text);
    assert.equal(rotated.body.status, 'active');
    assert.notEqual(rotated.body.selector, old.selector);
    const after = await api('GET', '/domains/a.test/dkim', '/domains/{domain}/dkim', { auth: DOM });
    assert.equal(after.body.items.find((k: { selector: string }) => k.selector === old.selector).status, 'retired');
    const dns = await api('GET', '/domains/a.test/dns', '/domains/{domain}/dns', { auth: DOM });
    assert.ok(
      dns.body.items.some(
        (r: { type: string; value: string }) => r.type === 'MX' && /mail\.example\.com/.test(r.value),
      ),
    );
    assert.ok(dns.body.items.some((r: { name: string }) => r.name.startsWith(`${rotated.body.selector}._domainkey.`)));
    for (const [method, path, template] of [
      ['GET', '/domains/b.test/dkim', '/domains/{domain}/dkim'],
      ['POST', '/domains/b.test/dkim/rotate', '/domains/{domain}/dkim/rotate'],
      ['GET', '/domains/b.test/dns', '/domains/{domain}/dns'],
    ] as const)
      assert.equal((await api(method, path, template, { auth: DOM })).status, 404, `${method} ${path}`);

    // A held queue entry (held in the same transaction, so that delivery never tries it).
    const store = t.server.store;
    const { hash } = await store.blobs.withContent(Buffer.from('Subject: out\r\n\r\nx\r\n'), async (b) => b);
    await store.transaction(async (tx) => {
      await tx.queue.add({
        qid: 'APIQ1',
        blobHash: hash,
        sender: 'ann@a.test',
        size: 20,
        authUser: 'ann@a.test',
        envid: null,
        ret: null,
        recipients: [{ recipient: 'x@remote.example', notify: null, orcpt: null }],
      });
      await tx.queue.setHeld('APIQ1', true);
    });
    const queue = await api('GET', '/queue', '/queue', { auth: ROOT });
    assert.deepEqual(
      queue.body.items.map((e: { id: string; held: boolean }) => [e.id, e.held]),
      [['APIQ1', true]],
    );
    assert.equal((await api('GET', '/queue/apiq1', '/queue/{id}', { auth: ROOT })).body.sender, 'ann@a.test');
    assert.equal((await api('GET', '/queue', '/queue', { auth: DOM })).status, 403);
    assert.equal((await api('POST', '/queue/APIQ1/release', '/queue/{id}/release', { auth: DOM })).status, 403);
    assert.equal((await api('GET', '/queue/NOPE', '/queue/{id}', { auth: ROOT })).status, 404);
    const removed = await api('DELETE', '/queue/APIQ1', '/queue/{id}', { auth: ROOT });
    assert.equal(removed.status, 204);
    assert.equal(await store.queue.get('APIQ1'), undefined);

    // The doctor's DNS checks for a.test, through the test's own DNS server (which publishes nothing).
    const doctor = await api('GET', '/domains/a.test/doctor', '/domains/{domain}/doctor', { auth: DOM });
    assert.equal(doctor.status, 200, doctor.text);
    assert.ok(doctor.body.counts.error > 0);
    const mx = doctor.body.findings.find((f: { id: string }) => f.id.startsWith('mx.'));
    assert.match(mx.fix, /MX/);
    assert.equal((await api('GET', '/domains/b.test/doctor', '/domains/{domain}/doctor', { auth: DOM })).status, 404);
    // The dashboard's view: the last result per domain, a.test's from the check above; the domain admin
    // sees a.test only. A check of all runs in the background when asked.
    const health = await api('GET', '/doctor', '/doctor', { auth: DOM });
    assert.deepEqual(
      health.body.items.map((h: { domain: string }) => h.domain),
      ['a.test'],
    );
    assert.equal(health.body.items[0].counts.error, doctor.body.counts.error);
    const unchecked = await api('GET', '/doctor', '/doctor', { auth: ROOT });
    assert.equal(unchecked.body.items.find((h: { domain: string }) => h.domain === 'b.test').checkedAt, null);
    assert.equal((await api('POST', '/doctor', '/doctor', { auth: ROOT })).status, 202);
    let all = await api('GET', '/doctor', '/doctor', { auth: ROOT });
    for (let i = 0; i < 100 && all.body.running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      all = await api('GET', '/doctor', '/doctor', { auth: ROOT });
    }
    assert.equal(all.body.running, false);
    assert.ok(
      all.body.items.every((h: { checkedAt: string | null; counts: unknown }) => h.checkedAt && h.counts),
      all.text,
    );
    assert.ok(all.body.items[0].counts.error > 0 && all.body.items[0].worst, 'errors first, with the first named');
    const certs = await api('GET', '/certificates', '/certificates', { auth: ROOT });
    const main = certs.body.items.find((c: { names: string[] }) => c.names.includes('mail.example.com'));
    assert.ok(main.daysLeft > 0, certs.text);
    assert.deepEqual((await api('GET', '/certificates', '/certificates', { auth: DOM })).body.items, []);
    // The recent log, searched by a queue id: the superadmin's only.
    const logs = await api('GET', '/logs?q=APIQ1%20queue', '/logs', { auth: ROOT });
    assert.ok(logs.body.items.length > 0, logs.text);
    assert.ok(logs.body.items.every((l: Record<string, unknown>) => JSON.stringify(l).includes('APIQ1')));
    assert.equal((await api('GET', '/logs?q=APIQ1', '/logs', { auth: DOM })).status, 403);
    assert.doesNotMatch(
      JSON.stringify((await api('GET', '/logs?limit=1000', '/logs', { auth: ROOT })).body),
      /root-secret-1/,
    );

    const status = await api('GET', '/status', '/status', { auth: DOM });
    assert.equal(status.body.hostname, 'mail.example.com');
    const audit = await api('GET', '/audit?limit=5', '/audit', { auth: ROOT });
    assert.deepEqual(
      audit.body.items.slice(0, 2).map((e: { action: string }) => e.action),
      ['queue.remove', 'dkim.rotate'],
    );
  });

  it("shows held mail to the admins of its recipient's domain only, and releases it into the mailbox", async () => {
    const hold = async (recipient: string) =>
      t.server.store.quarantine.hold({
        qid: `Q${recipient.length}`,
        recipient,
        accountId: (await t.server.store.accounts.get(recipient))!.id,
        mailFrom: 'x@sender.example',
        subject: 'held for you',
        reason: 'spam score 9',
        score: 9,
        createdAt: new Date(),
        expiresAt: new Date(Date.now() + 86_400_000),
        content: Buffer.from(`From: x@sender.example\r\nTo: ${recipient}\r\nSubject: held for you\r\n\r\nhello\r\n`),
      });
    const anns = await hold('ann@a.test');
    const bobs = await hold('bob@b.test');
    const mine = await api('GET', '/quarantine', '/quarantine', { auth: DOM });
    assert.deepEqual(
      mine.body.items.map((m: { recipient: string }) => m.recipient),
      ['ann@a.test'],
    );
    assert.equal((await api('GET', '/quarantine', '/quarantine', { auth: ROOT })).body.items.length, 2);
    assert.equal((await api('GET', `/quarantine/${bobs.id}`, '/quarantine/{id}', { auth: DOM })).status, 404);
    assert.equal(
      (await api('POST', `/quarantine/${bobs.id}/release`, '/quarantine/{id}/release', { auth: DOM })).status,
      404,
    );
    assert.equal((await api('GET', '/quarantine?domain=b.test', '/quarantine', { auth: DOM })).status, 404);
    const shown = await api('GET', `/quarantine/${anns.id}`, '/quarantine/{id}', { auth: DOM });
    assert.match(shown.body.content, /Subject: held for you/);
    const released = await api('POST', `/quarantine/${anns.id}/release`, '/quarantine/{id}/release', { auth: DOM });
    assert.equal(released.status, 204, released.text);
    assert.ok((await mailbox(t.server, 'ann@a.test')).some((m) => m.text.includes('Subject: held for you')));
    assert.equal((await api('DELETE', `/quarantine/${bobs.id}`, '/quarantine/{id}', { auth: ROOT })).status, 204);
    assert.deepEqual((await api('GET', '/quarantine', '/quarantine', { auth: ROOT })).body.items, []);
  });

  it('keeps serving an admin while a stranger, before login, dribbles a body and sends one too large', async () => {
    const open = () =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect(
          { host: '127.0.0.1', port: t.port('https'), servername: 'mail.example.com', rejectUnauthorized: false },
          () => resolve(s),
        );
        s.on('error', reject);
      });
    // A slow client: a POST announcing 60 KB, sent a byte at a time.
    const slow = await open();
    slow.on('error', () => undefined);
    slow.write(
      'POST /api/v1/session HTTP/1.1\r\nHost: mail.example.com\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{',
    );
    const drip = setInterval(() => slow.write(' '), 50);
    // A huge one, without credentials: refused by its length, not read to the end.
    const huge = await open();
    const answer = new Promise<string>((resolve) => {
      let text = '';
      huge.on('data', (d: Buffer) => (text += d.toString()));
      huge.on('close', () => resolve(text));
      huge.on('error', () => resolve(text));
    });
    huge.write(
      'POST /api/v1/session HTTP/1.1\r\nHost: mail.example.com\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n',
    );
    huge.write('{"address": "' + 'x'.repeat(100_000));
    try {
      // Meanwhile, with the slow body still arriving, an admin is answered.
      assert.equal((await call('GET', '/domains', { auth: ROOT })).status, 200);
      assert.match(await answer, /^HTTP\/1\.1 400 [\s\S]*over 65536 bytes/);
    } finally {
      clearInterval(drip);
      slow.destroy();
      huge.destroy();
    }
  });

  it('answers garbage with 400 or 401 problem documents and keeps serving', async () => {
    const cases: Array<[Parameters<typeof call>[2], number]> = [
      [{ auth: ROOT, raw: '{"name": ', contentType: 'application/json' }, 400],
      [{ auth: ROOT, raw: '[1,2]', contentType: 'application/json' }, 400],
      [{ auth: ROOT, raw: 'name=x.test', contentType: 'application/x-www-form-urlencoded' }, 400],
      [{ auth: ROOT, raw: JSON.stringify({ name: 'x'.repeat(70_000) }), contentType: 'application/json' }, 400],
      [{ auth: ROOT, body: { name: 'no_dots' } }, 400],
      [{ auth: ROOT, body: { name: 42 } }, 400],
      [{}, 401],
    ];
    for (const [options, status] of cases) {
      const answer = await call('POST', '/domains', options);
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.headers['content-type'], 'application/problem+json');
      assert.equal(check('/domains', 'POST', answer), undefined);
    }
    // The validator does check: an answer the document does not describe is caught.
    const wrong = {
      status: 200,
      headers: {},
      text: '{}',
      body: { items: [{ name: 1 }], total: 1, limit: 1, offset: 0 },
    };
    assert.match(check('/domains', 'GET', wrong) ?? '', /must/);
    assert.match(check('/domains', 'GET', { ...wrong, status: 418 }) ?? '', /does not document/);
    // A browser's cross-site form cannot use Basic credentials it remembers to change anything.
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
      const forged = await call('POST', '/domains', { auth: ROOT, body: { name: 'evil.test' }, headers });
      assert.equal(forged.status, 403);
      assert.equal(forged.body.code, 'csrf');
    }
    assert.equal(await t.server.store.domains.get('evil.test'), undefined);
    assert.equal(
      (await call('GET', '/domains', { auth: ROOT, headers: { origin: 'https://evil.example' } })).status,
      200,
    );
    assert.equal((await call('GET', '/nothing/here', { auth: ROOT })).status, 404);
    assert.equal((await call('GET', '/domains?limit=100000', { auth: ROOT })).status, 400);
    assert.equal((await call('GET', '/domains', { auth: ROOT })).status, 200);
  });

  it('serves curl, and the CLI holds the same domain limits as the API', { skip: peer('curl', 'curl') }, async () => {
    const port = t.port('https');
    const curl = await run('curl', [
      '-sS',
      '-k',
      '--max-time',
      '10',
      '--resolve',
      `mail.example.com:${port}:127.0.0.1`,
      '-u',
      `${ROOT.user}:${ROOT.password}`,
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({ maxAccounts: 1 }),
      '-X',
      'PATCH',
      `https://mail.example.com:${port}/api/v1/domains/b.test`,
    ]);
    assert.equal(JSON.parse(curl.stdout).limits.maxAccounts, 1);
    const cli = await posternRun(['account', 'add', 'bea@b.test', '--config', t.configFile]);
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stderr, /at most 1 accounts/);
    const admin = await posternRun(['admin', 'add', 'ops@b.test', '--domain', 'b.test', '--config', t.configFile]);
    assert.equal(admin.code, 0, admin.stderr);
    const password = /password: (\S+)/.exec(admin.stdout)![1]!;
    const seen = await call('GET', '/domains', { auth: { user: 'ops@b.test', password } });
    assert.deepEqual(
      seen.body.items.map((d: { name: string }) => d.name),
      ['b.test'],
    );
    const audit = await call('GET', '/audit', { auth: ROOT });
    assert.equal(audit.body.items[0].action, 'admin.add');
    assert.equal(audit.body.items[0].via, 'cli');
  });
});

describe('admin browser sessions and two-factor login', { skip: peer('python3', 'python3') }, () => {
  let t: TestServer;
  let call: ReturnType<typeof apiClient>;
  let check: ReturnType<typeof openApiValidator>;

  before(async () => {
    t = await startTestServer({ listeners: ['https'] });
    call = apiClient(() => t.port('https'));
    check = openApiValidator((await call('GET', '/openapi.json')).body);
    await addSuperadmin(t.server, ROOT);
  });
  after(async () => t?.stop());

  it('logs in to an HttpOnly, Secure, SameSite=Strict cookie; changes need the CSRF token; two-factor then guards the login', async () => {
    const login = (body: unknown) => call('POST', '/session', { body });
    const wrong = await login({ address: ROOT.user, password: 'nope' });
    assert.equal(wrong.status, 401);
    const ok = await login({ address: ROOT.user, password: ROOT.password });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(check('/session', 'POST', ok), undefined);
    const setCookie = String(ok.headers['set-cookie']);
    assert.match(setCookie, /^postern_admin=[\w-]+\.[\w-]+;/);
    for (const attribute of [/; HttpOnly/i, /; Secure/i, /; SameSite=Strict/i, /; Path=\//, /; Max-Age=4319\d/])
      assert.match(setCookie, attribute);
    const cookie = setCookie.split(';')[0]!;
    const csrf = ok.body.csrf as string;
    const withCookie = (headers: Record<string, string> = {}) => ({ headers: { cookie, ...headers } });

    assert.equal((await call('GET', '/domains', withCookie())).status, 200);
    const forged = await call('POST', '/domains', { ...withCookie(), body: { name: 'x.test' } });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.code, 'csrf');
    assert.equal(
      (await call('POST', '/domains', { ...withCookie({ 'x-csrf-token': 'guess' }), body: { name: 'x.test' } })).status,
      403,
    );
    const made = await call('POST', '/domains', { ...withCookie({ 'x-csrf-token': csrf }), body: { name: 'x.test' } });
    assert.equal(made.status, 201, made.text);
    const session = await call('GET', '/session', withCookie());
    assert.equal(session.body.csrf, csrf);
    assert.equal(check('/session', 'GET', session), undefined);
    const audit = await t.server.store.audit.list({ limit: 1 });
    assert.equal(audit[0]!.via, 'ui');

    // Two-factor: enrol, confirm with a code from Python's own TOTP, then Basic no longer works.
    const started = await call('POST', '/totp', withCookie({ 'x-csrf-token': csrf }));
    assert.equal(started.status, 201, started.text);
    assert.match(
      started.body.uri,
      /^otpauth:\/\/totp\/Postern%20mail\.example\.com%3Aroot%40admin\.test\?secret=[A-Z2-7]+/,
    );
    const badCode = await call('POST', '/totp/confirm', {
      ...withCookie({ 'x-csrf-token': csrf }),
      body: { code: '000000' },
    });
    assert.equal(badCode.status, 400);
    const confirmed = await call('POST', '/totp/confirm', {
      ...withCookie({ 'x-csrf-token': csrf }),
      body: { code: await totpCode(started.body.secret) },
    });
    assert.equal(confirmed.status, 204, confirmed.text);
    assert.equal((await call('GET', '/domains', { auth: ROOT })).status, 401);
    assert.equal((await login({ address: ROOT.user, password: ROOT.password })).status, 401);
    const second = await login({
      address: ROOT.user,
      password: ROOT.password,
      totp: await totpCode(started.body.secret),
    });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.body.totp, true);

    // Logging out ends the session (and needs the token too).
    assert.equal((await call('DELETE', '/session', withCookie())).status, 403);
    assert.equal((await call('DELETE', '/session', withCookie({ 'x-csrf-token': csrf }))).status, 204);
    assert.equal((await call('GET', '/domains', withCookie())).status, 401);
  });
});

describe('self-service for account owners', { skip: peer('python3', 'python3') }, () => {
  let t: TestServer;
  let call: ReturnType<typeof apiClient>;
  let check: ReturnType<typeof openApiValidator>;
  const ANN = { user: 'ann@a.test', password: 'ann-secret-1' };
  const api = async (
    method: string,
    path: string,
    template: string,
    options: { auth?: Credentials; body?: unknown } = {},
  ) => {
    const answer = await call(method, path, options);
    assert.equal(check(template, method, answer), undefined);
    return answer;
  };
  /** An IMAP login over TLS with Python's imaplib: '' when it worked, else the server's answer. */
  const imapLogin = (user: string, password: string) =>
    python<{ error: string }>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
try:
    c.login(os.environ['USER_NAME'], os.environ['PASSWORD'])
    c.logout()
    print(json.dumps({'error': ''}))
except imaplib.IMAP4.error as e:
    print(json.dumps({'error': str(e)}))
`,
      { PORT: t.port('imaps'), USER_NAME: user, PASSWORD: password },
    ).then((r) => r.error);

  before(async () => {
    t = await startTestServer({ listeners: ['https', 'imaps'] });
    call = apiClient(() => t.port('https'));
    check = openApiValidator((await call('GET', '/openapi.json')).body);
    await t.server.directory.addDomain('a.test');
    await t.server.directory.addAccount(ANN.user, ANN.password, { quotaBytes: 1000000 });
    await t.server.directory.addAccount('bob@a.test', 'bob-secret-1');
  });
  after(async () => t?.stop());

  it('gives an owner app passwords for mail clients (IMAP takes them until revoked), never for /me, and changes their password', async () => {
    const me = await api('GET', '/me', '/me', { auth: ANN });
    assert.deepEqual(me.body, { address: ANN.user, quotaBytes: 1000000, usedBytes: 0, appPasswords: 0 });
    const made = await api('POST', '/me/app-passwords', '/me/app-passwords', { auth: ANN, body: { name: 'phone' } });
    assert.equal(made.status, 201, made.text);
    const app = made.body.password as string;
    assert.match(app, /^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/);
    assert.equal(await imapLogin(ANN.user, app), '');
    assert.notEqual(await imapLogin('bob@a.test', app), ''); // Ann's app password is not Bob's
    assert.equal((await api('GET', '/me', '/me', { auth: { user: ANN.user, password: app } })).status, 401);
    assert.equal((await api('GET', '/me', '/me', { auth: { token: 'pst_x' } })).status, 401);
    // Not an admin: the admin routes do not take an account's password.
    assert.equal((await call('GET', '/domains', { auth: ANN })).status, 401);
    const list = await api('GET', '/me/app-passwords', '/me/app-passwords', { auth: ANN });
    assert.deepEqual(
      list.body.items.map((x: { name: string }) => x.name),
      ['phone'],
    );
    assert.doesNotMatch(list.text, new RegExp(app));
    const bobs = await api('DELETE', `/me/app-passwords/${made.body.id}`, '/me/app-passwords/{id}', {
      auth: { user: 'bob@a.test', password: 'bob-secret-1' },
    });
    assert.equal(bobs.status, 404); // Bob cannot revoke Ann's
    const revoked = await api('DELETE', `/me/app-passwords/${made.body.id}`, '/me/app-passwords/{id}', { auth: ANN });
    assert.equal(revoked.status, 204);
    assert.notEqual(await imapLogin(ANN.user, app), '');

    const wrong = await api('PUT', '/me/password', '/me/password', {
      auth: ANN,
      body: { current: 'not-it', password: 'ann-new-secret-2' },
    });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.detail, /current password/);
    const changed = await api('PUT', '/me/password', '/me/password', {
      auth: ANN,
      body: { current: ANN.password, password: 'ann-new-secret-2' },
    });
    assert.equal(changed.status, 204, changed.text);
    assert.notEqual(await imapLogin(ANN.user, ANN.password), '');
    assert.equal(await imapLogin(ANN.user, 'ann-new-secret-2'), '');
    const audit = await t.server.store.audit.list({ limit: 10 });
    assert.deepEqual(
      audit.map((e) => `${e.actor} ${e.action}`),
      ['ann@a.test me.password', 'ann@a.test me.app-password.remove', 'ann@a.test me.app-password.add'],
    );
  });
});

describe('admin API logins', { skip: peer('python3', 'python3') }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      listeners: ['https', 'imaps'],
      extraConfig: '[auth]\nfailure_delay = "0s"\nmax_failures = 3\n',
    });
    await t.server.directory.addDomain('a.test');
    await t.server.directory.addAccount('ann@a.test', 'ann-secret-1');
    await addSuperadmin(t.server, ROOT);
  });
  after(async () => t?.stop());

  it('counts failed API logins with the mail logins: the source is then refused over IMAP too', async () => {
    const call = apiClient(() => t.port('https'));
    for (let i = 0; i < 3; i++) {
      const answer = await call('GET', '/domains', { auth: { user: ROOT.user, password: `wrong-${i}` } });
      assert.equal(answer.status, 401);
    }
    const locked = await call('GET', '/domains', { auth: ROOT });
    assert.equal(locked.status, 429);
    assert.equal(locked.body.code, 'auth_locked');
    const imap = await python<{ error: string }>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
try:
    c.login('ann@a.test', 'ann-secret-1')
    print(json.dumps({'error': ''}))
except imaplib.IMAP4.error as e:
    print(json.dumps({'error': str(e)}))
`,
      { PORT: t.port('imaps') },
    );
    assert.match(imap.error, /UNAVAILABLE|try again later/i);
  });
});
