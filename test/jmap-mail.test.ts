/**
 * JMAP Mail beyond get/query/set, driven by jmap-jam: Email/parse of an upload and of a message
 * attached to a stored email (its parts downloadable by the blob ids it gives), Email/copy's answer
 * when there is no other account, and identities (RFC 8621 §6) with names and signatures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type JamClient from 'jmap-jam';
import { jamClient } from './helpers/jmap.js';
import { startTestServer, type TestServer } from './helpers/server.js';

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the test server's certificate is self-signed

const ANN = { user: 'ann@example.com', password: 'ann-secret-1' };
const BOB = { user: 'bob@example.com', password: 'bob-secret-1' };

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const INNER = crlf(`From: Cy <cy@inner.example>
To: ann@example.com
Subject: The forwarded one
Message-ID: <inner@inner.example>
Date: Tue, 01 Dec 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="in"

--in
Content-Type: text/plain; charset=utf-8

Inside text, grüße.
--in
Content-Type: application/octet-stream; name="data.bin"
Content-Disposition: attachment; filename="data.bin"
Content-Transfer-Encoding: base64

AAECAwQ=
--in--
`);
const OUTER = crlf(`From: Bob <bob@example.com>
To: ann@example.com
Subject: Fwd: The forwarded one
Message-ID: <outer@example.com>
Date: Wed, 02 Dec 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="out"

--out
Content-Type: text/plain

See the attached message.
--out
Content-Type: message/rfc822
Content-Disposition: attachment; filename="forwarded.eml"

${INNER}
--out--
`);

interface SubmissionSet {
  created: Record<string, { id: string }>;
  notCreated: Record<string, { type: string; description: string }>;
}

describe('JMAP Mail: parse, copy, identities, thread changes, submission size', () => {
  let t: TestServer;
  let jam: JamClient;
  let bobJam: JamClient;
  let accountId: string;
  const download = async (blobId: string) => {
    const r = await jam.downloadBlob({ accountId, blobId, mimeType: 'application/octet-stream', fileName: 'x' });
    return Buffer.from(await r.arrayBuffer());
  };
  const parse = async (blobIds: string[], extra: object = {}) => {
    const [r] = await (jam.request as unknown as (c: [string, object]) => Promise<[Record<string, unknown>]>)([
      'Email/parse',
      { accountId, blobIds, fetchTextBodyValues: true, ...extra },
    ]);
    return r as {
      parsed: Record<string, Record<string, unknown>> | null;
      notParsable: string[] | null;
      notFound: string[] | null;
    };
  };

  before(async () => {
    t = await startTestServer({ listeners: ['https'], extraConfig: '[limits]\nmax_message_size = "64KB"\n' });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount(ANN.user, ANN.password);
    await t.server.directory.addAccount(BOB.user, BOB.password);
    await t.server.directory.addAlias('sales@example.com', [ANN.user]);
    jam = await jamClient(`https://127.0.0.1:${t.port('https')}`, ANN);
    bobJam = await jamClient(`https://127.0.0.1:${t.port('https')}`, BOB);
    accountId = await jam.getPrimaryAccount();
  });
  after(() => t?.stop());

  it('parses an attached message of a stored email, and its parts download by the blob ids it gives', async () => {
    const upload = await jam.uploadBlob(accountId, new Blob([OUTER], { type: 'message/rfc822' }));
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const inbox = boxes.list.find((b) => b.role === 'inbox')!;
    const [imported] = await jam.api.Email.import({
      accountId,
      emails: {
        one: {
          blobId: upload.blobId,
          mailboxIds: { [inbox.id]: true },
          keywords: {},
          receivedAt: '2026-12-02T10:00:00Z',
        },
      },
    });
    const emailId = imported.created!.one!.id;
    const [got] = await jam.api.Email.get({ accountId, ids: [emailId], properties: ['attachments'] });
    const attached = got.list[0]!.attachments!.find((a) => a.type === 'message/rfc822')!;

    const { parsed, notFound } = await parse([attached.blobId!]);
    assert.equal(notFound, null);
    const email = parsed![attached.blobId!]!;
    assert.equal(email.subject, 'The forwarded one');
    assert.deepEqual(email.from, [{ name: 'Cy', email: 'cy@inner.example' }]);
    assert.deepEqual(email.messageId, ['inner@inner.example']);
    assert.equal(email.sentAt, '2026-12-01T09:00:00+00:00');
    assert.equal(email.hasAttachment, true);
    const [text] = email.textBody as Array<{ partId: string; blobId: string }>;
    assert.equal((email.bodyValues as Record<string, { value: string }>)[text!.partId]!.value, 'Inside text, grüße.');
    assert.equal((await download(text!.blobId)).toString('utf8'), 'Inside text, grüße.');
    const [bin] = email.attachments as Array<{ blobId: string; name: string }>;
    assert.equal(bin!.name, 'data.bin');
    assert.deepEqual([...(await download(bin!.blobId))], [0, 1, 2, 3, 4]);

    // What a stored email is, a parsed one is not.
    const [whole] = Object.values(
      (await parse([upload.blobId], { properties: ['id', 'mailboxIds', 'size', 'subject'] })).parsed!,
    );
    assert.deepEqual(whole, {
      id: null,
      mailboxIds: null,
      size: Buffer.byteLength(OUTER),
      subject: 'Fwd: The forwarded one',
    });
  });

  it('says which blobs are not messages and which are not there', async () => {
    const binary = await jam.uploadBlob(
      accountId,
      new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0])], { type: 'image/png' }),
    );
    const r = await parse([binary.blobId, 'u' + '0'.repeat(64), 'g999999', 'nonsense']);
    assert.equal(r.parsed, null);
    assert.deepEqual(r.notParsable, [binary.blobId]);
    assert.deepEqual(r.notFound, ['u' + '0'.repeat(64), 'g999999', 'nonsense']);
  });

  it('answers Email/copy: there is no other account this login may copy from', async () => {
    const copy = (fromAccountId: string) =>
      (jam.request as unknown as (c: [string, object]) => Promise<unknown>)([
        'Email/copy',
        { fromAccountId, accountId, create: {} },
      ]);
    await assert.rejects(copy('a999'), (e: { type: string }) => e.type === 'fromAccountNotFound');
    await assert.rejects(copy(accountId), (e: { type: string }) => e.type === 'invalidArguments');
  });

  it('keeps identities: its own address (never removed) and an alias, with names and signatures', async () => {
    const call = async (c: JamClient, method: string, args: object) =>
      (await (c.request as unknown as (x: [string, object]) => Promise<[Record<string, any>]>)([method, args]))[0];
    const first = await call(jam, 'Identity/get', { accountId });
    assert.equal(first.list.length, 1);
    const own = first.list[0];
    assert.deepEqual([own.email, own.mayDelete, own.name], [ANN.user, false, '']);

    const made = await call(jam, 'Identity/set', {
      accountId,
      create: {
        sales: {
          email: 'Sales@Example.com',
          name: 'Ann at Sales',
          textSignature: '-- \nAnn, Sales',
          htmlSignature: '<p>Ann, <b>Sales</b></p>',
          replyTo: [{ name: 'Sales', email: 'sales@example.com' }],
        },
        bobs: { email: BOB.user, name: 'Not Ann' },
        injected: { email: 'sales@example.com', name: 'Ann\r\nBcc: mallory@else.example' },
        stranger: { email: 'someone@else.example' },
      },
    });
    const sales = made.created.sales.id as string;
    assert.equal(made.created.sales.mayDelete, true);
    assert.equal(made.notCreated.bobs.type, 'forbiddenFrom', "another account's address");
    assert.equal(made.notCreated.stranger.type, 'forbiddenFrom');
    assert.deepEqual(made.notCreated.injected.properties, ['name']);

    const changes = await call(jam, 'Identity/changes', { accountId, sinceState: first.state });
    assert.deepEqual([changes.created, changes.updated, changes.destroyed], [[sales], [], []]);
    const updated = await call(jam, 'Identity/set', {
      accountId,
      update: {
        [own.id]: { name: 'Ann Lee', bcc: [{ email: 'archive@example.com' }] },
        [sales]: { email: 'x@example.com' },
      },
      destroy: [own.id],
    });
    assert.deepEqual(Object.keys(updated.updated), [own.id]);
    assert.deepEqual(updated.notUpdated[sales].properties, ['email'], 'the address is fixed');
    assert.equal(updated.notDestroyed[own.id].type, 'forbidden');
    // Two changes since the first state, read one at a time.
    const one = await call(jam, 'Identity/changes', { accountId, sinceState: first.state, maxChanges: 1 });
    assert.deepEqual([one.created, one.hasMoreChanges], [[sales], true]);
    const two = await call(jam, 'Identity/changes', { accountId, sinceState: one.newState, maxChanges: 1 });
    assert.deepEqual([two.updated, two.hasMoreChanges], [[own.id], false]);
    const both = await call(jam, 'Identity/get', { accountId });
    assert.deepEqual(
      both.list.map((i: Record<string, unknown>) => [i.email, i.name, i.bcc, i.textSignature]),
      [
        [ANN.user, 'Ann Lee', [{ name: null, email: 'archive@example.com' }], ''],
        ['sales@example.com', 'Ann at Sales', null, '-- \nAnn, Sales'],
      ],
    );

    // Another login sees none of them and changes none.
    const bobs = await call(bobJam, 'Identity/get', { accountId: await bobJam.getPrimaryAccount(), ids: [sales] });
    assert.deepEqual(bobs.notFound, [sales]);
    const bobSet = await call(bobJam, 'Identity/set', {
      accountId: await bobJam.getPrimaryAccount(),
      update: { [sales]: { name: 'Bob' } },
      destroy: [sales],
    });
    assert.equal(bobSet.notUpdated[sales].type, 'notFound');
    assert.equal(bobSet.notDestroyed[sales].type, 'notFound');

    const gone = await call(jam, 'Identity/set', { accountId, destroy: [sales] });
    assert.deepEqual(gone.destroyed, [sales]);
    const after = await call(jam, 'Identity/changes', { accountId, sinceState: both.state });
    assert.deepEqual(after.destroyed, [sales]);
  });

  it('follows a thread through Thread/changes: made, grown, shrunk and gone', async () => {
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const inbox = boxes.list.find((b) => b.role === 'inbox')!.id!;
    const importOne = async (raw: string) => {
      const blob = await jam.uploadBlob(accountId, new Blob([crlf(raw)], { type: 'message/rfc822' }));
      const [r] = await jam.api.Email.import({
        accountId,
        emails: {
          x: { blobId: blob.blobId, mailboxIds: { [inbox]: true }, keywords: {}, receivedAt: '2026-12-02T10:00:00Z' },
        },
      });
      return r.created!.x!;
    };
    const changes = async (sinceState: string) => {
      const [r] = await jam.api.Thread.changes({ accountId, sinceState });
      return r;
    };
    const [start] = await jam.api.Thread.get({ accountId, ids: [] });
    const first = await importOne(
      'From: cy@inner.example\nSubject: Lunch\nMessage-ID: <lunch-1@inner.example>\n\nNoon?\n',
    );
    const made = await changes(start.state);
    assert.deepEqual([made.created, made.updated, made.destroyed], [[first.threadId], [], []]);
    const reply = await importOne(
      'From: ann@example.com\nSubject: Re: Lunch\nMessage-ID: <lunch-2@example.com>\nIn-Reply-To: <lunch-1@inner.example>\n\nYes.\n',
    );
    assert.equal(reply.threadId, first.threadId);
    const grown = await changes(made.newState);
    assert.deepEqual([grown.created, grown.updated, grown.destroyed], [[], [first.threadId], []]);
    await jam.api.Email.set({ accountId, destroy: [reply.id] });
    const shrunk = await changes(grown.newState);
    assert.deepEqual([shrunk.created, shrunk.updated, shrunk.destroyed], [[], [first.threadId], []]);
    await jam.api.Email.set({ accountId, destroy: [first.id] });
    const gone = await changes(shrunk.newState);
    assert.deepEqual([gone.created, gone.updated, gone.destroyed], [[], [], [first.threadId]]);
  });

  it('refuses to send a message larger than max_message_size (tooLarge), as port 587 would, and sends one that fits', async () => {
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    const drafts = boxes.list.find((b) => b.role === 'drafts')!.id!;
    const [identities] = await jam.api.Identity.get({ accountId });
    const me = identities.list.find((i) => i.mayDelete === false)!.id;
    const draft = (body: string) => ({
      mailboxIds: { [drafts]: true },
      from: [{ name: 'Ann', email: ANN.user }],
      to: [{ name: null, email: BOB.user }],
      subject: `${body.length} characters`,
      textBody: [{ partId: 'b', type: 'text/plain' }],
      bodyValues: { b: { value: body } },
    });
    const call = jam.request.bind(jam) as unknown as (c: [string, object]) => Promise<[Record<string, any>]>;
    const [made] = await call([
      'Email/set',
      // About 100 KB of text, over the 64 KB this server takes.
      { accountId, create: { big: draft(`${'big '.repeat(25)}\n`.repeat(1000)), small: draft('Hello Bob.') } },
    ]);
    const [sent] = await (jam.request as unknown as (c: [string, object]) => Promise<[SubmissionSet]>)([
      'EmailSubmission/set',
      {
        accountId,
        create: {
          big: { identityId: me, emailId: made.created.big.id },
          small: { identityId: me, emailId: made.created.small.id },
        },
      },
    ]);
    assert.equal(sent.notCreated.big!.type, 'tooLarge');
    assert.match(sent.notCreated.big!.description, /at most 65536/);
    assert.ok(sent.created.small?.id, 'a message that fits is sent');
  });
});
