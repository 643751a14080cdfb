/** POP3 against real clients: Python poplib, curl, getmail6 and openssl. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { peer } from './helpers/peers.js';
import { python, run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';
import { tempDir } from './helpers/tmp.js';

let t: TestServer;

async function deliver(
  to: string,
  count: number,
  body = (i: number) => `line one ${i}\r\n.starts with a dot\r\nlast line\r\n`,
): Promise<void> {
  const c = await RawSmtp.connect(t.port('smtp'));
  for (let i = 1; i <= count; i++)
    await c.send(
      'x@remote.example',
      [to],
      `From: x@remote.example\r\nTo: ${to}\r\nSubject: pop ${i}\r\n\r\n${body(i)}`,
    );
  c.close();
}

before(async () => {
  t = await startTestServer({ listeners: ['smtp', 'pop3', 'pop3s', 'imaps'] });
  await t.server.directory.addDomain('example.com');
  for (const u of ['ann', 'bob', 'cy', 'dee'])
    await t.server.directory.addAccount(`${u}@example.com`, `${u} password 1`);
  await deliver('ann@example.com', 3);
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

const POPLIB = `
import poplib, ssl, json, os
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
def step(name, f):
    try:
        r = f()
        out[name] = r.decode(errors='replace') if isinstance(r, bytes) else [r[0].decode(), [x.decode(errors='replace') for x in r[1]], r[2]] if isinstance(r, tuple) and len(r) == 3 else r
    except Exception as e:
        out[name] = 'ERROR ' + str(e)
`;

describe('POP3 with Python poplib', () => {
  it('needs STLS before a password on 110, then lists, reads and retrieves', async () => {
    const out = await python<Record<string, unknown>>(
      `${POPLIB}
P = poplib.POP3('127.0.0.1', int(os.environ['P']))
step('capa_plain', lambda: P.capa())
step('user_plain', lambda: P.user('ann@example.com'))
step('stls', lambda: P.stls(context=ctx))
step('capa_tls', lambda: P.capa())
P.user('ann@example.com'); step('pass', lambda: P.pass_('ann password 1'))
step('stat', lambda: list(P.stat()))
step('list', lambda: P.list())
step('uidl', lambda: P.uidl())
step('top', lambda: P.top(2, 1))
step('retr', lambda: P.retr(1))
step('retr_missing', lambda: P.retr(9))
step('garbage', lambda: P._shortcmd('XYZZY'))
step('long', lambda: P._shortcmd('NOOP ' + 'x' * 300))
step('quit', lambda: P.quit())
print(json.dumps(out))`,
      { P: t.port('pop3') },
    );
    const capaPlain = out.capa_plain as Record<string, unknown>;
    assert.ok('STLS' in capaPlain && !('USER' in capaPlain), JSON.stringify(capaPlain));
    assert.match(String(out.user_plain), /ERROR.*\[AUTH\] Use STLS/);
    const capaTls = out.capa_tls as Record<string, unknown>;
    assert.ok(
      'USER' in capaTls && 'SASL' in capaTls && 'UIDL' in capaTls && 'PIPELINING' in capaTls && 'RESP-CODES' in capaTls,
      JSON.stringify(capaTls),
    );
    assert.match(String(out.pass), /^\+OK/);
    const [count, total] = out.stat as [number, number];
    assert.equal(count, 3);
    const sizes = (out.list as [string, string[]])[1].map((l) => Number(l.split(' ')[1]));
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      total,
    );
    const retr = out.retr as [string, string[], number];
    const sent = retr[1].join('\r\n') + '\r\n';
    assert.equal(Buffer.byteLength(sent), sizes[0], 'LIST size = what RETR sends (after un-stuffing)');
    assert.ok(retr[1].includes('.starts with a dot'), 'dot-stuffing undone by the client');
    const inbox = await mailbox(t.server, 'ann@example.com');
    assert.equal(sent, inbox[0]!.text, 'byte-identical to the stored message');
    const account = (await t.server.store.accounts.get('ann@example.com'))!;
    const box = await t.server.mailboxes.get(account.id, 'INBOX');
    const uidls = (out.uidl as [string, string[]])[1];
    assert.equal(
      uidls[0],
      `1 ${(1).toString(16).padStart(8, '0').toUpperCase()}${box.uidValidity.toString(16).padStart(8, '0').toUpperCase()}`,
      'UIDL = IMAP UID + UIDVALIDITY (%08Xu%08Xv)',
    );
    const topLines = (out.top as [string, string[]])[1];
    assert.deepEqual(topLines.slice(-2), ['', 'line one 2']);
    assert.match(String(out.retr_missing), /ERROR.*No message 9/);
    assert.match(String(out.garbage), /ERROR.*Unknown command/);
    assert.match(String(out.long), /ERROR.*too long/);
    const seen = (await t.server.store.messages.list(box.id)).find((m) => m.uid === 1)!;
    assert.ok(seen.flags.includes('\\Seen'), 'RETR marks the message \\Seen for IMAP');
  });

  it('deletes only at QUIT: a dropped connection deletes nothing; QUIT deletes and IMAP sessions see EXPUNGE', async () => {
    await deliver('bob@example.com', 4);
    const dropped = await python<Record<string, unknown>>(
      `${POPLIB}
P = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx)
P.user('bob@example.com'); P.pass_('bob password 1')
step('dele', lambda: P.dele(1))
step('stat', lambda: list(P.stat()))
P.sock.close()
print(json.dumps(out))`,
      { P: t.port('pop3s') },
    );
    assert.deepEqual(dropped.stat, [3, (dropped.stat as number[])[1]]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await mailbox(t.server, 'bob@example.com')).length, 4, 'nothing deleted without QUIT');

    const watcher = new ImapFlow({
      host: '127.0.0.1',
      port: t.port('imaps'),
      secure: true,
      auth: { user: 'bob@example.com', pass: 'bob password 1' },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await watcher.connect();
    const expunged: number[] = [];
    watcher.on('expunge', (e: { seq: number }) => expunged.push(e.seq));
    await watcher.mailboxOpen('INBOX');
    const idle = watcher.idle();
    const done = await python<Record<string, unknown>>(
      `${POPLIB}
P = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx)
step('auth', lambda: P._shortcmd('AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBib2IgcGFzc3dvcmQgMQ=='))
Q = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx)
Q.user('bob@example.com')
step('in_use', lambda: Q.pass_('bob password 1'))
step('dele1', lambda: P.dele(1)); step('dele3', lambda: P.dele(3)); step('rset', lambda: P.rset()); step('dele2', lambda: P.dele(2)); step('dele4', lambda: P.dele(4))
step('quit', lambda: P.quit())
print(json.dumps(out))`,
      { P: t.port('pop3s') },
    );
    assert.match(String(done.auth), /^\+OK/, 'AUTH PLAIN with an initial response (RFC 5034)');
    assert.match(String(done.in_use), /ERROR.*\[IN-USE\]/);
    assert.match(String(done.quit), /\+OK Bye, 2 messages deleted/);
    const left = await mailbox(t.server, 'bob@example.com');
    assert.deepEqual(
      left.map((m) => /Subject: (pop \d)/.exec(m.text)![1]),
      ['pop 1', 'pop 3'],
      'RSET undid the first deletions',
    );
    const deadline = Date.now() + 3000;
    while (expunged.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(expunged.length, 2, 'the IMAP session was told of both expunges');
    void idle;
    await watcher.logout();
  });

  it('throttles failed logins with [AUTH] answers', async () => {
    const out = await python<Record<string, unknown>>(
      `${POPLIB}
P = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx)
P.user('cy@example.com'); step('bad', lambda: P.pass_('wrong'))
step('unknown_after', lambda: P._shortcmd('STAT'))
print(json.dumps(out))`,
      { P: t.port('pop3s') },
    );
    assert.match(String(out.bad), /ERROR.*-ERR \[AUTH\] Authentication failed/);
    assert.match(String(out.unknown_after), /ERROR.*Log in first/);
  });
});

describe('POP3 with curl, getmail6 and openssl', () => {
  it('lists and retrieves with curl pop3s:// and pop3:// with STLS', { skip: peer('curl', 'curl') }, async () => {
    const list = await run('curl', [
      '-sk',
      '--user',
      'ann@example.com:ann password 1',
      `pop3s://127.0.0.1:${t.port('pop3s')}/`,
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^1 \d+\r\n2 \d+\r\n3 \d+\r\n$/);
    const msg = await run('curl', [
      '-sk',
      '--ssl-reqd',
      '--user',
      'ann@example.com:ann password 1',
      `pop3://127.0.0.1:${t.port('pop3')}/2`,
    ]);
    assert.equal(msg.code, 0, msg.stderr);
    assert.match(msg.stdout, /Subject: pop 2/);
  });

  it(
    'getmail6 downloads and deletes 200 messages, identical to what was delivered',
    { skip: peer('getmail', 'getmail6') },
    async () => {
      await deliver('dee@example.com', 200, (i) => `message number ${i}\r\n.dot line\r\n${'x'.repeat(i * 10)}\r\n`);
      const delivered = (await mailbox(t.server, 'dee@example.com')).map((m) => m.text);
      const dir = tempDir();
      const maildir = path.join(dir, 'Maildir');
      for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true, mode: 0o777 });
      // getmail refuses to deliver as root: when tests run as root it delivers as nobody.
      const asRoot = process.getuid?.() === 0;
      if (asRoot)
        for (const d of [dir, maildir, ...['cur', 'new', 'tmp'].map((x) => path.join(maildir, x))]) chmodSync(d, 0o777);
      writeFileSync(
        path.join(dir, 'getmailrc'),
        `[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = ${t.port('pop3s')}
username = dee@example.com
password = dee password 1
ca_certs = ${t.dir}/letsencrypt/live/mail.example.com/fullchain.pem
ssl_cert_hostname = mail.example.com

[destination]
type = Maildir
path = ${maildir}/
${asRoot ? 'user = nobody' : ''}

[options]
delete = true
read_all = true
delivered_to = false
received = false
verbose = 0
message_log_syslog = false
`,
      );
      const r = await run('getmail', ['--getmaildir', dir, '--rcfile', path.join(dir, 'getmailrc')], {
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const got = readdirSync(path.join(maildir, 'new')).map((f) =>
        readFileSync(path.join(maildir, 'new', f), 'latin1'),
      );
      assert.equal(got.length, 200);
      // getmail stores Maildir files with Unix line ends and re-folds long header lines (Python's email
      // package); apart from that the bytes must be the same.
      const norm = (s: string) => s.replace(/\r\n/g, '\n').replace(/\n[ \t]+/g, ' ');
      const want = new Set(delivered.map(norm));
      const differing = got.map(norm).filter((g) => !want.has(g));
      assert.deepEqual(
        differing.map((d) => d.slice(0, 2000)),
        [],
        'every downloaded message is one that was delivered',
      );
      assert.equal((await mailbox(t.server, 'dee@example.com')).length, 0, 'deleted on the server after QUIT');
    },
  );

  it(
    'serves each domain its certificate by SNI on 995 and after STLS',
    { skip: peer('openssl', 'openssl') },
    async () => {
      const implicit = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${t.port('pop3s')}`, '-servername', 'mail.example.org'],
        { input: 'QUIT\r\n', timeoutMs: 15_000 },
      );
      assert.match(implicit.stdout, /subject=CN ?= ?mail\.example\.org/);
      const stls = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${t.port('pop3')}`, '-starttls', 'pop3', '-servername', 'mail.example.org'],
        { input: 'QUIT\r\n', timeoutMs: 15_000 },
      );
      assert.match(stls.stdout, /subject=CN ?= ?mail\.example\.org/);
    },
  );

  it('answers an overlong line without CRLF with -ERR and keeps serving others', async () => {
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(t.port('pop3'), '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('error', () => {});
      s.once('data', () => s.write('x'.repeat(100_000)));
      s.on('close', () => resolve(out));
      setTimeout(() => s.destroy(), 5000);
    });
    assert.match(reply, /\r\n-ERR Line too long/);
  });
});

describe('POP3 maildrop lock takeover', () => {
  // A client whose connection died without a FIN keeps its session: a new login of the same
  // account takes the maildrop over once that session has been silent for lock_takeover_after.
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ listeners: ['smtp', 'pop3s'], extraConfig: '[pop3]\nlock_takeover_after = "2s"\n' });
    await s.server.directory.addDomain('example.com');
    await s.server.directory.addAccount('eve@example.com', 'eve password 1');
    const c = await RawSmtp.connect(s.port('smtp'));
    for (let i = 1; i <= 3; i++)
      await c.send(
        'x@remote.example',
        ['eve@example.com'],
        `From: x@remote.example\r\nSubject: pop ${i}\r\n\r\nbody ${i}\r\n`,
      );
    c.close();
  });
  after(async () => {
    for (const l of s.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
    await s.stop();
  });

  it('lets a new login take over from a silent session, which ends without deleting; an active holder keeps the lock', async () => {
    const out = await python<Record<string, unknown>>(
      `${POPLIB}
import time
def login():
    p = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx)
    p.user('eve@example.com'); p.pass_('eve password 1')
    return p
A = login()
step('a_dele', lambda: A.dele(1))
step('b_early', lambda: login())
time.sleep(2.5)
B = None
def take():
    global B
    B = login()
    return B.getwelcome()
step('b_takeover', take)
step('a_quit', lambda: A.quit())
step('b_stat', lambda: list(B.stat()))
step('c_while_b_active', lambda: login())
step('b_dele', lambda: B.dele(2))
step('b_quit', lambda: B.quit())
print(json.dumps(out, default=str))`,
      { P: s.port('pop3s') },
    );
    assert.match(String(out.a_dele), /^\+OK/);
    assert.match(String(out.b_early), /ERROR.*\[IN-USE\]/, 'the holder was active a moment ago');
    assert.match(
      String(out.a_quit),
      /ERROR.*(\[IN-USE\] Another session logged in|closed|EOF|reset)/i,
      `the session taken over cannot QUIT: ${String(out.a_quit)}`,
    );
    assert.equal((out.b_stat as number[])[0], 3, 'the session taken over deleted nothing');
    assert.match(
      String(out.c_while_b_active),
      /ERROR.*\[IN-USE\]/,
      "the old session ending did not release the new holder's lock",
    );
    assert.match(String(out.b_quit), /\+OK Bye, 1 messages deleted/);
    const left = await mailbox(s.server, 'eve@example.com');
    assert.deepEqual(
      left.map((m) => /Subject: (pop \d)/.exec(m.text)![1]),
      ['pop 1', 'pop 3'],
      "only the new holder's deletion was applied",
    );
    assert.ok(
      s.logs.some((l) => l.msg === 'pop3 maildrop taken over from a silent session'),
      'the takeover is logged',
    );
  });

  it('keeps no lock for a connection that went while its password was checked', async () => {
    // Its own server, where nothing is taken over: a lock left behind would refuse the last login.
    const own = await startTestServer({ listeners: ['pop3s'], extraConfig: '[pop3]\nlock_takeover_after = "10m"\n' });
    try {
      await own.server.directory.addDomain('example.com');
      await own.server.directory.addAccount('fay@example.com', 'fay password 1');
      // Several times: the close has to arrive while the password is being verified.
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve) => {
          const sock = tls.connect({ host: '127.0.0.1', port: own.port('pop3s'), rejectUnauthorized: false });
          let seen = '';
          sock.on('data', (d: Buffer) => {
            seen += d.toString();
            if (seen.includes('+OK Send your password')) {
              seen = '';
              // Gone while the password is verified.
              sock.write('PASS fay password 1\r\n', () => {
                sock.destroy();
                resolve();
              });
            } else if (/^\+OK .*POP3 ready/.test(seen)) {
              sock.write('USER fay@example.com\r\n');
            }
          });
          sock.on('error', () => resolve());
          sock.on('close', () => resolve());
        });
      }
      await new Promise((r) => setTimeout(r, 500));
      const out = await python<Record<string, unknown>>(
        `${POPLIB}
P = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx)
P.user('fay@example.com')
step('pass', lambda: P.pass_('fay password 1'))
step('quit', lambda: P.quit())
print(json.dumps(out))`,
        { P: own.port('pop3s') },
      );
      assert.match(String(out.pass), /^\+OK/, 'logged in at once: no dropped session holds the maildrop');
    } finally {
      await own.stop();
    }
  });
});
