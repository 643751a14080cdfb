/**
 * The account change log (JMAP states, QRESYNC) follows every protocol: a delivery over SMTP (swaks),
 * a flag change and an expunge over IMAP (Python's imaplib), a mailbox made over IMAP; MOVE keeps
 * an email's id; deliveries and IMAP APPEND are threaded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { peer } from './helpers/peers.js';
import { python } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { swaksReply } from './helpers/swaks.js';

describe('account change log', { skip: peer('swaks', 'swaks') || peer('python3', 'python3') }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ listeners: ['smtp', 'imaps'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount('ann@example.com', 'ann-secret-1');
  });
  after(async () => t?.stop());

  it('numbers a delivery over SMTP, a flag change, an expunge and a new mailbox over IMAP, in order', async () => {
    const ann = (await t.server.store.accounts.get('ann@example.com'))!;
    const start = (await t.server.store.changeLog.position(ann.id)).seq;
    for (const subject of ['one', 'two'])
      assert.match(
        await swaksReply(t.port('smtp'), [
          '--from',
          'x@sender.example',
          '--to',
          'ann@example.com',
          '--header',
          `Subject: ${subject}`,
        ]),
        /^250 /,
      );
    const out = await python<string[]>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login('ann@example.com', 'ann-secret-1')
c.select('INBOX')
r = [c.uid('STORE', '1', '+FLAGS', '(\\\\Seen)')[0], c.uid('STORE', '2', '+FLAGS', '(\\\\Deleted)')[0], c.expunge()[0], c.create('Later')[0]]
c.logout()
print(json.dumps([x.decode() if isinstance(x, bytes) else x for x in r]))
`,
      { PORT: t.port('imaps') },
    );
    assert.deepEqual(out, ['OK', 'OK', 'OK', 'OK']);
    const changes = await t.server.store.changeLog.since(ann.id, start, 100);
    assert.deepEqual(
      changes.map((c) => `${c.kind} ${c.change}${c.uid === null ? '' : ` ${c.uid}`}`),
      [
        'email created 1',
        'email created 2',
        'email updated 1',
        'email updated 2',
        'email destroyed 2',
        'mailbox created',
      ],
    );
    assert.equal((await t.server.store.changeLog.position(ann.id)).seq, start + changes.length);

    // MOVE keeps the email (its JMAP id); COPY makes a new one.
    const inbox = (await t.server.store.mailboxes.get(ann.id, 'INBOX'))!;
    const original = (await t.server.store.messages.get(inbox.id, 1))!;
    const moved = await python<string[]>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login('ann@example.com', 'ann-secret-1')
c.select('INBOX')
r = [c.uid('MOVE', '1', 'Later')[0]]
c.select('Later')
r.append(c.uid('COPY', '1:*', 'INBOX')[0])
c.logout()
print(json.dumps([x if isinstance(x, str) else x.decode() for x in r]))
`,
      { PORT: t.port('imaps') },
    );
    assert.deepEqual(moved, ['OK', 'OK']);
    const later = (await t.server.store.mailboxes.get(ann.id, 'Later'))!;
    const [there] = await t.server.store.messages.list(later.id);
    assert.equal(there?.emailId, original.emailId, 'moved: the same email');
    const copies = await t.server.store.messages.list(inbox.id);
    assert.ok(
      copies.every((m) => m.emailId !== original.emailId && m.emailId === m.id),
      'copied: new emails',
    );
  });

  it('threads deliveries by Message-ID and base subject, and a message saved to Sent with them', async () => {
    await t.server.directory.addAccount('cy@example.com', 'cy-secret-1');
    const send = (headers: string[]) =>
      swaksReply(t.port('smtp'), [
        '--from',
        'x@sender.example',
        '--to',
        'cy@example.com',
        ...headers.flatMap((h) => ['--header', h]),
      ]);
    assert.match(await send(['Subject: Lunch on Friday', 'Message-Id: <a@sender.example>']), /^250 /);
    assert.match(
      await send([
        'Subject: Re: [team] Lunch on Friday',
        'Message-Id: <b@sender.example>',
        'In-Reply-To: <a@sender.example>',
      ]),
      /^250 /,
    );
    assert.match(
      await send([
        'Subject: Dinner instead?',
        'Message-Id: <c@sender.example>',
        'References: <a@sender.example> <b@sender.example>',
      ]),
      /^250 /,
    );
    const appended = await python<string>(
      `
import imaplib, json, os, ssl
c = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['PORT']), ssl_context=ssl._create_unverified_context())
c.login('cy@example.com', 'cy-secret-1')
c.create('Sent')
msg = b'From: cy@example.com\\r\\nSubject: RE: Lunch on Friday\\r\\nMessage-ID: <d@example.com>\\r\\nReferences: <a@sender.example> <b@sender.example>\\r\\n\\r\\nYes.\\r\\n'
print(json.dumps(c.append('Sent', None, None, msg)[0]))
`,
      { PORT: t.port('imaps') },
    );
    assert.equal(appended, 'OK');
    const cy = (await t.server.store.accounts.get('cy@example.com'))!;
    const inbox = await t.server.store.messages.list((await t.server.store.mailboxes.get(cy.id, 'INBOX'))!.id);
    const sent = await t.server.store.messages.list((await t.server.store.mailboxes.get(cy.id, 'Sent'))!.id);
    const [lunch, reply, dinner] = inbox;
    assert.equal(reply!.threadId, lunch!.threadId, 'a reply joins the thread');
    assert.equal(lunch!.threadId, lunch!.emailId);
    assert.notEqual(dinner!.threadId, lunch!.threadId, 'a changed subject starts a thread of its own');
    assert.equal(sent[0]!.threadId, lunch!.threadId, 'the answer saved to Sent joins it too');
  });
});
