/** IMAP against real clients: Python imaplib, ImapFlow, curl and openssl; garbage and live updates. */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { peer } from './helpers/peers.js';
import { python, run } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

const PW = 'ann password 1';
let t: TestServer;

async function deliver(to: string, subject: string, body = 'hello body'): Promise<void> {
  const c = await RawSmtp.connect(t.port('smtp'));
  await c.send(
    'x@remote.example',
    [to],
    `From: X Sender <x@remote.example>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n`,
  );
  c.close();
}

function flow(user = 'ann@example.com', pass = PW): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: t.port('imaps'),
    secure: true,
    auth: { user, pass },
    logger: false,
    tls: { rejectUnauthorized: false, servername: 'mail.example.com' },
  });
}

before(async () => {
  t = await startTestServer({ listeners: ['smtp', 'imap', 'imaps'] });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addDomain('example.org');
  await t.server.directory.addAccount('ann@example.com', PW);
  await t.server.directory.addAccount('bob@example.com', 'bob password 1');
  for (let i = 1; i <= 5; i++)
    await deliver('ann@example.com', `message ${i}`, i === 3 ? 'the needle is here' : `plain body ${i}`);
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

const IMAPLIB = `
import imaplib, ssl, json, os
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
def step(name, f):
    try:
        r = f()
        out[name] = [r[0], [x.decode(errors='replace') if isinstance(x, bytes) else [y.decode(errors='replace') for y in x] if isinstance(x, tuple) else x for x in r[1]]] if isinstance(r, tuple) else r
    except Exception as e:
        out[name] = 'ERROR ' + str(e)
`;

describe('IMAP with Python imaplib', () => {
  it('refuses LOGIN before STARTTLS on 143, then works after it', async () => {
    const out = await python<Record<string, unknown>>(
      `${IMAPLIB}
M = imaplib.IMAP4('127.0.0.1', int(os.environ['P']))
out['caps'] = list(M.capabilities)
step('plain', lambda: M.login('ann@example.com', '${PW}'))
M.starttls(ssl_context=ctx)
step('login', lambda: M.login('ann@example.com', '${PW}'))
step('list', lambda: M.list())
step('namespace', lambda: M.namespace())
M.logout()
print(json.dumps(out))`,
      { P: t.port('imap') },
    );
    const caps = out.caps as string[];
    assert.ok(
      caps.includes('STARTTLS') && caps.includes('LOGINDISABLED') && !caps.includes('AUTH=PLAIN'),
      caps.join(' '),
    );
    assert.match(String(out.plain), /ERROR.*PRIVACYREQUIRED/);
    assert.equal((out.login as [string])[0], 'OK');
    const list = (out.list as [string, string[]])[1];
    assert.ok(list.includes('(\\HasNoChildren \\Sent) "/" "Sent"'), list.join('\n'));
    assert.ok(list.includes('(\\HasNoChildren) "/" "INBOX"'));
    assert.deepEqual((out.namespace as [string, string[]])[1], ['(("" "/")) NIL NIL']);
  });

  it('selects, fetches, stores, searches, copies, expunges and appends over 993', async () => {
    const out = await python<Record<string, [string, unknown[]] | string>>(
      `${IMAPLIB}
M = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['P']), ssl_context=ctx)
M.login('ann@example.com', '${PW}')
step('select', lambda: M.select('INBOX'))
out['untagged'] = {k: [x.decode() for x in v] for k, v in M.untagged_responses.items()}
step('fetch', lambda: M.fetch('1:2', '(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)'))
step('sections', lambda: M.fetch('3', '(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[1] BODY.PEEK[TEXT]<0.10> BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[2.MIME])'))
step('flags_after_peek', lambda: M.fetch('3', '(FLAGS)'))
step('body_sets_seen', lambda: M.fetch('3', '(BODY[1])'))
step('store', lambda: M.store('1', '+FLAGS', '(\\\\Deleted $Important)'))
step('search_subject', lambda: M.search(None, 'SUBJECT', '"message 4"'))
step('search_text', lambda: M.uid('SEARCH', 'TEXT', 'needle'))
step('search_msgid', lambda: M.search(None, 'HEADER', 'Message-ID', '<MESSAGE2@remote.example>'))
step('search_msgid_and', lambda: M.search(None, 'UNDELETED', 'HEADER', 'Message-ID', 'message5@'))
step('search_msgid_none', lambda: M.search(None, 'HEADER', 'Message-ID', '<message2@other.example>'))
step('search_or', lambda: M.search(None, 'OR', 'DELETED', 'SEEN'))
step('search_not', lambda: M.search(None, 'NOT', 'KEYWORD', '$Important', 'LARGER', '10', '2:*'))
step('esearch', lambda: ('OK', M._simple_command('SEARCH', 'RETURN', '(MIN MAX COUNT)', 'ALL') and M.untagged_responses.pop('ESEARCH')))
step('create', lambda: M.create('Work/Projects'))
step('copy', lambda: M.copy('2:3', 'Work/Projects'))
step('move', lambda: M.uid('MOVE', '4', 'Archive'))
step('expunge', lambda: M.expunge())
step('status', lambda: M.status('Work/Projects', '(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)'))
step('append', lambda: M.append('INBOX', '(\\\\Seen)', '"26-Nov-2026 10:00:00 +0100"', b'Subject: appended\\r\\n\\r\\nhi\\r\\n'))
step('append_missing', lambda: M.append('Nowhere', None, None, b'Subject: x\\r\\n\\r\\nx\\r\\n'))
step('rename', lambda: M.rename('Work', 'Jobs'))
step('list_after', lambda: M.list('""', 'Jobs*'))
step('delete_parent', lambda: M.delete('Jobs'))
step('close', lambda: M.close())
M.logout()
print(json.dumps(out))`,
      { P: t.port('imaps') },
    );
    const ok = (k: string) => {
      const v = out[k];
      assert.ok(Array.isArray(v) && v[0] === 'OK', `${k}: ${JSON.stringify(v)}`);
      return (v as [string, unknown[]])[1];
    };
    ok('select');
    const untagged = out.untagged as unknown as Record<string, string[]>;
    assert.deepEqual(untagged.EXISTS, ['5']);
    assert.deepEqual(
      untagged.RECENT,
      ['5'],
      'the first session to SELECT gets the new mail as \\Recent (RFC 3501 §2.3.2)',
    );
    assert.ok(
      untagged.UIDVALIDITY && untagged.UIDNEXT && untagged.PERMANENTFLAGS && untagged.FLAGS,
      JSON.stringify(untagged),
    );
    const fetched = ok('fetch').join('\n');
    assert.match(
      fetched,
      /^1 \(UID 1 FLAGS \(\\Recent\) RFC822.SIZE \d+ INTERNALDATE "\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000" ENVELOPE \("Thu, 26 Nov 2026 10:00:00 \+0000" "message 1" \(\("X Sender" NIL "x" "remote.example"\)\)/m,
    );
    const sections = JSON.stringify(ok('sections'));
    assert.match(
      sections,
      /"From: X Sender <x@remote.example>\\r\\nSubject: message 3\\r\\n\\r\\n"/,
      'header fields in message order',
    );
    assert.match(sections, /the needle is here/);
    assert.match(sections, /BINARY\[2\] ~\{4\}/, 'BINARY decodes base64 (4 bytes)');
    assert.match(sections, /BINARY.SIZE\[2\] 4/);
    assert.match(sections, /Content-Transfer-Encoding: base64/);
    assert.doesNotMatch(JSON.stringify(ok('flags_after_peek')), /Seen/, 'PEEK does not set \\Seen');
    assert.match(JSON.stringify(ok('body_sets_seen')), /\\\\Seen/);
    assert.match(JSON.stringify(ok('store')), /FLAGS \(\$Important \\\\Deleted \\\\Recent\)/);
    assert.deepEqual(ok('search_subject'), ['4']);
    assert.deepEqual(ok('search_text'), ['3']);
    assert.deepEqual(ok('search_msgid'), ['2'], 'HEADER Message-ID, compared case-insensitively');
    assert.deepEqual(ok('search_msgid_and'), ['5']);
    assert.deepEqual(ok('search_msgid_none'), ['']);
    assert.deepEqual(ok('search_or'), ['1 3']);
    assert.deepEqual(ok('search_not'), ['2 3 4 5']);
    assert.match(JSON.stringify(ok('esearch')), /\(TAG \\"\w+\\"\) MIN 1 MAX 5 COUNT 5/);
    ok('create');
    assert.match(JSON.stringify(ok('copy')), /COPYUID \d+ 2:3 1:2/);
    ok('move');
    // imaplib hands back every EXPUNGE seen since the last call: 4 from MOVE, then 1 from EXPUNGE
    assert.deepEqual(ok('expunge'), ['4', '1'], 'MOVE expunged seq 4; EXPUNGE removed the \\Deleted message 1');
    assert.match(JSON.stringify(ok('status')), /MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 1 SIZE \d+/);
    assert.match(JSON.stringify(ok('append')), /APPENDUID \d+ 6/);
    assert.match(String(out.append_missing), /TRYCREATE/);
    ok('rename');
    assert.deepEqual(ok('list_after'), ['(\\HasChildren) "/" "Jobs"', '(\\HasNoChildren) "/" "Jobs/Projects"']);
    assert.match(String(out.delete_parent), /^NO,\[CANNOT\] .*children/);
    ok('close');
    const archive = await t.server.mailboxes.get((await t.server.store.accounts.get('ann@example.com'))!.id, 'Archive');
    assert.equal(archive.messageCount, 1, 'MOVE put message 4 in Archive');
  });
});

describe('IMAP with ImapFlow', () => {
  it('reads the pre-parsed envelope and structure and streams the source', async () => {
    const c = flow();
    await c.connect();
    const lock = await c.getMailboxLock('INBOX');
    try {
      const msg = await c.fetchOne('2', { envelope: true, bodyStructure: true, source: true, uid: true, flags: true });
      assert.ok(msg);
      assert.equal(msg.envelope!.subject, 'message 3');
      assert.equal(msg.envelope!.from![0]!.address, 'x@remote.example');
      assert.equal(msg.bodyStructure!.type, 'multipart/mixed');
      assert.deepEqual(
        msg.bodyStructure!.childNodes!.map((n) => n.type),
        ['text/plain', 'application/octet-stream'],
      );
      assert.match(
        msg.source!.toString(),
        /^Return-Path: <x@remote.example>\r\nDelivered-To: ann@example.com\r\nReceived: /,
      );
      const list = await c.list();
      assert.ok(list.some((m) => m.specialUse === '\\Trash'));
    } finally {
      lock.release();
      await c.logout();
    }
  });

  it('fetches whole messages in order when small ones are read ahead and large ones streamed', async () => {
    const account = await t.server.directory.addAccount('mixed@example.com', 'mixed password 1');
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      // every seventh message is above the 256 KB streaming threshold
      const body = (i % 7 === 3 ? `line ${i} `.repeat(40_000) : `small ${i} `.repeat(50 + i)) + '\r\n';
      sent.push(`Subject: mixed ${i}\r\n\r\n${body}`);
      await t.server.mailboxes.append(account.id, 'INBOX', Buffer.from(sent[i]!), [], undefined);
    }
    const c = flow('mixed@example.com', 'mixed password 1');
    await c.connect();
    const lock = await c.getMailboxLock('INBOX');
    try {
      const got: string[] = [];
      for await (const m of c.fetch('1:*', { source: true, uid: true })) got.push(m.source!.toString());
      assert.equal(got.length, sent.length);
      got.forEach((g, i) =>
        assert.ok(g === sent[i], `message ${i + 1} differs (${g.length} vs ${sent[i]!.length} bytes)`),
      );
    } finally {
      lock.release();
      await c.logout();
    }
  });

  it('tells an idling session of deliveries, flag changes and expunges by another session', async () => {
    const watcher = flow();
    const actor = flow();
    await watcher.connect();
    await actor.connect();
    const events: string[] = [];
    watcher.on('exists', (e: { count: number }) => events.push(`exists ${e.count}`));
    watcher.on('expunge', (e: { seq: number }) => events.push(`expunge ${e.seq}`));
    watcher.on('flags', (e: { flags: Set<string> }) => events.push(`flags ${[...e.flags].join(',')}`));
    const lock = await watcher.getMailboxLock('INBOX');
    try {
      const before = (watcher.mailbox as { exists: number }).exists;
      const idle = watcher.idle();
      await new Promise((r) => setTimeout(r, 200));
      const waitFor = async (pattern: RegExp) => {
        const deadline = Date.now() + 3000;
        while (!events.some((e) => pattern.test(e)) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        assert.ok(
          events.some((e) => pattern.test(e)),
          `expected ${pattern}, got ${events.join('; ')}`,
        );
      };
      await deliver('ann@example.com', 'live one');
      await waitFor(new RegExp(`exists ${before + 1}`));
      await actor.mailboxOpen('INBOX');
      await actor.messageFlagsAdd('1', ['\\Flagged']);
      await waitFor(/flags .*\\Flagged/);
      await actor.messageFlagsAdd('2', ['\\Deleted']);
      await actor.messageDelete('2');
      await waitFor(/expunge 2/);
      void idle;
    } finally {
      lock.release();
      await watcher.logout();
      await actor.logout();
    }
  });
});

describe('IMAP robustness', () => {
  async function rawSession(
    port: number,
    lines: Array<string | Buffer>,
    waitMs = 300,
    secure = false,
  ): Promise<string> {
    return new Promise((resolve) => {
      const s = secure
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
        : net.connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('error', () => {});
      const send = async () => {
        for (const l of lines) {
          s.write(l);
          await new Promise((r) => setTimeout(r, 20));
        }
        setTimeout(() => {
          s.destroy();
          resolve(out);
        }, waitMs);
      };
      s.once('data', () => void send());
    });
  }

  it('answers a garbage corpus with BAD while another client keeps working', async () => {
    const garbage: Array<string | Buffer> = [
      'l1 LOGIN bob@example.com "bob password 1"\r\n',
      's1 SELECT INBOX\r\n',
      `a9 ${'X'.repeat(1 << 20)}\r\n`,
      'a1 NOOP (unbalanced\r\n',
      'a2 FETCH 1:* (FLAGS\r\n',
      'a3 FETCH 0:5 FLAGS\r\n',
      'a4 FETCH 1,,2 FLAGS\r\n',
      Buffer.concat([Buffer.from('a5 LOGIN '), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(' x\r\n')]),
      'a6 FROBNICATE\r\n',
      'a7 SELECT\r\n',
      'a8 LOGIN "unterminated\r\n',
      'a10 NOOP\r\n',
      '\r\n',
      '(((\r\n',
    ];
    const other = new Promise<string>((resolve, reject) =>
      setTimeout(() => {
        python<string>(
          `${IMAPLIB}
M = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['P']), ssl_context=ctx)
M.login('bob@example.com', 'bob password 1')
print(json.dumps(M.noop()[0]))`,
          { P: t.port('imaps') },
        ).then(resolve, reject);
      }, 50),
    );
    const reply = await rawSession(t.port('imaps'), garbage, 800, true);
    assert.match(reply, /\r\ns1 OK /, reply.slice(0, 2000));
    for (const tag of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'])
      assert.match(reply, new RegExp(`\\r\\n${tag} BAD `), `${tag}: ${reply.slice(0, 2000)}`);
    assert.match(reply, /\r\na9 BAD Line too long/);
    assert.match(reply, /\r\na10 OK /, 'the session survives bad commands');
    assert.match(reply, /\r\n\* BAD /, 'untagged BAD without a tag');
    assert.equal(await other, 'OK', 'another client is served meanwhile');
  });

  it('keeps serving others while a client stops reading a large FETCH', async () => {
    const account = await t.server.directory.addAccount('big@example.com', 'big password 1');
    const chunk = 'z'.repeat(998) + '\r\n';
    for (let i = 0; i < 30; i++)
      await t.server.mailboxes.append(
        account.id,
        'INBOX',
        Buffer.from(`Subject: big ${i}\r\n\r\n${chunk.repeat(1000)}`),
        [],
        undefined,
      );
    const stalled = tls.connect({ port: t.port('imaps'), host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise((r) => stalled.once('secureConnect', r));
    stalled.write('a LOGIN big@example.com "big password 1"\r\nb SELECT INBOX\r\nc FETCH 1:* BODY[]\r\n');
    await new Promise((r) => setTimeout(r, 300));
    stalled.pause(); // reads nothing more: 30 MB wait on the server side
    const started = Date.now();
    const out = await python<string>(
      `${IMAPLIB}
M = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['P']), ssl_context=ctx)
M.login('ann@example.com', '${PW}')
M.select('INBOX')
typ, data = M.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print(json.dumps(typ))`,
      { P: t.port('imaps') },
    );
    assert.equal(out, 'OK');
    assert.ok(Date.now() - started < 20_000);
    const rss = process.memoryUsage().rss;
    stalled.destroy();
    assert.ok(rss < 1024 ** 3, 'the stalled FETCH is not buffered whole');
  });

  it('keeps a streamed literal whole while the client sends a command that needs a continuation', async () => {
    const account = await t.server.directory.addAccount('stream@example.com', 'stream password 1');
    const line = 'y'.repeat(998) + '\r\n';
    const message = Buffer.from(`Subject: streamed\r\n\r\n${line.repeat(2000)}`); // 2 MB: streamed, not read whole
    await t.server.mailboxes.append(account.id, 'INBOX', message, [], undefined);
    const c = tls.connect({ port: t.port('imaps'), host: '127.0.0.1', rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => c.once('secureConnect', r));
    const received = () => Buffer.concat(chunks).toString('latin1');
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !pattern.test(received()); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(received(), pattern);
    };
    c.write('a LOGIN stream@example.com "stream password 1"\r\nb SELECT INBOX\r\n');
    await waitFor(/\r\nb OK/);
    c.write('c FETCH 1 BODY.PEEK[]\r\n');
    await waitFor(/\* 1 FETCH \(BODY\[\] \{\d+\}\r\n/);
    c.pause(); // the server now waits for the socket to drain, inside the literal
    await new Promise((r) => setTimeout(r, 200));
    c.write('d APPEND INBOX {5}\r\n'); // the server answers "+ Ready for literal data" at once
    await new Promise((r) => setTimeout(r, 200));
    c.resume();
    await waitFor(/\r\nc OK/);
    await waitFor(/\+ Ready for literal data\r\n/);
    const text = received();
    const open = text.indexOf('BODY[] {') + 'BODY[] {'.length;
    const size = Number(text.slice(open, text.indexOf('}', open)));
    const literalStart = text.indexOf('}\r\n', open) + 3;
    assert.ok(
      text.slice(literalStart, literalStart + size).endsWith(message.toString('latin1')),
      'the literal holds the message and nothing else',
    );
    assert.equal(
      text.slice(literalStart + size, literalStart + size + 3),
      ')\r\n',
      'the FETCH response closes right after the literal',
    );
    c.destroy();
  });

  it('sends mailbox names in modified UTF-7, or UTF-8 once enabled', async () => {
    const reply = await rawSession(
      t.port('imaps'),
      [
        'a LOGIN bob@example.com "bob password 1"\r\n',
        'b CREATE "&AMQ-rger"\r\n',
        'c LIST "" "&AMQ-*"\r\n',
        'd ENABLE UTF8=ACCEPT\r\n',
        'e LIST "" "Ä*"\r\n',
        'f CREATE "Entwürfe"\r\n',
        'g STATUS "Entwürfe" (MESSAGES)\r\n',
      ],
      400,
      true,
    );
    const text = Buffer.from(reply, 'latin1').toString('utf8');
    assert.match(text, /\* LIST \(\\HasNoChildren\) "\/" "&AMQ-rger"\r\nc OK/);
    assert.match(text, /\* ENABLED UTF8=ACCEPT/);
    assert.match(text, /\* LIST \(\\HasNoChildren\) "\/" "Ärger"\r\ne OK/);
    assert.match(text, /f OK/);
    assert.match(text, /\* STATUS "Entwürfe" \(MESSAGES 0\)/);
  });

  it('appends several messages at once (MULTIAPPEND) and expunges by UID (UIDPLUS)', async () => {
    await t.server.directory.addAccount('multi@example.com', 'multi password 1');
    const reply = await rawSession(
      t.port('imaps'),
      [
        'a LOGIN multi@example.com "multi password 1"\r\n',
        'b APPEND INBOX (\\Seen) {14+}\r\nSubject: one\r\n (\\Deleted) {14+}\r\nSubject: two\r\n {16+}\r\nSubject: three\r\n\r\n',
        'c SELECT INBOX\r\n',
        'd STORE 3 +FLAGS.SILENT (\\Deleted)\r\n',
        'e UID EXPUNGE 2\r\n',
        'f FETCH 1:* (UID FLAGS)\r\n',
        'g UNSELECT\r\n',
        'h STATUS INBOX (MESSAGES)\r\n',
        'i CHECK\r\n',
      ],
      600,
      true,
    );
    assert.match(reply, /\r\nb OK \[APPENDUID \d+ 1:3\] /, 'RFC 4315 §3: a uid-set');
    assert.match(reply, /\* 3 EXISTS/);
    assert.match(reply, /\* 2 EXPUNGE\r\ne OK/, 'only UID 2 goes, though 3 is \\Deleted too');
    assert.match(
      reply,
      /\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\)\)\r\n\* 2 FETCH \(UID 3 FLAGS \(\\Deleted \\Recent\)\)\r\nf OK/,
      'this session claimed the new messages as \\Recent',
    );
    assert.match(reply, /\* STATUS "?INBOX"? \(MESSAGES 2\)/, 'UNSELECT does not expunge');
    assert.match(reply, /\r\ni BAD /, 'CHECK needs a selected mailbox');
  });

  it('logs out a client that stays silent past the idle timeout', async () => {
    const s = await startTestServer({ listeners: ['imap'], extraConfig: '[imap]\nidle_timeout = "1s"\n' });
    try {
      const reply = await new Promise<string>((resolve) => {
        const c = net.connect(s.port('imap'), '127.0.0.1');
        let out = '';
        c.on('data', (d) => (out += d.toString()));
        c.on('close', () => resolve(out));
        setTimeout(() => c.destroy(), 10_000);
      });
      assert.match(reply, /\r\n\* BYE Autologout/);
    } finally {
      await s.stop();
    }
  });

  it('answers LIST-EXTENDED selections with RECURSIVEMATCH and CHILDINFO (RFC 5258)', async () => {
    const reply = await rawSession(
      t.port('imaps'),
      [
        'a LOGIN bob@example.com "bob password 1"\r\n',
        'b CREATE Lists/Postern\r\n',
        'c SUBSCRIBE Lists/Postern\r\n',
        'd LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"\r\n',
        'e LIST (SPECIAL-USE) "" "*" RETURN (SUBSCRIBED STATUS (MESSAGES))\r\n',
        'f LIST (RECURSIVEMATCH) "" "*"\r\n',
        'g LIST (BOGUS) "" "*"\r\n',
        'h LSUB "" "Lists*"\r\n',
      ],
      500,
      true,
    );
    assert.match(reply, /\* LIST \(\\HasChildren\) "\/" "Lists" \("CHILDINFO" \("SUBSCRIBED"\)\)\r\n/);
    assert.match(
      reply,
      /\* LIST \(\\HasNoChildren \\Sent \\Subscribed\) "\/" "Sent"\r\n\* STATUS "Sent" \(MESSAGES 0\)/,
    );
    assert.doesNotMatch(reply.slice(reply.indexOf('e OK')), /^\* LIST .*"INBOX"/m);
    assert.match(reply, /\r\nf BAD /);
    assert.match(reply, /\r\ng BAD /);
    assert.match(reply, /\* LSUB \(\) "\/" "Lists\/Postern"\r\nh OK/);
  });

  it('authenticates with AUTHENTICATE PLAIN, with SASL-IR and with a continuation, and refuses bad credentials', async () => {
    const b64 = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString('base64');
    const reply = await rawSession(
      t.port('imaps'),
      [
        `a AUTHENTICATE PLAIN ${b64('bob@example.com', 'wrong password')}\r\n`,
        `b AUTHENTICATE PLAIN ${b64('bob@example.com', 'bob password 1')}\r\n`,
        'c LOGOUT\r\n',
      ],
      400,
      true,
    );
    assert.match(reply, /\r\na NO \[AUTHENTICATIONFAILED\] /);
    assert.match(reply, /\r\nb OK \[CAPABILITY [^\]]*\] Logged in/);
    const continued = await rawSession(
      t.port('imaps'),
      [
        'a AUTHENTICATE PLAIN\r\n',
        `${b64('bob@example.com', 'bob password 1')}\r\n`,
        'b NOOP\r\n',
        'c AUTHENTICATE PLAIN\r\n',
      ],
      400,
      true,
    );
    assert.match(continued, /\r\n\+ \r\na OK /);
    assert.match(continued, /\r\nb OK /);
    assert.match(continued, /\r\nc BAD /, 'AUTHENTICATE after login is refused');
    const cancelled = await rawSession(t.port('imaps'), ['a AUTHENTICATE PLAIN\r\n', '*\r\n'], 300, true);
    assert.match(cancelled, /\r\na BAD AUTHENTICATE cancelled/);
  });

  it('refuses a huge synchronising literal before the data is sent', async () => {
    const reply = await rawSession(t.port('imap'), ['a1 LOGIN {999999999}\r\n'], 300);
    assert.match(reply, /\r\na1 NO \[TOOBIG\]/);
    assert.doesNotMatch(reply, /\r\n\+ /);
  });

  it(
    'serves each domain its certificate by SNI on 993 and after STARTTLS on 143',
    { skip: peer('openssl', 'openssl') },
    async () => {
      for (const [args, cn] of [
        [['-connect', `127.0.0.1:${t.port('imaps')}`, '-servername', 'mail.example.org'], 'mail.example.org'],
        [
          ['-connect', `127.0.0.1:${t.port('imap')}`, '-starttls', 'imap', '-servername', 'mail.example.org'],
          'mail.example.org',
        ],
        [
          ['-connect', `127.0.0.1:${t.port('imap')}`, '-starttls', 'imap', '-servername', 'mail.example.com'],
          'mail.example.com',
        ],
      ] as const) {
        const r = await run('openssl', ['s_client', ...args], { input: 'a LOGOUT\r\n', timeoutMs: 15_000 });
        assert.match(r.stdout, new RegExp(`subject=CN ?= ?${cn.replace(/\./g, '\\.')}`), r.stdout.slice(0, 300));
      }
    },
  );

  it('works with curl imaps:// and imap:// with STARTTLS', { skip: peer('curl', 'curl') }, async () => {
    const r = await run('curl', [
      '-sk',
      '--user',
      `bob@example.com:bob password 1`,
      `imaps://127.0.0.1:${t.port('imaps')}/INBOX`,
      '-X',
      'STATUS INBOX (MESSAGES)',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /STATUS "?INBOX"? \(MESSAGES 0\)/);
    await deliver('bob@example.com', 'for curl', 'curl body text');
    const m = await run('curl', [
      '-sk',
      '--user',
      'bob@example.com:bob password 1',
      `imaps://127.0.0.1:${t.port('imaps')}/INBOX;UID=1`,
    ]);
    assert.equal(m.code, 0, m.stderr);
    const starttls = await run('curl', [
      '-sk',
      '--ssl-reqd',
      '--user',
      'bob@example.com:bob password 1',
      `imap://127.0.0.1:${t.port('imap')}/INBOX;UID=1`,
    ]);
    assert.equal(starttls.code, 0, `curl imap:// with STARTTLS: ${starttls.stderr}`);
    assert.match(starttls.stdout, /Subject: for curl/);
    assert.match(m.stdout, /Subject: for curl/);
    assert.match(m.stdout, /curl body text/);
  });
});
