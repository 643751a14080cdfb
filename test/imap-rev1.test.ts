/**
 * IMAP4rev1 behaviour that clients (and Dovecot's imaptest) rely on, on raw sockets so the wire is
 * what is checked: \Recent, FLAGS for new keywords, SENT* dates, sequence sets and EXPUNGE across
 * sessions, sections inside message/rfc822 parts, grammar corners (NIL, atoms with "[", literal8),
 * subscriptions as names (LSUB \Noselect, LIST \NonExistent), substring SEARCH and ENVELOPE groups.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawClient } from './helpers/attack.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

const PW = 'ann password 1';
let t: TestServer;

async function session(mailbox?: string, options: { examine?: boolean; user?: string } = {}): Promise<RawClient> {
  const c = await RawClient.connect(t.port('imaps'), { tls: true });
  await c.waitFor(/^\* OK/);
  await c.imap(`LOGIN ${options.user ?? 'ann@example.com'} "${PW}"`);
  if (mailbox) await c.imap(`${options.examine ? 'EXAMINE' : 'SELECT'} ${mailbox}`);
  return c;
}

/** APPENDs a message (CRLF line ends) to a mailbox over its own connection. */
async function append(mailbox: string, message: string, flags = ''): Promise<void> {
  const c = await session();
  const data = message.replace(/\r?\n/g, '\r\n');
  const reply = await c.imap(`APPEND ${mailbox} ${flags ? `(${flags}) ` : ''}{${Buffer.byteLength(data)}+}\r\n${data}`);
  assert.match(reply, /t\d+ OK/, reply);
  c.destroy();
}

before(async () => {
  t = await startTestServer({ listeners: ['smtp', 'imaps'], logLevel: 'info' });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', PW);
});

after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('IMAP4rev1 conformance', () => {
  it('gives each new message \\Recent in exactly one session (RFC 3501 §2.3.2), and SEARCH RECENT/NEW/OLD and STATUS RECENT follow', async () => {
    await (await session()).imap('CREATE Recent');
    await append('Recent', 'Subject: one\n\nbody\n');
    await append('Recent', 'Subject: two\n\nbody\n', '\\seen');
    const examiner = await session('Recent', { examine: true });
    assert.match(examiner.text, /\* 2 RECENT\r\n/, 'EXAMINE shows recent messages without taking them');
    const status = await (await session()).imap('STATUS Recent (MESSAGES RECENT UNSEEN)');
    assert.match(
      status,
      /\* STATUS "?Recent"? \(MESSAGES 2 RECENT 2 UNSEEN 1\)/,
      'STATUS counts \\Recent; \\seen from a client is \\Seen',
    );
    const first = await session('Recent');
    assert.match(first.text, /\* 2 RECENT\r\n/);
    const second = await session('Recent');
    assert.match(second.text, /\* 0 RECENT\r\n/, 'the first SELECT took them');
    assert.match(
      await first.imap('FETCH 1:2 FLAGS'),
      /\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Seen \\Recent\)\)\r\n/,
    );
    assert.match(await first.imap('SEARCH NEW'), /\* SEARCH 1\r\n/);
    assert.match(await first.imap('SEARCH RECENT'), /\* SEARCH 1 2\r\n/);
    assert.match(await second.imap('SEARCH OLD'), /\* SEARCH 1 2\r\n/);
    await append('Recent', 'Subject: three\n\nbody\n');
    const a = await first.imap('NOOP');
    const b = await second.imap('NOOP');
    const recentTo = [a, b].filter((r) => /\* 3 EXISTS\r\n\* 3 RECENT\r\n/.test(r));
    assert.equal(recentTo.length, 1, `one session gets the new message as recent: ${a} | ${b}`);
    assert.match(recentTo[0] === a ? b : a, /\* 3 EXISTS\r\n\* (0|2) RECENT\r\n/);
    assert.match(await (await session()).imap('STATUS Recent (RECENT)'), /\(RECENT 0\)/, 'all taken');
    for (const c of [examiner, first, second]) c.destroy();
  });

  it('announces FLAGS and PERMANENTFLAGS before a keyword is used for the first time', async () => {
    await (await session()).imap('CREATE Keywords');
    await append('Keywords', 'Subject: k\n\nbody\n', '$Old');
    const c = await session('Keywords');
    assert.match(c.text, /\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Old\)\r\n/);
    assert.match(c.text, /\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Old \\\*\)\]/);
    const other = await session('Keywords');
    const stored = await c.imap('STORE 1 +FLAGS ($New)');
    assert.match(
      stored,
      /\* FLAGS \([^)]*\$New\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$New \\\*\)\][^\r]*\r\n\* 1 FETCH \(FLAGS \(\$New \$Old \\Recent\)\)/,
    );
    const told = await other.imap('NOOP');
    assert.match(
      told,
      /\* FLAGS \([^)]*\$New\)\r\n[^]*\* 1 FETCH \(UID 1 FLAGS \(\$New \$Old\)\)/,
      'the other session learns the keyword before it sees it',
    );
    c.destroy();
    other.destroy();
  });

  it('compares SENT* dates as written, disregarding the zone (RFC 3501 §6.4.4)', async () => {
    await (await session()).imap('CREATE Dates');
    await append('Dates', 'Date: Sun, 25 Mar 2007 00:00:00 +0200\nSubject: a\n\nx\n');
    await append('Dates', 'Date: Sun, 25 Mar 2007 23:30:00 -0500\nSubject: b\n\nx\n');
    const c = await session('Dates');
    assert.match(
      await c.imap('SEARCH SENTON 25-Mar-2007'),
      /\* SEARCH 1 2\r\n/,
      'the day in its own zone, although one is the 24th and the other the 26th in UTC',
    );
    assert.match(await c.imap('SEARCH SENTBEFORE 25-Mar-2007'), /\* SEARCH\r\n/);
    assert.match(await c.imap('SEARCH SENTSINCE 26-Mar-2007'), /\* SEARCH\r\n/);
    assert.match(await c.imap('SEARCH NOT SENTON 25-Mar-2007'), /\* SEARCH\r\n/);
    c.destroy();
  });

  it('keeps sequence numbers right across sessions: reversed ranges, * past the end, EXPUNGE told once to each', async () => {
    await (await session()).imap('CREATE Seq');
    for (let i = 1; i <= 5; i++) await append('Seq', `Subject: m${i}\n\nbody ${i}\n`);
    const a = await session('Seq');
    const b = await session('Seq');
    assert.match(await a.imap('SEARCH 4:2'), /\* SEARCH 2 3 4\r\n/, 'n:m with n > m');
    assert.match(await a.imap('UID SEARCH UID 3:*'), /\* SEARCH 3 4 5\r\n/);
    assert.match(await a.imap('UID FETCH 9:* UID'), /\* 5 FETCH \(UID 5\)\r\n/, 'UID * past the last is the last');
    await a.imap('STORE 2,4 +FLAGS (\\deleted)');
    const expunged = await a.imap('EXPUNGE');
    assert.match(expunged, /\* 2 EXPUNGE\r\n\* 3 EXPUNGE\r\n/, 'each number counted after the previous is gone');
    const seen = await b.imap('NOOP');
    assert.equal(seen.match(/EXPUNGE/g)?.length, 2, seen);
    assert.match(
      await b.imap('FETCH 1:* (UID)'),
      /\* 1 FETCH \(UID 1\)\r\n\* 2 FETCH \(UID 3\)\r\n\* 3 FETCH \(UID 5\)\r\n/,
    );
    assert.doesNotMatch(await b.imap('NOOP'), /EXPUNGE/, 'not told twice');
    a.destroy();
    b.destroy();
  });

  it('numbers sections inside message/rfc822 parts (RFC 9051 §6.4.5), with an empty MIME header', async () => {
    await (await session()).imap('CREATE Parts');
    await append(
      'Parts',
      [
        'From: user@domain.org',
        'Content-Type: message/rfc822',
        '',
        'From: sub@domain.org',
        'Subject: submsg',
        'Content-Type: multipart/digest; boundary="foo"',
        '',
        '--foo',
        '',
        'From: m1@example.com',
        'Subject: m1',
        '',
        'm1 body',
        '',
        '--foo',
        'X-Mime: m2 header',
        '',
        'From: m2@example.com',
        'Subject: m2',
        '',
        'm2 body',
        '',
        '--foo--',
        '',
      ].join('\n'),
    );
    const c = await session('Parts');
    const r = await c.imap(
      'FETCH 1 (BODY.PEEK[1.HEADER.FIELDS (SUBJECT)] BODY.PEEK[1.1.MIME] BODY.PEEK[1.1.HEADER] BODY.PEEK[1.1.TEXT] BODY.PEEK[1.2.MIME])',
    );
    assert.match(r, /BODY\[1\.HEADER\.FIELDS \(SUBJECT\)\] \{19\}\r\nSubject: submsg\r\n\r\n/);
    assert.match(r, /BODY\[1\.1\.MIME\] \{2\}\r\n\r\n/, 'an empty MIME header is the blank line alone');
    assert.match(r, /BODY\[1\.1\.HEADER\] \{37\}\r\nFrom: m1@example\.com\r\nSubject: m1\r\n\r\n/);
    assert.match(r, /BODY\[1\.1\.TEXT\] \{9\}\r\nm1 body\r\n/);
    assert.match(r, /BODY\[1\.2\.MIME\] \{21\}\r\nX-Mime: m2 header\r\n\r\n/);
    c.destroy();
  });

  it('reads NIL as an astring, "[" without "]" in atoms, and literal8 in APPEND (RFC 3516), storing NUL base64-encoded', async () => {
    const c = await session();
    assert.match(
      await c.imap("SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}"),
      /t\d+ NO \[NONEXISTENT\]/,
      'a missing mailbox is NO, not BAD',
    );
    await c.imap('CREATE Binary');
    const message = Buffer.concat([
      Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
      Buffer.from([0, 0x2d, 0xe4, 0x0d, 0x0a]),
    ]);
    assert.match(
      await c.imap(Buffer.concat([Buffer.from(`APPEND Binary ~{${message.length}+}\r\n`), message])),
      /t\d+ OK/,
    );
    await c.imap('SELECT Binary');
    const r = await c.imap('FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BODY.PEEK[1])');
    assert.match(
      r,
      /BINARY\.SIZE\[1\] 5 BINARY\[1\] ~\{5\}\r\n\x00-\xe4\r\n/,
      'BINARY gives the bytes back, as literal8',
    );
    assert.match(r, /BODY\[1\] \{10\}\r\nAC3kDQo=\r\n/, 'BODY is base64: no NUL in a literal');
    assert.match(await c.imap('SEARCH SUBJECT NIL'), /\* SEARCH\r\n/);
    c.destroy();
  });

  it('keeps subscriptions as names: LSUB \\Noselect for an unsubscribed level, LIST (SUBSCRIBED) \\NonExistent after DELETE', async () => {
    const c = await session();
    for (const cmd of ['CREATE Sub/child', 'SUBSCRIBE Sub/child', 'CREATE Gone', 'SUBSCRIBE Gone', 'DELETE Gone'])
      assert.match(await c.imap(cmd), /t\d+ OK/, cmd);
    const lsub = await c.imap('LSUB "" %');
    assert.match(lsub, /\* LSUB \(\\Noselect\) "\/" "?Sub"?\r\n/, 'Sub has a subscribed child the pattern misses');
    assert.match(lsub, /\* LSUB \(\\Noselect\) "\/" "?Gone"?\r\n/);
    const list = await c.imap('LIST (SUBSCRIBED) "" "*"');
    assert.match(list, /\* LIST \(\\NonExistent \\Subscribed\) "\/" "?Gone"?\r\n/);
    assert.match(list, /\* LIST \(\\HasNoChildren \\Subscribed\) "\/" "?Sub\/child"?\r\n/);
    assert.doesNotMatch(list, /"?Sub"?\r\n/, 'Sub itself is not subscribed');
    c.destroy();
  });

  it('matches INBOX in any case as the first level of a LIST pattern, and the rest of a name as written (RFC 9051 §5.1)', async () => {
    const c = await session();
    for (const name of ['INBOX/Lists', 'INBOX/lists', 'Other', 'Inboxes'])
      assert.match(await c.imap(`CREATE ${name}`), /OK/);
    const listed = async (pattern: string) =>
      [...(await c.imap(`LIST "" "${pattern}"`)).matchAll(/^\* LIST \([^)]*\) "\/" "?([^"\r\n]+)"?\r$/gm)]
        .map((m) => m[1])
        .sort();
    assert.deepEqual(await listed('INBOX/lists'), ['INBOX/lists']);
    assert.deepEqual(await listed('inbox/Lists'), ['INBOX/Lists']);
    assert.deepEqual(await listed('InBox'), ['INBOX']);
    assert.deepEqual(await listed('inb*'), ['INBOX']);
    assert.deepEqual(await listed('inbox/*'), ['INBOX/Lists', 'INBOX/lists']);
    assert.deepEqual(await listed('other'), [], 'other names keep their case');
    assert.deepEqual(
      await listed('Inbox*'),
      ['INBOX', 'INBOX/Lists', 'INBOX/lists', 'Inboxes'],
      'INBOX in any case, and a name that starts like it as written',
    );
    c.destroy();
  });

  it('matches SEARCH TEXT and BODY as substrings, TEXT in any header field', async () => {
    await (await session()).imap('CREATE Text');
    await append('Text', 'Subject: one\nX-Header: qwertyuiop\n\nasdfghjkl\n');
    const c = await session('Text');
    assert.match(await c.imap('SEARCH TEXT sdfghjk'), /\* SEARCH 1\r\n/);
    assert.match(await c.imap('SEARCH TEXT wertyuio'), /\* SEARCH 1\r\n/, 'an X- header field');
    assert.match(await c.imap('SEARCH BODY wertyuio'), /\* SEARCH\r\n/, 'BODY is not the header');
    c.destroy();
  });

  it('writes ENVELOPE groups without comment-only members, and source routes as the adl', async () => {
    await (await session()).imap('CREATE Env');
    await append(
      'Env',
      'From: <@route:user@domain>\nTo: group: g1@d1.org;, list: (only a comment) ;\nSubject: e\n\nx\n',
    );
    const c = await session('Env');
    const r = await c.imap('FETCH 1 ENVELOPE');
    assert.match(r, /\(\(NIL "@route" "user" "domain"\)\)/);
    assert.match(
      r,
      /\(\(NIL NIL "group" NIL\)\(NIL NIL "g1" "d1\.org"\)\(NIL NIL NIL NIL\)\(NIL NIL "list" NIL\)\(NIL NIL NIL NIL\)\)/,
    );
    c.destroy();
  });
});
