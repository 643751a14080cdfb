/**
 * The account owner's mail rules over the admin API (/me/rules, /me/vacation, /me/forwarding,
 * /me/filters): saved as a Sieve script that sieve-connect lists as active, followed at delivery
 * (swaks in, Python's imaplib to look), refused with a problem document when they cannot be meant,
 * and every answer checked against the served OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliPrincipal } from '../src/services/admin/index.js';
import { apiClient, openApiValidator, type ApiAnswer, type Credentials } from './helpers/api.js';
import { peer } from './helpers/peers.js';
import { python } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { sieveConnect } from './helpers/sieve-connect.js';
import { swaksReply } from './helpers/swaks.js';

const ANN = { user: 'ann@a.test', password: 'ann-secret-1' };
const BOB = { user: 'bob@a.test', password: 'bob-secret-1' };
const ROOT = { user: 'root@a.test', password: 'root-secret-1' };

describe('mail rules of account owners', { skip: peer('swaks', 'swaks') || peer('python3', 'python3') }, () => {
  let t: TestServer;
  let call: ReturnType<typeof apiClient>;
  let check: ReturnType<typeof openApiValidator>;
  const api = async (
    method: string,
    path: string,
    options: { auth?: Credentials; body?: unknown } = {},
  ): Promise<ApiAnswer> => {
    const answer = await call(method, path, options);
    assert.equal(check(path, method, answer), undefined);
    return answer;
  };
  /** Subjects in an account's folder, read with imaplib. */
  const subjects = (who: { user: string; password: string }, folder: string) =>
    python<string[]>(
      `
import imaplib, json, os, ssl, email
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login(os.environ['USER_NAME'], os.environ['PASSWORD'])
typ, _ = c.select('"' + os.environ['FOLDER'] + '"', readonly=True)
out = []
if typ == 'OK':
    typ, data = c.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    for part in data:
        if isinstance(part, tuple):
            out.append(email.message_from_bytes(part[1])['Subject'])
c.logout()
print(json.dumps(out))
`,
      { PORT: t.port('imaps'), USER_NAME: who.user, PASSWORD: who.password, FOLDER: folder },
    );
  /** Bob writes to Ann over submission. */
  const send = async (subject: string, body = 'hello') =>
    swaksReply(t.port('submission'), [
      '--tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      BOB.user,
      '--auth-password',
      BOB.password,
      '--from',
      BOB.user,
      '--to',
      ANN.user,
      '--header',
      `Subject: ${subject}`,
      '--body',
      body,
    ]);
  const waitFor = async (what: () => Promise<boolean>, label: string) => {
    for (let i = 0; i < 100; i++) {
      if (await what()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`waited in vain: ${label}`);
  };

  before(async () => {
    t = await startTestServer({ listeners: ['smtp', 'submission', 'https', 'imaps', 'managesieve'] });
    call = apiClient(() => t.port('https'));
    check = openApiValidator((await call('GET', '/openapi.json')).body);
    await t.server.directory.addDomain('a.test');
    for (const who of [ANN, BOB]) await t.server.directory.addAccount(who.user, who.password);
    await t.server.directory.addAccount('carol@a.test', 'carol-secret-1');
    await t.server.administration.addAdmin(cliPrincipal(), {
      address: ROOT.user,
      password: ROOT.password,
      role: 'superadmin',
      domains: [],
    });
  });
  after(async () => t?.stop());

  it('saves filters, forwarding and a vacation reply as the active Sieve script, and delivery follows them', async () => {
    const ann = (await t.server.store.accounts.get(ANN.user))!;
    // A script of Ann's own, active: saving the form's rules replaces it as the active one, keeping it.
    await t.server.sieve.put(ann.id, 'mine', 'keep;\r\n');
    await t.server.sieve.setActive(ann.id, 'mine');
    const empty = await api('GET', '/me/rules', { auth: ANN });
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.body.filters, []);
    assert.equal(empty.body.active, false);
    assert.equal(empty.body.activeScript, 'mine');

    const filters = await api('PUT', '/me/filters', {
      auth: ANN,
      body: {
        filters: [
          {
            name: 'Reports',
            match: 'all',
            conditions: [{ field: 'subject', op: 'contains', value: 'report' }],
            actions: [{ type: 'fileinto', mailbox: 'Work/Reports' }, { type: 'stop' }],
          },
        ],
      },
    });
    assert.equal(filters.status, 200, filters.text);
    assert.equal(filters.body.active, true);
    assert.equal(filters.body.activeScript, null);
    const forwarding = await api('PUT', '/me/forwarding', {
      auth: ANN,
      body: { enabled: true, to: ['Carol@A.test'], keepCopy: true },
    });
    assert.equal(forwarding.status, 200, forwarding.text);
    assert.deepEqual(forwarding.body.forwarding, { enabled: true, to: ['carol@a.test'], keepCopy: true });
    assert.equal(forwarding.body.filters.length, 1, 'the filters are kept');
    const vacation = await api('PUT', '/me/vacation', {
      auth: ANN,
      body: {
        enabled: true,
        subject: 'Away until Monday',
        body: 'I am away.\nBack on Monday.',
        days: 7,
        addresses: [],
      },
    });
    assert.equal(vacation.status, 200, vacation.text);

    // ManageSieve sees the same script, active; Ann's own is still there.
    if (!peer('sieve-connect', 'sieve-connect')) {
      const list = await sieveConnect(t.port('managesieve'), ANN.user, ANN.password, ['--list']);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(list.stdout.trim().split('\n').sort(), ['"account-rules" ACTIVE', '"mine"']);
    }

    assert.match(await send('Monthly report'), /^250 /);
    assert.match(await send('Lunch?'), /^250 /);
    await waitFor(async () => (await mailbox(t.server, 'carol@a.test')).length === 2, 'two forwarded copies');
    assert.deepEqual(await subjects(ANN, 'Work/Reports'), ['Monthly report'], 'filed by the filter, folder created');
    assert.deepEqual(await subjects(ANN, 'INBOX'), ['Lunch?'], 'the rest kept (forwarding keeps a copy)');
    // One vacation reply to Bob however many messages he sends within :days.
    await waitFor(
      async () => (await mailbox(t.server, BOB.user)).some((m) => /Subject: Away until Monday/.test(m.text)),
      'the vacation reply',
    );
    const replies = (await mailbox(t.server, BOB.user)).filter((m) => /Subject: Away until Monday/.test(m.text));
    assert.equal(replies.length, 1);
    assert.match(replies[0]!.text, /I am away\.\r\nBack on Monday\./);

    // Turned off again: the next message is simply kept, no forward.
    await api('PUT', '/me/forwarding', { auth: ANN, body: { enabled: false, to: [], keepCopy: true } });
    const off = await api('PUT', '/me/vacation', { auth: ANN, body: { enabled: false, subject: '', body: '' } });
    assert.equal(off.body.vacation.enabled, false);
    assert.match(await send('After'), /^250 /);
    await waitFor(async () => (await subjects(ANN, 'INBOX')).includes('After'), 'kept');
    assert.equal((await mailbox(t.server, 'carol@a.test')).length, 2, 'no longer forwarded');

    const audit = await t.server.store.audit.list({ limit: 20 });
    assert.ok(
      ['me.filters', 'me.forwarding', 'me.vacation'].every((a) =>
        audit.some((e) => e.action === a && e.actor === ANN.user && e.target === ANN.user),
      ),
      'each save is audited with the owner as actor',
    );
  });

  it('refuses rules that cannot be meant with a problem naming the fix, and keeps them to their owner', async () => {
    const bad = async (path: string, body: unknown, pattern: RegExp) => {
      const r = await api('PUT', path, { auth: BOB, body });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.code, 'invalid_input');
      assert.match(String(r.body.detail), pattern);
    };
    await bad('/me/forwarding', { enabled: true, to: [BOB.user] }, /loop/);
    await bad(
      '/me/forwarding',
      { enabled: true, to: ['a@x.example', 'b@x.example', 'c@x', 'd@x', 'e@x'] },
      /at most 4/,
    );
    await bad('/me/vacation', { enabled: true, subject: 'x\r\nBcc: victim@x.example', body: 'x' }, /line break/);
    await bad('/me/vacation', { enabled: true, body: 'x', days: 365 }, /1 to 30/);
    await bad(
      '/me/filters',
      { filters: [{ conditions: [], actions: [{ type: 'fileinto', mailbox: 'a//b' }] }] },
      /folder name/,
    );
    await bad('/me/filters', { filters: 'all of them' }, /must be a list/);
    assert.equal((await t.server.store.sieve.list((await t.server.store.accounts.get(BOB.user))!.id)).length, 0);

    // Not an account: an admin's credentials do not open /me.
    const admin = await api('GET', '/me/rules', { auth: ROOT });
    assert.equal(admin.status, 401, admin.text);
    // Nor an account's the administration.
    const domains = await call('GET', '/domains', { auth: BOB });
    assert.equal(domains.status, 401, domains.text);
    // A script of that name made over ManageSieve is not overwritten.
    const carol = (await t.server.store.accounts.get('carol@a.test'))!;
    await t.server.sieve.put(carol.id, 'account-rules', 'discard;\r\n');
    const taken = await api('PUT', '/me/vacation', {
      auth: { user: 'carol@a.test', password: 'carol-secret-1' },
      body: { enabled: true, body: 'away' },
    });
    assert.equal(taken.status, 409, taken.text);
    assert.match(String(taken.body.detail), /rename or delete it over ManageSieve/);
    assert.equal((await t.server.store.sieve.get(carol.id, 'account-rules'))?.content, 'discard;\r\n');
  });

  it('answers garbage, a huge body, no login and a cross-site change on the rule routes, while an owner is served', async () => {
    const served = async () => {
      const r = await call('GET', '/me/rules', { auth: ANN });
      assert.equal(r.status, 200, r.text);
    };
    const attacks = [
      call('PUT', '/me/filters', { body: { filters: [] } }), // no login
      call('PUT', '/me/vacation', { auth: BOB, raw: '{"enabled": tru' }),
      call('PUT', '/me/forwarding', {
        auth: BOB,
        raw: 'enabled=true',
        contentType: 'application/x-www-form-urlencoded',
      }),
      call('PUT', '/me/filters', { auth: BOB, raw: JSON.stringify({ filters: [{ name: 'x'.repeat(200_000) }] }) }),
      call('PUT', '/me/vacation', {
        auth: BOB,
        body: { enabled: true, body: 'away' },
        headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      }),
    ];
    await served();
    const answers = await Promise.all(attacks);
    await served();
    assert.deepEqual(
      answers.map((a) => a.status),
      [401, 400, 400, 400, 403],
    );
    assert.match(String(answers[3]!.body.detail), /over 65536 bytes/);
    assert.equal((await t.server.store.sieve.list((await t.server.store.accounts.get(BOB.user))!.id)).length, 0);
  });
});
