/**
 * JMAP (RFC 8620, 8621) driven by an independent client library from npm (jmap-jam) over HTTPS,
 * next to swaks delivering over SMTP and Python's imaplib working the same mailboxes over IMAP: both
 * views see each other's changes. The RFCs' error cases, push over EventSource, blobs up and down.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import JamClient from 'jmap-jam';
import WebSocket from 'ws';
import { assertResponsive, Probe, RawClient, sleep } from './helpers/attack.js';
import { freePort } from './helpers/cli.js';
import { peer } from './helpers/peers.js';
import { python } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { messageFile, swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

// The test server's certificate is self-signed; jmap-jam uses the global fetch.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

const ANN = { user: 'ann@example.com', password: 'ann-secret-1' };
const basic = (u: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${u.user}:${u.password}`).toString('base64')}`;

/** jmap-jam sends a Bearer token; these tests log in with Basic, so the global fetch swaps the header. */
function withBasic(login: { user: string; password: string }): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (headers.get('authorization') === 'Bearer unused') headers.set('authorization', basic(login));
    return original(input, { ...init, headers });
  };
  return () => {
    globalThis.fetch = original;
  };
}

describe('JMAP', { skip: peer('swaks', 'swaks') || peer('python3', 'python3') || peer('smtp-sink', 'postfix') }, () => {
  let t: TestServer;
  let jam: JamClient;
  let accountId: string;
  let base: string;
  let restore: () => void;
  let sink: ChildProcess | undefined;
  let sinkPort = 0;
  const dir = tempDir('jmap');
  const sinkDir = path.join(dir, 'sink');
  const deliver = async (name: string, body: string, extra: string[] = []) =>
    assert.match(
      await swaksReply(t.port('smtp'), [
        '--from',
        'x@sender.example',
        '--to',
        ANN.user,
        ...messageFile(dir, name, body),
        ...extra,
      ]),
      /^250 /,
    );
  const api = async (using: string[], methodCalls: unknown[]) => {
    const r = await fetch(`${base}/jmap/api`, {
      method: 'POST',
      headers: { authorization: basic(ANN), 'content-type': 'application/json' },
      body: JSON.stringify({ using, methodCalls }),
    });
    assert.equal(r.status, 200);
    return (await r.json()) as { methodResponses: unknown[] };
  };
  /** The account's own identity (RFC 8621 §6), the one it sends as. */
  const ownIdentity = async () => {
    const [identities] = await jam.api.Identity.get({ accountId });
    const own = identities.list.find((i) => i.email === ANN.user && i.mayDelete === false);
    assert.ok(own, 'the account has its own identity');
    return own.id;
  };
  const imap = (script: string) =>
    python<unknown>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login('ann@example.com', 'ann-secret-1')
${script}
c.logout()
`,
      { PORT: t.port('imaps') },
    );

  before(async () => {
    sinkPort = await freePort();
    mkdirSync(sinkDir);
    chmodSync(dir, 0o755); // smtp-sink runs as nobody: it must reach sinkDir
    chmodSync(sinkDir, 0o777);
    const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    sink = spawn('smtp-sink', [...asRoot, '-d', `${sinkDir}/%H%M%S.`, `127.0.0.1:${sinkPort}`, '16'], {
      stdio: 'ignore',
    });
    t = await startTestServer({
      listeners: ['smtp', 'imaps', 'https'],
      extraConfig: `[outbound]\nport = ${sinkPort}\nretry_min = "1s"\n`,
    });
    t.dns.set('remote.example', { MX: [{ preference: 10, exchange: 'mx.remote.example' }] });
    t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount(ANN.user, ANN.password);
    await t.server.directory.addAccount('bob@example.com', 'bob-secret-1');
    base = `https://127.0.0.1:${t.port('https')}`;
    await deliver('first', 'Hello Ann, the first message.');
    await deliver('second', 'And a second one, about lunch.');
    restore = withBasic(ANN);
    jam = new JamClient({ sessionUrl: `${base}/.well-known/jmap`, bearerToken: 'unused' });
    await jam.session;
    accountId = await jam.getPrimaryAccount();
  });
  after(async () => {
    restore?.();
    sink?.kill();
    await t?.stop();
  });

  it('discovers the session through /.well-known/jmap and lists the mailboxes with their counts', async () => {
    const session = await jam.session;
    assert.equal(session.username, ANN.user);
    assert.ok(session.capabilities['urn:ietf:params:jmap:core']);
    assert.equal(
      (session.capabilities['urn:ietf:params:jmap:core'] as { maxCallsInRequest: number }).maxCallsInRequest,
      16,
    );
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const inbox = boxes.list.find((b) => b.role === 'inbox');
    assert.ok(inbox, 'INBOX has the inbox role');
    assert.equal(inbox.name, 'INBOX');
    assert.equal(inbox.totalEmails, 2);
    assert.equal(inbox.unreadEmails, 2);
    assert.ok(
      boxes.list.some((b) => b.role === 'junk'),
      'the Junk mailbox has its role',
    );
  });

  it('queries the inbox and gets the first page with preview and body values in one request (result references)', async () => {
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const inbox = boxes.list.find((b) => b.role === 'inbox')!;
    const [{ q, g }] = await jam.requestMany((r) => {
      const q = r.Email.query({
        accountId,
        filter: { inMailbox: inbox.id },
        sort: [{ property: 'receivedAt', isAscending: false }],
        calculateTotal: true,
      });
      const g = r.Email.get({
        accountId,
        ids: q.$ref('/ids'),
        properties: [
          'subject',
          'from',
          'preview',
          'keywords',
          'mailboxIds',
          'threadId',
          'textBody',
          'bodyValues',
          'receivedAt',
          'messageId',
        ],
        fetchTextBodyValues: true,
      });
      return { q, g };
    });
    assert.equal(q.total, 2);
    assert.deepEqual(
      g.list.map((e) => e.subject),
      ['second', 'first'],
      'newest first',
    );
    const first = g.list[1]!;
    assert.deepEqual(first.from, [{ name: null, email: 'x@sender.example' }]);
    assert.equal(first.preview, 'Hello Ann, the first message.');
    assert.deepEqual(first.messageId, ['first@sender.example']);
    assert.deepEqual(first.mailboxIds, { [inbox.id]: true });
    const partId = first.textBody![0]!.partId!;
    assert.match(first.bodyValues![partId]!.value, /^Hello Ann, the first message\./);
  });

  it('reports an IMAP STORE and a delivery over SMTP in Email/changes, and a keyword set over JMAP reaches IMAP', async () => {
    const [before] = await jam.api.Email.get({ accountId, properties: ['id', 'subject'] });
    const state = before.state;
    const first = before.list.find((e) => e.subject === 'first')!;
    await imap(`c.select('INBOX')\nc.uid('STORE', '1', '+FLAGS', '(\\\\Seen)')\nprint('null')`);
    await deliver('third', 'A third message.');
    const [changes] = await jam.api.Email.changes({ accountId, sinceState: state });
    assert.deepEqual(changes.updated, [first.id]);
    assert.equal(changes.created.length, 1);
    assert.deepEqual(changes.destroyed, []);
    assert.equal(changes.hasMoreChanges, false);
    const [again] = await jam.api.Email.changes({ accountId, sinceState: changes.newState });
    assert.deepEqual([again.created, again.updated, again.destroyed], [[], [], []]);

    const [set] = await jam.api.Email.set({ accountId, update: { [first.id]: { 'keywords/$flagged': true } } });
    assert.deepEqual(set.updated, { [first.id]: null });
    const flags = (await imap(
      `c.select('INBOX')\nt, d = c.uid('FETCH', '1', '(FLAGS)')\nprint(json.dumps(d[0].decode()))`,
    )) as string;
    assert.match(flags, /\\Flagged/);
    assert.match(flags, /\\Seen/, 'the patch kept the other keywords');
  });

  it('moves an email to a mailbox made over JMAP: IMAP sees it there, and its id stays', async () => {
    const [was] = await jam.api.Email.get({ accountId, ids: [], properties: ['id'] });
    const [made] = await jam.api.Mailbox.set({ accountId, create: { k: { name: 'Projects', parentId: null } } });
    // A mailbox change last: Email/changes passes it, and does not claim more to come.
    const [none] = await jam.api.Email.changes({ accountId, sinceState: was.state });
    assert.deepEqual([none.hasMoreChanges, none.created, none.updated], [false, [], []]);
    assert.equal(none.newState, made.newState);
    const projects = made.created!.k!.id!;
    const [found] = await jam.api.Email.query({ accountId, filter: { subject: 'second' } });
    const id = found.ids[0]!;
    const [moved] = await jam.api.Email.set({ accountId, update: { [id]: { mailboxIds: { [projects]: true } } } });
    assert.deepEqual(moved.updated, { [id]: null });
    const listed = (await imap(
      `c.select('Projects')\nt, d = c.uid('SEARCH', 'ALL')\nprint(json.dumps(d[0].decode()))`,
    )) as string;
    assert.equal(listed, '1');
    const [got] = await jam.api.Email.get({ accountId, ids: [id], properties: ['mailboxIds'] });
    assert.deepEqual(got.list[0]!.mailboxIds, { [projects]: true });
    const [boxes] = await jam.api.Mailbox.get({ accountId, ids: [projects] });
    assert.equal(boxes.list[0]!.totalEmails, 1);
  });

  it('uploads a message, imports it, and downloads it and its parts again', async () => {
    const raw = [
      'From: carol@else.example',
      'To: ann@example.com',
      'Subject: imported',
      'Message-ID: <imported@else.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="x"',
      '',
      '--x',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'See the attachment.',
      '--x',
      'Content-Type: application/octet-stream; name="data.bin"',
      'Content-Disposition: attachment; filename="data.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('binary \x00\x01 data').toString('base64'),
      '--x--',
      '',
    ].join('\r\n');
    const upload = await jam.uploadBlob(accountId, new Blob([raw], { type: 'message/rfc822' }));
    assert.equal(upload.size, Buffer.byteLength(raw));
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const inbox = boxes.list.find((b) => b.role === 'inbox')!;
    const [imported] = await jam.api.Email.import({
      accountId,
      emails: {
        i: {
          blobId: upload.blobId,
          mailboxIds: { [inbox.id]: true },
          keywords: { $seen: true },
          receivedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      },
    });
    const email = imported.created!.i!;
    const [got] = await jam.api.Email.get({
      accountId,
      ids: [email.id],
      properties: ['attachments', 'hasAttachment', 'blobId', 'keywords'],
    });
    const e = got.list[0]!;
    assert.equal(e.hasAttachment, true);
    assert.deepEqual(e.keywords, { $seen: true });
    const attachment = e.attachments![0]!;
    assert.equal(attachment.name, 'data.bin');
    const whole = await jam.downloadBlob({
      accountId,
      blobId: e.blobId!,
      mimeType: 'message/rfc822',
      fileName: 'm.eml',
    });
    assert.equal(await whole.text(), raw);
    const part = await jam.downloadBlob({
      accountId,
      blobId: attachment.blobId!,
      mimeType: 'application/octet-stream',
      fileName: 'data.bin',
    });
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), Buffer.from('binary \x00\x01 data'));
    const subjects = (await imap(
      `c.select('INBOX')\nt, d = c.uid('SEARCH', 'SUBJECT', 'imported')\nprint(json.dumps(d[0].decode()))`,
    )) as string;
    assert.notEqual(subjects, '', 'IMAP finds the imported message');
  });

  it('threads a reply with the message it answers (Thread/get)', async () => {
    await deliver('question', 'What time?');
    const reply = messageFile(dir, 're-question', 'Noon.');
    const file = reply[1]!;
    const { readFileSync, writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'Subject: re-question',
        'Subject: Re: question\r\nIn-Reply-To: <question@sender.example>',
      ),
    );
    assert.match(await swaksReply(t.port('smtp'), ['--from', 'x@sender.example', '--to', ANN.user, ...reply]), /^250 /);
    const [q] = await jam.api.Email.query({ accountId, filter: { subject: 'question' } });
    const [got] = await jam.api.Email.get({ accountId, ids: q.ids, properties: ['threadId', 'subject'] });
    assert.equal(got.list.length, 2);
    assert.equal(got.list[0]!.threadId, got.list[1]!.threadId);
    const [threads] = await jam.api.Thread.get({ accountId, ids: [got.list[0]!.threadId!] });
    assert.equal(threads.list[0]!.emailIds.length, 2);
  });

  it('sends a draft with EmailSubmission to a local and a remote recipient, then files it in Sent (onSuccessUpdateEmail)', async () => {
    const me = await ownIdentity();
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const role = (r: string) => boxes.list.find((b) => b.role === r)!.id!;
    const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];
    const draft = (subject: string, from: string, to: string[]) => ({
      mailboxIds: { [role('drafts')]: true },
      keywords: { $draft: true, $seen: true },
      from: [{ name: 'Ann', email: from }],
      to: to.map((email) => ({ name: null, email })),
      bcc: [{ name: null, email: 'dave@remote.example' }],
      subject,
      textBody: [{ partId: 'b', type: 'text/plain' }],
      bodyValues: { b: { value: `Body of ${subject}.` } },
    });
    const body = await api(using, [
      [
        'Email/set',
        {
          accountId,
          create: {
            d: draft('sent over JMAP', ANN.user, ['bob@example.com', 'carol@remote.example']),
            f: draft('forged', 'mallory@else.example', ['bob@example.com']),
            u: draft('unknown', ANN.user, ['nobody@example.com']),
          },
        },
        '0',
      ],
      [
        'EmailSubmission/set',
        {
          accountId,
          create: {
            s: { identityId: me, emailId: '#d' },
            // The envelope defaults to the From address (not the account's): refused as the envelope sender.
            sm: { identityId: me, emailId: '#f' },
            // With the account's envelope sender, the forged From header itself is refused.
            sf: {
              identityId: me,
              emailId: '#f',
              envelope: { mailFrom: { email: ANN.user }, rcptTo: [{ email: 'bob@example.com' }] },
            },
            su: { identityId: me, emailId: '#u' },
          },
          onSuccessUpdateEmail: {
            '#s': {
              [`mailboxIds/${role('sent')}`]: true,
              [`mailboxIds/${role('drafts')}`]: null,
              'keywords/$draft': null,
            },
          },
        },
        '1',
      ],
    ]);
    const [created, submitted, implicit] = body.methodResponses as Array<[string, Record<string, any>, string]>;
    assert.equal(created![0], 'Email/set');
    assert.equal(submitted![0], 'EmailSubmission/set');
    assert.equal(submitted![1].created.s.undoStatus, 'final');
    assert.equal(submitted![1].notCreated.sf.type, 'forbiddenFrom');
    assert.equal(submitted![1].notCreated.sm.type, 'forbiddenMailFrom');
    assert.equal(submitted![1].notCreated.su.type, 'invalidRecipients');
    assert.deepEqual(submitted![1].notCreated.su.invalidRecipients, ['nobody@example.com']);
    assert.deepEqual(
      implicit,
      ['Email/set', implicit![1], '1'],
      'the implicit Email/set answers under the same call id',
    );
    const sentId = created![1].created.d.id as string;
    assert.deepEqual(Object.keys(implicit![1].updated), [sentId]);
    const [moved] = await jam.api.Email.get({ accountId, ids: [sentId], properties: ['mailboxIds', 'keywords'] });
    assert.deepEqual(moved.list[0]!.mailboxIds, { [role('sent')]: true });
    assert.deepEqual(moved.list[0]!.keywords, { $seen: true });

    // Bob has it over IMAP, without the Bcc; the remote recipients' copy reached the sink, DKIM-signed.
    const bobs = await python<string>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login('bob@example.com', 'bob-secret-1')
c.select('INBOX')
t, d = c.uid('FETCH', '1:*', '(BODY.PEEK[])')
print(json.dumps(d[0][1].decode()))
c.logout()
`,
      { PORT: t.port('imaps') },
    );
    assert.match(bobs, /^Subject: sent over JMAP\r$/m);
    assert.doesNotMatch(bobs, /^Bcc:/im);
    const deadline = Date.now() + 20_000;
    while (readdirSync(sinkDir).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const files = readdirSync(sinkDir);
    assert.equal(files.length, 1, 'one transaction for carol and dave');
    const remote = readFileSync(path.join(sinkDir, files[0]!), 'latin1');
    assert.match(remote, /^Subject: sent over JMAP\r?$/m);
    assert.match(remote, /^DKIM-Signature: .*d=example\.com/m);
    assert.doesNotMatch(remote, /^Bcc:/im);
    assert.match(remote, /carol@remote\.example/);
    assert.match(remote, /dave@remote\.example/);

    const [subs] = await jam.api.EmailSubmission.get({ accountId });
    assert.equal(subs.list.length, 1);
    assert.equal(subs.list[0]!.deliveryStatus!['bob@example.com']!.delivered, 'yes');
    assert.equal(subs.list[0]!.deliveryStatus!['carol@remote.example']!.delivered, 'queued');
  });

  it('holds a submission for later (FUTURERELEASE HOLDFOR), sends it when due, and cancels another (undo send)', async () => {
    const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const drafts = boxes.list.find((b) => b.role === 'drafts')!.id!;
    const draft = (subject: string) => ({
      mailboxIds: { [drafts]: true },
      from: [{ name: null, email: ANN.user }],
      to: [{ name: null, email: 'bob@example.com' }],
      subject,
      textBody: [{ partId: 'b', type: 'text/plain' }],
      bodyValues: { b: { value: subject } },
    });
    const envelope = (hold: string) => ({
      mailFrom: { email: ANN.user, parameters: { HOLDFOR: hold } },
      rcptTo: [{ email: 'bob@example.com', parameters: null }],
    });
    const bobHas = async (subject: string) =>
      python<string>(
        `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login('bob@example.com', 'bob-secret-1')
c.select('INBOX')
t, d = c.uid('SEARCH', 'SUBJECT', '"' + os.environ['SUBJECT'] + '"')
print(json.dumps(d[0].decode()))
c.logout()
`,
        { PORT: t.port('imaps'), SUBJECT: subject },
      );
    const session = await jam.session;
    assert.ok(
      (
        session.accounts[accountId]!.accountCapabilities['urn:ietf:params:jmap:submission'] as {
          maxDelayedSend: number;
        }
      ).maxDelayedSend > 0,
    );
    const me = await ownIdentity();
    const [start] = await jam.api.EmailSubmission.get({ accountId, ids: [] });
    const made = (
      await api(using, [
        ['Email/set', { accountId, create: { later: draft('sent later'), undone: draft('undone') } }, '0'],
        [
          'EmailSubmission/set',
          {
            accountId,
            create: {
              l: { identityId: me, emailId: '#later', envelope: envelope('2') },
              u: { identityId: me, emailId: '#undone', envelope: envelope('600') },
            },
            // The draft goes at once; the message waiting to be sent was kept.
            onSuccessDestroyEmail: ['#l'],
          },
          '1',
        ],
      ])
    ).methodResponses as Array<[string, Record<string, any>, string]>;
    const later = made[1]![1].created.l;
    assert.deepEqual(made[2]![1].destroyed, [made[0]![1].created.later.id], 'the draft was destroyed');
    const undone = made[1]![1].created.u;
    assert.equal(later.undoStatus, 'pending');
    assert.ok(Date.parse(later.sendAt) > Date.now());
    assert.equal(await bobHas('sent later'), '', 'not sent yet');
    const [cancel] = await jam.api.EmailSubmission.set({
      accountId,
      update: { [undone.id]: { undoStatus: 'canceled' } },
    });
    assert.deepEqual(cancel.updated, { [undone.id]: null });
    const deadline = Date.now() + 15_000;
    while ((await bobHas('sent later')) === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.notEqual(await bobHas('sent later'), '', 'sent at its time');
    const [subs] = await jam.api.EmailSubmission.get({ accountId, ids: [later.id, undone.id] });
    const byId = new Map(subs.list.map((x) => [x.id, x]));
    assert.equal(byId.get(later.id)!.undoStatus, 'final');
    assert.equal(byId.get(later.id)!.deliveryStatus!['bob@example.com']!.delivered, 'yes');
    assert.equal(byId.get(undone.id)!.undoStatus, 'canceled');
    assert.equal(await bobHas('undone'), '', 'the canceled one never went');
    const [again] = await jam.api.EmailSubmission.set({
      accountId,
      update: { [later.id]: { undoStatus: 'canceled' } },
    });
    assert.equal(again.notUpdated![later.id]!.type, 'cannotUnsend');
    const [changes] = await jam.api.EmailSubmission.changes({ accountId, sinceState: start.state });
    assert.deepEqual(new Set(changes.created), new Set([later.id, undone.id]));
  });

  it('sets the vacation reply (VacationResponse), which the account page shows and delivery answers with', async () => {
    const [before] = await jam.api.VacationResponse.get({ accountId });
    assert.equal(before.list[0]!.isEnabled, false);
    const [set] = await jam.api.VacationResponse.set({
      accountId,
      update: { singleton: { isEnabled: true, subject: 'Away until Monday', textBody: 'I am away.' } },
    });
    assert.deepEqual(set.updated, { singleton: null });
    const [refused] = await jam.api.VacationResponse.set({
      accountId,
      update: { singleton: { fromDate: 'Christmas', toDate: '2020-01-01T00:00:00Z' } },
    });
    assert.equal(refused.notUpdated!.singleton!.type, 'invalidProperties');
    const page = await fetch(`${base}/api/v1/me/rules`, { headers: { authorization: basic(ANN) } });
    const rules = await page.json();
    assert.deepEqual([rules.vacation.enabled, rules.vacation.subject, rules.active], [true, 'Away until Monday', true]);
    const had = readdirSync(sinkDir).length;
    assert.match(
      await swaksReply(t.port('smtp'), [
        '--from',
        'erin@remote.example',
        '--to',
        ANN.user,
        '--header',
        'Subject: hello',
      ]),
      /^250 /,
    );
    const deadline = Date.now() + 20_000;
    while (readdirSync(sinkDir).length === had && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const reply = readdirSync(sinkDir)
      .map((f) => readFileSync(path.join(sinkDir, f), 'latin1'))
      .find((m) => /^Subject: Away until Monday/m.test(m));
    assert.ok(reply, 'the vacation reply reached the sender');
    assert.match(reply, /X-Rcpt-Args: <erin@remote\.example>/);

    // RFC 8621 §8: dates and an HTML body. A reply that starts tomorrow is not sent today; one that
    // started an hour ago is, as text and HTML.
    const inAnHour = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const anHourAgo = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ask = async (from: string) =>
      assert.match(
        await swaksReply(t.port('smtp'), ['--from', from, '--to', ANN.user, '--header', 'Subject: hello again']),
        /^250 /,
      );
    await jam.api.VacationResponse.set({
      accountId,
      update: { singleton: { subject: 'Later', fromDate: inAnHour, toDate: null } },
    });
    await ask('fay@remote.example');
    await jam.api.VacationResponse.set({
      accountId,
      update: {
        singleton: {
          subject: 'Now in HTML',
          fromDate: anHourAgo,
          toDate: inAnHour,
          htmlBody: '<p>I am <b>away</b>.</p>',
        },
      },
    });
    const [dated] = await jam.api.VacationResponse.get({ accountId });
    assert.deepEqual(
      [dated.list[0]!.fromDate, dated.list[0]!.toDate, dated.list[0]!.htmlBody],
      [anHourAgo, inAnHour, '<p>I am <b>away</b>.</p>'],
    );
    await ask('gus@remote.example'); // delivered after fay's: her reply, had there been one, went first
    const deadline2 = Date.now() + 20_000;
    let html: string | undefined;
    while (!html && Date.now() < deadline2) {
      html = readdirSync(sinkDir)
        .map((f) => readFileSync(path.join(sinkDir, f), 'latin1'))
        .find((m) => /^Subject: Now in HTML/m.test(m));
      if (!html) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(html, 'the dated reply was sent');
    assert.match(html, /X-Rcpt-Args: <gus@remote\.example>/);
    assert.match(html, /Content-Type: multipart\/alternative/);
    assert.match(html, /<p>I am <b>away<\/b>\.<\/p>/);
    assert.match(html, /I am away\./, 'the text part');
    const replies = readdirSync(sinkDir).map((f) => readFileSync(path.join(sinkDir, f), 'latin1'));
    assert.ok(!replies.some((m) => /^Subject: Later/m.test(m)), 'no reply before fromDate');
    await jam.api.VacationResponse.set({
      accountId,
      update: { singleton: { isEnabled: false, fromDate: null, toDate: null, htmlBody: null } },
    });
  });

  it('stores, validates and activates a Sieve script over JMAP (RFC 9661), and delivery follows it', async () => {
    const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:sieve'];
    const upload = async (text: string) =>
      (await jam.uploadBlob(accountId, new Blob([text], { type: 'application/sieve' }))).blobId;
    const bad = await upload('if header :contains "subject" "x" { fileinto "Oops" ');
    const checked = (await api(using, [['SieveScript/validate', { accountId, blobId: bad }, '0']]))
      .methodResponses[0] as [string, { error: { type: string } | null }];
    assert.equal(checked[1].error?.type, 'invalidSieve');
    const good = await upload(
      'require ["fileinto", "mailbox"];\nif header :contains "subject" "invoice" { fileinto :create "Invoices"; }\n',
    );
    const made = (
      await api(using, [
        ['SieveScript/validate', { accountId, blobId: good }, '0'],
        [
          'SieveScript/set',
          { accountId, create: { f: { name: 'jmap-filter', blobId: good } }, onSuccessActivateScript: '#f' },
          '1',
        ],
        ['SieveScript/get', { accountId }, '2'],
      ])
    ).methodResponses as Array<[string, Record<string, any>, string]>;
    assert.equal(made[0]![1].error, null);
    const id = made[1]![1].created.f.id as string;
    assert.equal(made[1]![1].created.f.isActive, true, 'reported active');
    const listed = made[2]![1].list.find((x: { id: string }) => x.id === id);
    assert.deepEqual([listed.name, listed.isActive], ['jmap-filter', true]);
    const download = await jam.downloadBlob({
      accountId,
      blobId: listed.blobId,
      mimeType: 'application/sieve',
      fileName: 'f.sieve',
    });
    assert.match(await download.text(), /fileinto :create "Invoices"/);
    await deliver('invoice 42', 'Please pay.');
    const filed = (await imap(
      `c.select('Invoices')\nt, d = c.uid('SEARCH', 'ALL')\nprint(json.dumps(d[0].decode()))`,
    )) as string;
    assert.equal(filed, '1', 'the script filed the delivery');
    const busy = (await api(using, [['SieveScript/set', { accountId, destroy: [id] }, '0']])).methodResponses[0] as [
      string,
      Record<string, any>,
    ];
    assert.equal(busy[1].notDestroyed[id].type, 'sieveIsActive');
    const off = (await api(using, [['SieveScript/set', { accountId, onSuccessDeactivateScript: true }, '0']]))
      .methodResponses[0] as [string, Record<string, any>];
    assert.deepEqual(off[1].updated, { [id]: { isActive: false } });
    const gone = (await api(using, [['SieveScript/set', { accountId, destroy: [id] }, '0']])).methodResponses[0] as [
      string,
      Record<string, any>,
    ];
    assert.deepEqual(gone[1].destroyed, [id]);
  });

  it("logs in with an app password's bearer token from the admin API, as jmap-jam sends it", async () => {
    const made = await fetch(`${base}/api/v1/me/app-passwords`, {
      method: 'POST',
      headers: { authorization: basic(ANN), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'jmap client' }),
    });
    assert.equal(made.status, 201);
    const { token, password } = (await made.json()) as { token: string; password: string };
    assert.match(token, /^pap_\d+_[a-z2-7]{20}$/);
    const bearerJam = new JamClient({ sessionUrl: `${base}/jmap/session`, bearerToken: token });
    assert.equal((await bearerJam.session).username, ANN.user);
    const [boxes] = await bearerJam.api.Mailbox.get({ accountId });
    assert.ok(boxes.list.some((b) => b.role === 'inbox'));
    // The app password itself works as a Basic password; a token with a wrong secret does not.
    const asBasic = await fetch(`${base}/jmap/session`, {
      headers: { authorization: basic({ user: ANN.user, password }) },
    });
    assert.equal(asBasic.status, 200);
    await asBasic.body?.cancel();
    const forged = token.replace(/_[a-z2-7]{20}$/, `_${'a'.repeat(20)}`);
    const refused = await fetch(`${base}/jmap/session`, { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /Bearer realm=/);
    await refused.body?.cancel();
  });

  it('answers requests and pushes state changes over a WebSocket (RFC 8887), with the ws client', async () => {
    const session = await jam.session;
    const url = (session.capabilities as Record<string, { url?: string }>)['urn:ietf:params:jmap:websocket']!.url!;
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+\/jmap\/ws$/);
    const open = (protocols: string[], headers: Record<string, string>) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url, protocols, { headers, rejectUnauthorized: false });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once('error', reject);
      });
    await assert.rejects(open(['jmap'], {}), /HTTP 401/);
    await assert.rejects(open(['chat'], { authorization: basic(ANN) }), /HTTP 400/);
    await assert.rejects(open(['jmap'], { authorization: basic(ANN), origin: 'https://evil.example' }), /HTTP 403/);
    const ws = await open(['jmap'], { authorization: basic(ANN) });
    assert.equal(ws.protocol, 'jmap');
    const incoming: Array<Record<string, any>> = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (d) => {
      incoming.push(JSON.parse(d.toString()));
      waiters.splice(0).forEach((w) => w());
    });
    const next = async (type: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const i = incoming.findIndex((m) => m['@type'] === type);
        if (i >= 0) return incoming.splice(i, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`no ${type}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    ws.send(
      JSON.stringify({
        '@type': 'Request',
        id: 'r1',
        using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
        methodCalls: [['Mailbox/get', { accountId, ids: null }, '0']],
      }),
    );
    const response = await next('Response');
    assert.equal(response.requestId, 'r1');
    assert.equal(response.methodResponses[0][0], 'Mailbox/get');
    ws.send('not json');
    assert.equal((await next('RequestError')).type, 'urn:ietf:params:jmap:error:notJSON');
    ws.send(JSON.stringify({ '@type': 'WebSocketPushEnable', dataTypes: ['Email'] }));
    await deliver('over websocket', 'Pushed.');
    const change = await next('StateChange');
    assert.deepEqual(Object.keys(change.changed[accountId]), ['Email']);
    assert.equal(change.pushState, change.changed[accountId].Email);
    ws.close();
  });

  it('marks the search words in snippets, HTML-escaped, and follows a query with Email/queryChanges', async () => {
    assert.match(
      await swaksReply(t.port('smtp'), [
        '--from',
        'x@sender.example',
        '--to',
        ANN.user,
        '--header',
        'Subject: lunch <b>menu</b>',
        '--body',
        'Soup & bread for lunch, <script>alert(1)</script> on Friday.',
      ]),
      /^250 /,
    );
    const [q] = await jam.api.Email.query({ accountId, filter: { text: 'lunch' } });
    const [snips] = await jam.api.SearchSnippet.get({ accountId, filter: { text: 'lunch' }, emailIds: q.ids });
    const escaped = snips.list.find((x) => x.subject !== null)!;
    assert.equal(escaped.subject, '<mark>lunch</mark> &lt;b&gt;menu&lt;/b&gt;');
    assert.match(
      escaped.preview!,
      /^Soup &amp; bread for <mark>lunch<\/mark>, &lt;script&gt;alert\(1\)&lt;\/script&gt; on Friday\.$/,
    );
    const plain = snips.list.find((x) => x.subject === null)!;
    assert.match(plain.preview!, /about <mark>lunch<\/mark>/);

    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const inbox = boxes.list.find((b) => b.role === 'inbox')!.id!;
    const filter = { inMailbox: inbox };
    const [before] = await jam.api.Email.query({ accountId, filter });
    assert.equal(before.canCalculateChanges, true);
    await deliver('newest', 'Arrived after the query.');
    const [after] = await jam.api.Email.query({ accountId, filter });
    const [changes] = await jam.api.Email.queryChanges({ accountId, filter, sinceQueryState: before.queryState });
    assert.equal(changes.newQueryState, after.queryState);
    assert.deepEqual(changes.added, [{ id: after.ids[0]!, index: 0 }]);
    assert.ok(changes.removed.includes(after.ids[0]!));
    // Applying the changes to the old list gives the new one.
    const list = before.ids.filter((id) => !changes.removed.includes(id));
    for (const a of changes.added) list.splice(a.index, 0, a.id);
    assert.deepEqual(list, after.ids);
  });

  it('composes drafts without letting a property inject header fields', async () => {
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const drafts = boxes.list.find((b) => b.role === 'drafts')!.id!;
    const base = { mailboxIds: { [drafts]: true }, textBody: [{ partId: 'b' }], bodyValues: { b: { value: 'x' } } };
    const made = (
      await api(
        ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
        [
          [
            'Email/set',
            {
              accountId,
              create: {
                subject: { ...base, subject: 'hello\r\nBcc: spy@evil.example\r\nX-Injected: yes' },
                name: { ...base, from: [{ name: 'Ann\r\nX-Injected: yes', email: ANN.user }] },
                address: { ...base, to: [{ name: null, email: 'a@b.example>\r\nX-Injected: yes' }] },
                ids: { ...base, references: ['x>\r\nX-Injected: yes'] },
                date: { ...base, sentAt: 'not a date' },
              },
            },
            '0',
          ],
        ],
      )
    ).methodResponses[0] as [string, Record<string, any>];
    for (const refused of ['name', 'address', 'ids', 'date'])
      assert.equal(made[1].notCreated?.[refused]?.type, 'invalidProperties', refused);
    const id = made[1].created.subject.id as string;
    const [got] = await jam.api.Email.get({ accountId, ids: [id], properties: ['blobId', 'subject'] });
    const raw = await (
      await jam.downloadBlob({ accountId, blobId: got.list[0]!.blobId!, mimeType: 'message/rfc822', fileName: 'm' })
    ).text();
    assert.doesNotMatch(raw, /^(Bcc|X-Injected):/im);
  });

  it('answers the RFC errors: unknownMethod, invalidArguments, accountNotFound, stateMismatch, cannotCalculateChanges', async () => {
    await assert.rejects(
      jam.request(['Nothing/get' as 'Email/get', { accountId }]),
      (e: { type: string }) => e.type === 'unknownMethod',
    );
    await assert.rejects(
      jam.request(['Email/get', { accountId, ids: 'all' as unknown as string[] }]),
      (e: { type: string }) => e.type === 'invalidArguments',
    );
    await assert.rejects(
      jam.request(['Mailbox/get', { accountId: 'a999999' }]),
      (e: { type: string }) => e.type === 'accountNotFound',
    );
    await assert.rejects(
      jam.request(['Email/set', { accountId, ifInState: 'not-the-state', update: {} }]),
      (e: { type: string }) => e.type === 'stateMismatch',
    );
    await assert.rejects(
      jam.request(['Email/changes', { accountId, sinceState: '99999999' }]),
      (e: { type: string }) => e.type === 'cannotCalculateChanges',
    );
  });

  it('keeps accounts apart: another login sees none of these ids, and cannot download their blobs', async () => {
    const [mine] = await jam.api.Email.query({ accountId });
    const [got] = await jam.api.Email.get({ accountId, ids: mine.ids.slice(0, 1), properties: ['blobId'] });
    const bob = { authorization: basic({ user: 'bob@example.com', password: 'bob-secret-1' }) };
    const session = await (await fetch(`${base}/jmap/session`, { headers: bob })).json();
    const bobAccount = Object.keys(session.accounts)[0]!;
    assert.notEqual(bobAccount, accountId);
    const api = await fetch(`${base}/jmap/api`, {
      method: 'POST',
      headers: { ...bob, 'content-type': 'application/json' },
      body: JSON.stringify({
        using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
        methodCalls: [
          ['Email/get', { accountId: bobAccount, ids: mine.ids.slice(0, 1), properties: ['subject'] }, '0'],
          ['Email/get', { accountId, ids: mine.ids.slice(0, 1) }, '1'],
        ],
      }),
    });
    const body = await api.json();
    assert.deepEqual(body.methodResponses[0][1].notFound, mine.ids.slice(0, 1));
    assert.equal(body.methodResponses[1][1].type, 'accountNotFound');
    const download = await fetch(`${base}/jmap/download/${bobAccount}/${got.list[0]!.blobId}?type=text/plain&name=x`, {
      headers: bob,
    });
    assert.equal(download.status, 404);
    const foreign = await fetch(`${base}/jmap/download/${accountId}/${got.list[0]!.blobId}?type=text/plain&name=x`, {
      headers: bob,
    });
    assert.equal(foreign.status, 404);
  });

  it('pushes a state change over EventSource when mail arrives over SMTP', async () => {
    const res = await fetch(`${base}/jmap/eventsource?types=*&closeafter=no&ping=0`, {
      headers: { accept: 'text/event-stream', authorization: basic(ANN) },
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    const nextState = async (): Promise<Record<string, string>> => {
      for (;;) {
        const end = text.indexOf('\n\n');
        if (end >= 0) {
          const event = text.slice(0, end);
          text = text.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (/^event: state$/m.test(event) && data) return JSON.parse(data).changed[accountId];
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        text += Buffer.from(value).toString('utf8');
      }
    };
    const initial = await nextState();
    await deliver('pushed', 'Live.');
    const changed = await nextState();
    assert.notEqual(changed.Email, initial.Email);
    const [changes] = await jam.api.Email.changes({ accountId, sinceState: initial.Email! });
    assert.equal(changes.created.length, 1);
    await reader.cancel();
  });
});

describe('JMAP under attack', () => {
  let t: TestServer;
  let base: string;
  const ann = { authorization: basic(ANN) };
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${base}/jmap/api`, {
      method: 'POST',
      headers: { ...ann, 'content-type': 'application/json', ...headers },
      body,
    });
  const call = (methodCalls: unknown[], using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail']) =>
    post(JSON.stringify({ using, methodCalls }));

  before(async () => {
    t = await startTestServer({ listeners: ['smtp', 'https'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount(ANN.user, ANN.password);
    base = `https://127.0.0.1:${t.port('https')}`;
  });
  after(async () => t?.stop());

  it('answers garbage, oversized and unauthenticated requests with the RFC errors, while a client is served', async () => {
    const probe = new Probe(async () => {
      const r = await call([['Mailbox/get', { accountId: 'a1' }, '0']]);
      const body = await r.json();
      assert.equal(body.methodResponses[0][0], 'Mailbox/get');
    });
    probe.start();
    const problemOf = async (r: Response) => ({ status: r.status, type: (await r.json()).type as string });
    // No login, a wrong password, a malformed header: 401 with the Basic challenge.
    for (const authorization of [
      '',
      basic({ user: ANN.user, password: 'wrong' }),
      'Basic !!!',
      `Bearer ${'x'.repeat(5000)}`,
    ]) {
      const r = await fetch(`${base}/jmap/session`, { headers: authorization ? { authorization } : {} });
      assert.equal(r.status, 401, authorization.slice(0, 20));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      await r.body?.cancel();
    }
    assert.deepEqual(await problemOf(await post('{"using": [')), {
      status: 400,
      type: 'urn:ietf:params:jmap:error:notJSON',
    });
    assert.deepEqual(await problemOf(await post('{}', { 'content-type': 'text/plain' })), {
      status: 400,
      type: 'urn:ietf:params:jmap:error:notJSON',
    });
    for (const body of [
      '[]',
      '{"using": "x", "methodCalls": []}',
      '{"using": [], "methodCalls": [["Mailbox/get"]]}',
      'null',
    ])
      assert.deepEqual(
        await problemOf(await post(body)),
        { status: 400, type: 'urn:ietf:params:jmap:error:notRequest' },
        body,
      );
    assert.deepEqual(await problemOf(await call([], ['urn:example:nothing'])), {
      status: 400,
      type: 'urn:ietf:params:jmap:error:unknownCapability',
    });
    const many = Array.from({ length: 17 }, (_, i) => ['Mailbox/get', { accountId: 'a1' }, String(i)]);
    const limit = await call(many);
    assert.equal(limit.status, 400);
    assert.deepEqual(await limit.json(), {
      type: 'urn:ietf:params:jmap:error:limit',
      status: 400,
      detail: 'at most 16 method calls in one request',
      limit: 'maxCallsInRequest',
    });
    // Over maxSizeRequest (10 MB), declared and undeclared (chunked).
    const big = new Uint8Array(10_500_000).fill(0x20);
    assert.deepEqual(await problemOf(await post(big)), { status: 413, type: 'urn:ietf:params:jmap:error:limit' });
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 11; i++) controller.enqueue(new Uint8Array(1_000_000).fill(0x20));
        controller.close();
      },
    });
    const streamed = await fetch(`${base}/jmap/api`, {
      method: 'POST',
      headers: { ...ann, 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
    // Method-level: too many ids, a filter nested too deep, bad arguments: errors in place, the rest answered.
    let deep: unknown = { subject: 'x' };
    for (let i = 0; i < 200; i++) deep = { operator: 'AND', conditions: [deep] };
    const r = await call([
      ['Email/get', { accountId: 'a1', ids: Array.from({ length: 600 }, (_, i) => `e${i}`) }, 'a'],
      ['Email/query', { accountId: 'a1', filter: deep }, 'b'],
      ['Email/get', { accountId: 'a1', ids: [], properties: ['header:X:asNothing'] }, 'c'],
      ['Email/query', { accountId: 'a1', sort: [{ property: 'colour' }] }, 'd'],
      ['Email/get', { accountId: 'a1', '#ids': { resultOf: 'zz', name: 'Email/query', path: '/ids' } }, 'e'],
      ['Mailbox/get', { accountId: 'a1' }, 'f'],
    ]);
    const answers = (await r.json()).methodResponses as Array<[string, { type?: string }, string]>;
    assert.deepEqual(
      answers.map(([name, a]) => (name === 'error' ? a.type : name)),
      [
        'requestTooLarge',
        'invalidArguments',
        'invalidArguments',
        'unsupportedSort',
        'invalidResultReference',
        'Mailbox/get',
      ],
    );
    // A blob id of any shape finds nothing.
    for (const blob of [
      '..%2F..%2Fetc%2Fpasswd',
      'g1_1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18-19-20-21-22-23-24-25-26-27-28-29-30-31-32-33',
      'u' + 'f'.repeat(64),
    ]) {
      const d = await fetch(`${base}/jmap/download/a1/${blob}?type=text/html&name=x`, { headers: ann });
      assert.equal(d.status, 404, blob);
      await d.body?.cancel();
    }
    await assertResponsive(probe);
  });

  it('keeps serving while slow clients hold requests half sent, and answers one finished a byte at a time', async () => {
    const probe = new Probe(async () => {
      const r = await call([['Mailbox/get', { accountId: 'a1' }, '0']]);
      assert.equal(r.status, 200);
      await r.body?.cancel();
    });
    probe.start();
    const request = JSON.stringify({
      using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
      methodCalls: [['Mailbox/get', { accountId: 'a1' }, '0']],
    });
    const head = (length: number) =>
      `POST /jmap/api HTTP/1.1\r\nHost: mail.example.com\r\nAuthorization: ${ann.authorization}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    // Twenty clients send the headers and half a body, then nothing.
    const stalled = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const c = await RawClient.connect(t.port('https'), { tls: true });
        c.write(head(request.length) + request.slice(0, request.length / 2));
        return c;
      }),
    );
    // One sends its body a byte at a time, and is answered once it is whole.
    const trickle = await RawClient.connect(t.port('https'), { tls: true });
    trickle.write(head(Buffer.byteLength(request)));
    for (const ch of request.slice(0, 40)) {
      trickle.write(ch);
      await sleep(5);
    }
    trickle.write(request.slice(40));
    await trickle.waitFor(/"methodResponses":\[\["Mailbox\/get"/);
    await assertResponsive(probe);
    for (const c of [...stalled, trickle]) c.destroy();
  });

  it('closes a WebSocket that floods requests or sends an oversized message, while a client is served', async () => {
    const probe = new Probe(async () => {
      const r = await call([['Mailbox/get', { accountId: 'a1' }, '0']]);
      assert.equal(r.status, 200);
      await r.body?.cancel();
    });
    probe.start();
    const open = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`wss://127.0.0.1:${t.port('https')}/jmap/ws`, ['jmap'], {
          headers: ann,
          rejectUnauthorized: false,
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const closed = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const request = JSON.stringify({
      '@type': 'Request',
      using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
      methodCalls: Array.from({ length: 16 }, (_, i) => ['Email/query', { accountId: 'a1' }, String(i)]),
    });
    const flood = await open();
    const floodClosed = closed(flood);
    for (let i = 0; i < 200; i++) flood.send(request);
    assert.equal(await floodClosed, 1008);
    const big = await open();
    const bigClosed = closed(big);
    big.send('x'.repeat(10_500_000));
    assert.equal(await bigClosed, 1009);
    await assertResponsive(probe);
  });
});
