/** SMTP MX, submission, SMTPS and LMTP against real clients: swaks, nodemailer and Python's smtplib. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { postern } from './helpers/cli.js';
import { peer } from './helpers/peers.js';
import { python, run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';

const PW = { ann: 'ann password 1', bob: 'bob password 1', cy: 'cy password 1' };
let t: TestServer;

before(async () => {
  t = await startTestServer({ extraConfig: '[smtp]\nmax_recipients = 100\n' });
  const d = t.server.directory;
  await d.addDomain('example.com');
  await d.addDomain('example.org');
  await d.addDomain('example.net', { aliasOf: 'example.com' });
  await d.addAccount('ann@example.com', PW.ann);
  await d.addAccount('bob@example.com', PW.bob);
  await d.addAccount('cy@example.org', PW.cy);
  await d.addAccount('full@example.org', 'full password 1', { quotaBytes: 1 });
  await d.addAccount('small@example.org', 'small password 1', { quotaBytes: 3000 });
  await d.addAlias('team@example.com', ['ann@example.com', 'cy@example.org']);
  await d.addAlias('@example.org', ['cy@example.org']);
  await d.addAlias('sales@example.com', ['ann@example.com']);
  await d.addAlias('friend@example.com', ['someone@remote.example']);
  await d.addAlias('loop1@example.com', ['loop2@example.com']);
  await d.addAlias('loop2@example.com', ['loop1@example.com', 'bob@example.com']);
  // fill full@ so that its quota is already used up
  const full = (await t.server.store.accounts.get('full@example.org'))!;
  const box = (await t.server.store.mailboxes.get(full.id, 'INBOX'))!;
  await t.server.store.messages.append(box.id, {
    blobHash: 'f'.repeat(64),
    size: 10,
    internalDate: new Date(),
    flags: [],
    envelope: null,
    bodyStructure: null,
  });
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

const SMTPLIB = `
import smtplib, ssl, json, os
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
P = int(os.environ['PORT'])
def r(x): return [x[0], x[1].decode(errors='replace')]
`;

describe('MX (port 25)', () => {
  it(
    'delivers to two domains, an alias with two destinations, a catch-all, a plus-address and a domain alias, once per mailbox (swaks, STARTTLS)',
    { skip: peer('swaks', 'swaks') },
    async () => {
      const to = [
        'ann@example.com',
        'cy@example.org',
        'team@example.com',
        'whoever@example.org',
        'ann+news@example.com',
        'bob@example.net',
      ].join(',');
      const out = await run('swaks', [
        '--server',
        '127.0.0.1',
        '--port',
        String(t.port('smtp')),
        '--tls',
        '--tls-sni',
        'mail.example.com',
        '--ehlo',
        'client.example',
        '--from',
        'sender@remote.example',
        '--to',
        to,
        '--header',
        'Subject: matrix',
        '--body',
        'hello matrix',
      ]);
      assert.equal(out.code, 0, out.stdout + out.stderr);
      assert.match(out.stdout, /<- {2}220 mail.example.com ESMTP Postern/);
      assert.match(out.stdout, /250 2.0.0 Ok: queued as \w+/);
      const ann = (await mailbox(t.server, 'ann@example.com')).filter((m) => m.text.includes('Subject: matrix'));
      const cy = (await mailbox(t.server, 'cy@example.org')).filter((m) => m.text.includes('Subject: matrix'));
      const bob = (await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('Subject: matrix'));
      assert.deepEqual(
        [ann.length, cy.length, bob.length],
        [1, 1, 1],
        'one copy per mailbox however many addresses lead there',
      );
      const text = ann[0]!.text;
      assert.match(
        text,
        /^Return-Path: <sender@remote.example>\r\nDelivered-To: ann@example.com\r\nReceived: from client.example \(\[127.0.0.1\]\)\r\n\tby mail.example.com \(Postern\) with ESMTPS id \w+\r\n\t\(using TLSv1\.[23] with cipher [\w-]+\);\r\n\t\w{3}, /,
      );
      assert.match(text, /hello matrix/);
      assert.equal(ann[0]!.size, Buffer.byteLength(text), 'RFC822.SIZE matches what is served');
    },
  );

  it('accepts mail over plain SMTP from Python smtplib and advertises the extensions', async () => {
    const res = await python<Array<[number, string]>>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P)
e = s.ehlo('client.example')
out = [r(e)]
out.append(list(s.sendmail('a@remote.example', ['bob@example.com'], b'Subject: plain\\r\\n\\r\\nbody\\r\\n', mail_options=['RET=HDRS', 'ENVID=abc123'], rcpt_options=['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;bob@example.com']).items()))
s.quit()
print(json.dumps(out))`,
      { PORT: t.port('smtp') },
    );
    const ehlo = res[0]![1];
    for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'STARTTLS', 'SIZE 52428800'])
      assert.ok(ehlo.includes(ext), `EHLO lists ${ext}: ${ehlo}`);
    assert.ok(!ehlo.includes('AUTH'), 'no AUTH on port 25');
    assert.deepEqual(res[1], [], 'no refused recipients');
    assert.equal(
      (await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('Subject: plain')).length,
      1,
    );
  });

  it('is not an open relay: the classic tricks are all refused without AUTH', async () => {
    const res = await python<Array<[string, [number, string]]>>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); s.ehlo('evil.example')
out = []
for sender, rcpt in [('a@remote.example', 'victim@other.org'), ('a@remote.example', 'user%other.org@example.com'),
                     ('a@remote.example', 'other.org!user@example.com'), ('a@remote.example', '"user@other.org"@example.com'),
                     ('a@remote.example', '@example.com:user@other.org'), ('', 'victim@other.org'),
                     ('ann@example.com', 'victim@other.org'), ('a@remote.example', 'victim@example.com.other.org'),
                     ('a@remote.example', 'victim@[127.0.0.1]'), ('a@remote.example', 'victim@other.org@example.com')]:
    s.rset(); s.mail(sender)
    out.append([rcpt, r(s.rcpt(rcpt))])
out.append(['AUTH', r(s.docmd('AUTH', 'PLAIN AGFubkBleGFtcGxlLmNvbQBhbm4gcGFzc3dvcmQgMQ=='))])
s.quit()
print(json.dumps(out))`,
      { PORT: t.port('smtp') },
    );
    for (const [rcpt, [code, text]] of res) {
      assert.ok(code >= 500 && code < 600, `${rcpt} must be refused, got ${code} ${text}`);
    }
    assert.match(res[0]![1][1], /^5\.7\.1 Relay access denied/);
    assert.equal(res[0]![1][0], 554);
    assert.equal(res[5]![1][0], 554, 'null sender to a foreign domain');
    assert.equal(
      t.server.store &&
        (await t.server.store.queue.list()).some((q) => q.recipients.some((r) => r.recipient.includes('other.org'))),
      false,
      'nothing queued for other.org',
    );
  });

  it('refuses unknown users with 550 5.1.1 and a full mailbox with 552 5.2.2', async () => {
    const res = await python<Array<[number, string]>>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); s.ehlo('c.example'); s.mail('a@remote.example')
print(json.dumps([r(s.rcpt('nobody@example.com')), r(s.rcpt('full@example.org'))]))`,
      { PORT: t.port('smtp') },
    );
    assert.deepEqual(res[0]!.slice(0, 1), [550]);
    assert.match(res[0]![1], /^5\.1\.1 /);
    assert.equal(res[1]![0], 552);
    assert.match(res[1]![1], /^5\.2\.2 Mailbox full/);
  });

  it('refuses mail loops with 554 5.4.6', async () => {
    const many = Array.from(
      { length: 60 },
      (_, i) => `Received: from hop${i}.example by x; Thu, 1 Jan 2026 00:00:00 +0000\\r\\n`,
    ).join('');
    const res = await python<Array<[number, string]>>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); s.ehlo('c.example')
out = []
for msg in [b'Delivered-To: bob@example.com\\r\\nSubject: loop\\r\\n\\r\\nx\\r\\n', b'${many}Subject: loop\\r\\n\\r\\nx\\r\\n']:
    s.mail('a@remote.example'); s.rcpt('bob@example.com'); s.putcmd('data'); s.getreply(); s.send(msg + b'.\\r\\n'); out.append(r(s.getreply()))
print(json.dumps(out))`,
      { PORT: t.port('smtp') },
    );
    for (const [code, text] of res) {
      assert.equal(code, 554);
      assert.match(text, /^5\.4\.6 /);
    }
  });

  it('answers garbage with 500, a 10 MB line without CRLF with an error, and keeps serving others', async () => {
    const garbage = await python<Array<[number, string]>>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); s.ehlo('c.example')
print(json.dumps([r(s.docmd('XYZZY')), r(s.docmd('\\x01\\x02\\x7f')), r(s.docmd('MAIL', 'FROM:garbage<<')), r(s.docmd('RCPT', 'TO:<a@example.com>'))]))`,
      { PORT: t.port('smtp') },
    );
    assert.equal(garbage[0]![0], 500);
    assert.ok(garbage[2]![0] >= 500, `bad MAIL FROM: ${garbage[2]}`);
    assert.equal(garbage[3]![0], 503, 'RCPT before MAIL is a sequence error (RFC 5321 §4.1.4)');
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(t.port('smtp'), '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.once('data', () => {
        const chunk = Buffer.alloc(1 << 20, 0x41);
        let sent = 0;
        const pump = () => {
          while (sent < 10 && s.write(chunk)) sent++;
          if (sent < 10 && !s.destroyed)
            s.once('drain', () => {
              sent++;
              pump();
            });
        };
        pump();
      });
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      setTimeout(() => s.destroy(), 20_000);
    });
    assert.match(reply, /\r\n(421 4\.4\.2|500 5\.5\.\d) .*too long/, `long line refused: ${reply.slice(-200)}`);
    const ok = await python<[number, string]>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); print(json.dumps(r(s.noop())))`,
      { PORT: t.port('smtp') },
    );
    assert.equal(ok[0], 250, 'others are still served');
  });

  it('refuses a message over the size limit and too many recipients', async () => {
    const res = await python<Array<[number, string]>>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); s.ehlo('c.example')
out = [r(s.docmd('MAIL', 'FROM:<a@remote.example> SIZE=999999999'))]
s.rset(); s.mail('a@remote.example')
codes = [s.rcpt('bob+%d@example.com' % i)[0] for i in range(101)]
out.append([codes.count(250), codes[-1]])
print(json.dumps(out))`,
      { PORT: t.port('smtp') },
    );
    assert.equal(res[0]![0], 552, `declared SIZE over the limit: ${res[0]}`);
    assert.deepEqual(res[1], [100, 452], 'RFC 5321 §4.5.3.1.10: 452 past the limit');
  });
});

describe('submission (587 STARTTLS, 465 TLS)', () => {
  it('delivers locally and queues remote recipients with nodemailer, adding Message-ID and Date', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission'),
      secure: false,
      requireTLS: true,
      auth: { user: 'ann@example.com', pass: PW.ann },
      tls: { rejectUnauthorized: false, servername: 'mail.example.com' },
    });
    const info = await transport.sendMail({
      envelope: { from: 'ann@example.com', to: ['bob@example.com', 'far@remote.example'] },
      raw: 'From: Ann <ann@example.com>\r\nTo: bob@example.com, far@remote.example\r\nSubject: submitted\r\n\r\nhi\r\n',
    });
    assert.deepEqual(info.accepted.sort(), ['bob@example.com', 'far@remote.example']);
    const [m] = (await mailbox(t.server, 'bob@example.com')).filter((x) => x.text.includes('Subject: submitted'));
    assert.ok(m);
    assert.match(
      m.text,
      /with ESMTPSA id \w+\r\n\t\(using TLSv1\.[23] with cipher [\w-]+\)\r\n\t\(Authenticated sender: ann@example.com\);/,
    );
    assert.match(m.text, /\r\nMessage-ID: <[^>]+@mail.example.com>\r\n/);
    assert.match(m.text, /\r\nDate: \w{3}, \d+ \w{3} \d{4} /);
    const queued = (await t.server.store.queue.list()).find((q) =>
      q.recipients.some((r) => r.recipient === 'far@remote.example'),
    );
    assert.ok(queued, 'the remote recipient waits in the queue');
    assert.equal(queued.sender, 'ann@example.com');
    assert.equal(queued.authUser, 'ann@example.com');
    const cli = postern(['--config', t.configFile, 'queue', 'list']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${queued.qid}\\s+ann@example.com\\s+far@remote.example`));
    assert.match(postern(['--config', t.configFile, 'queue', 'show', queued.qid]).stdout, /Subject: submitted/);
  });

  it('enforces sender ownership on 465 (smtplib SMTP_SSL, AUTH LOGIN)', async () => {
    const res = await python<Array<[number, string]>>(
      `${SMTPLIB}
s = smtplib.SMTP_SSL('127.0.0.1', P, context=ctx); s.ehlo('c.example')
s.user, s.password = 'ann@example.com', '${PW.ann}'
out = [r(s.auth('LOGIN', s.auth_login))]
out.append(r(s.mail('sales@example.com'))); s.rset()
out.append(r(s.mail('ann+lists@example.com'))); s.rset()
out.append(r(s.mail('bob@example.com'))); s.rset()
out.append(r(s.mail('ann@remote.example'))); s.rset()
s.mail('ann@example.com'); s.rcpt('bob@example.com'); s.putcmd('data'); s.getreply()
s.send(b'From: Bob <bob@example.com>\\r\\nSubject: forged\\r\\n\\r\\nx\\r\\n.\\r\\n'); out.append(r(s.getreply()))
s.mail('sales@example.com'); s.rcpt('bob@example.com'); s.putcmd('data'); s.getreply()
s.send(b'From: Sales <sales@example.com>\\r\\nSubject: as alias\\r\\n\\r\\nx\\r\\n.\\r\\n'); out.append(r(s.getreply()))
print(json.dumps(out))`,
      { PORT: t.port('submissions') },
    );
    assert.equal(res[0]![0], 235);
    assert.equal(res[1]![0], 250, 'an alias that delivers to ann is hers');
    assert.equal(res[2]![0], 250, 'a plus-address of her own');
    for (const i of [3, 4, 5]) {
      assert.equal(res[i]![0], 553, `refused: ${res[i]}`);
      assert.match(res[i]![1], /^5\.7\.1 /);
    }
    assert.equal(res[6]![0], 250);
  });

  it('requires STARTTLS before AUTH on 587 (AUTH advertised only after it), and AUTH before MAIL', async () => {
    const { out: res, adv } = await python<{ out: Array<[number, string]>; adv: boolean[] }>(
      `${SMTPLIB}
s = smtplib.SMTP('127.0.0.1', P); s.ehlo('c.example')
adv = ['auth' in s.esmtp_features]
out = [r(s.docmd('AUTH', 'PLAIN AGFubkBleGFtcGxlLmNvbQBhbm4gcGFzc3dvcmQgMQ==')), r(s.docmd('MAIL', 'FROM:<ann@example.com>'))]
s.starttls(context=ctx); s.ehlo('c.example')
adv.append('auth' in s.esmtp_features)
out.append(r(s.docmd('MAIL', 'FROM:<ann@example.com>')))
out.append(r(s.docmd('AUTH', 'PLAIN AGFubkBleGFtcGxlLmNvbQBhbm4gcGFzc3dvcmQgMQ==')))
print(json.dumps({'out': out, 'adv': adv}))`,
      { PORT: t.port('submission') },
    );
    assert.deepEqual(adv, [false, true], 'EHLO lists AUTH only after STARTTLS');
    assert.equal(res[0]![0], 538, `AUTH before STARTTLS: ${res[0]}`);
    assert.equal(res[1]![0], 530);
    assert.equal(res[2]![0], 530, 'no MAIL without AUTH');
    assert.equal(res[3]![0], 235, 'AUTH works after STARTTLS');
  });

  it('throttles failed logins and locks out with 454 4.7.0', async () => {
    const s = await startTestServer({
      extraConfig: '[auth]\nfailure_delay = "0s"\nmax_failures = 3\nlockout = "10m"\n',
    });
    await s.server.directory.addDomain('example.com');
    await s.server.directory.addAccount('ann@example.com', PW.ann);
    try {
      const res = await python<Array<[number, string]>>(
        `${SMTPLIB}
s = smtplib.SMTP_SSL('127.0.0.1', P, context=ctx); s.ehlo('c.example')
out = []
for pw in ['wrong1', 'wrong2', 'wrong3', '${PW.ann}']:
    import base64
    out.append(r(s.docmd('AUTH', 'PLAIN ' + base64.b64encode(b'\\0ann@example.com\\0' + pw.encode()).decode())))
print(json.dumps(out))`,
        { PORT: s.port('submissions') },
      );
      assert.deepEqual(
        res.map((x) => x[0]),
        [535, 535, 535, 454],
      );
      assert.match(res[3]![1], /^4\.7\.0 /);
      assert.ok(s.logs.some((l) => l.msg === 'login refused: locked out'));
      assert.ok(!JSON.stringify(s.logs).includes(PW.ann), 'no password in the logs');
    } finally {
      await s.stop();
    }
  });
});

describe('LMTP (port 24)', () => {
  it('answers once per recipient after DATA (Python smtplib.LMTP)', async () => {
    // smtplib's LMTP.sendmail reads one DATA reply only; RFC 2033 §4.2 gives one per recipient: read them all.
    const res = await python<Array<[number, string]>>(
      `${SMTPLIB}
l = smtplib.LMTP('127.0.0.1', P)
l.ehlo('postfix.example')
l.mail('a@remote.example')
for rcpt in ['bob@example.com', 'small@example.org', 'cy@example.org']: l.rcpt(rcpt)
l.putcmd('data'); l.getreply()
l.send(b'Subject: lmtp\\r\\n\\r\\n' + b'x' * 4000 + b'\\r\\n.\\r\\n')
print(json.dumps([r(l.getreply()) for i in range(3)]))`,
      { PORT: t.port('lmtp') },
    );
    assert.deepEqual(
      res.map((x) => x[0]),
      [250, 552, 250],
      JSON.stringify(res),
    );
    assert.match(res[1]![1], /^5\.2\.2 /);
    assert.equal(
      (await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('Subject: lmtp')).length,
      1,
    );
    const [cy] = (await mailbox(t.server, 'cy@example.org')).filter((m) => m.text.includes('Subject: lmtp'));
    assert.match(cy!.text, /by mail.example.com \(Postern\) with LMTP id/);
    assert.equal((await mailbox(t.server, 'small@example.org')).length, 0);
  });
});

describe('SMTP TLS, limits and timeouts', () => {
  it(
    'serves each domain its certificate by SNI after STARTTLS (openssl s_client -starttls smtp)',
    { skip: peer('openssl', 'openssl') },
    async () => {
      for (const [name, expect] of [
        ['mail.example.org', 'mail.example.org'],
        ['mail.example.com', 'mail.example.com'],
        ['unknown.example', 'mail.example.com'],
      ]) {
        const r = await run(
          'openssl',
          ['s_client', '-connect', `127.0.0.1:${t.port('smtp')}`, '-starttls', 'smtp', '-servername', name!],
          { input: 'QUIT\r\n', timeoutMs: 15_000 },
        );
        assert.match(
          r.stdout,
          new RegExp(`subject=CN ?= ?${expect!.replace(/\./g, '\\.')}`),
          `${name}: ${r.stdout.slice(0, 300)}`,
        );
      }
      const implicit = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${t.port('submissions')}`, '-servername', 'mail.example.org'],
        { input: 'QUIT\r\n', timeoutMs: 15_000 },
      );
      assert.match(implicit.stdout, /subject=CN ?= ?mail\.example\.org/);
    },
  );

  it('submits over implicit TLS with AUTH PLAIN (swaks on 465)', { skip: peer('swaks', 'swaks') }, async () => {
    const r = await run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(t.port('submissions')),
      '--tlsc',
      '--auth',
      'PLAIN',
      '--auth-user',
      'bob@example.com',
      '--auth-password',
      PW.bob,
      '--from',
      'bob@example.com',
      '--to',
      'ann@example.com',
      '--header',
      'Subject: swaks 465',
      '--body',
      'via 465',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /235 2.7.0 Authentication successful/);
    const [m] = (await mailbox(t.server, 'ann@example.com')).filter((x) => x.text.includes('Subject: swaks 465'));
    assert.match(m!.text, /with ESMTPSA id/);
  });

  it('refuses connections over the per-IP limit with 421 4.7.0 and closes idle sessions', async () => {
    const s = await startTestServer({
      extraConfig: '[limits]\nmax_connections_per_ip = 2\nmax_message_size = "64KB"\n[smtp]\nidle_timeout = "1s"\n',
    });
    try {
      const greet = (port: number) =>
        new Promise<{ text: string; closedAfterMs: number }>((resolve) => {
          const started = Date.now();
          const c = net.connect(port, '127.0.0.1');
          let text = '';
          c.on('data', (d) => (text += d.toString()));
          c.on('error', () => {});
          c.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
          setTimeout(() => c.destroy(), 10_000);
        });
      const [a, b, c] = [greet(s.port('smtp')), greet(s.port('smtp')), greet(s.port('smtp'))];
      const results = await Promise.all([a, b, c]);
      const busy = results.filter((r) => r.text.startsWith('421 4.7.0'));
      const served = results.filter((r) => r.text.startsWith('220 '));
      assert.equal(busy.length, 1, JSON.stringify(results));
      assert.equal(served.length, 2);
      for (const r of served) assert.match(r.text, /\r\n421 .*[Tt]imeout/, 'idle sessions are told and closed');
      await s.server.directory.addDomain('example.com');
      await s.server.directory.addAccount('bob@example.com', PW.bob);
      const big = await python<Array<[number, string]>>(
        `${SMTPLIB}
c = smtplib.SMTP('127.0.0.1', P); c.ehlo('c.example')
out = [r(c.ehlo('c.example'))]
c.mail('a@remote.example'); c.rcpt('bob@example.com'); c.putcmd('data'); c.getreply()
c.send(b'Subject: big\\r\\n\\r\\n' + (b'y' * 998 + b'\\r\\n') * 100 + b'.\\r\\n'); out.append(r(c.getreply()))
out.append(r(c.noop()))
print(json.dumps(out))`,
        { PORT: s.port('smtp') },
      );
      assert.match(big[0]![1], /SIZE 65536/, 'SIZE advertises the configured limit');
      assert.equal(big[1]![0], 552, `oversized DATA: ${big[1]}`);
      assert.match(big[1]![1], /^5\.3\.4 /);
      assert.equal(big[2]![0], 250, 'the session goes on');
      assert.equal((await mailbox(s.server, 'bob@example.com')).length, 0);
    } finally {
      await s.stop();
    }
  });

  it('answers a message being stored at shutdown with its 250 before the 421, so the client does not send it again', async () => {
    const s = await startTestServer({ listeners: ['smtp'] });
    let stopping: Promise<void> | undefined;
    try {
      await s.server.directory.addDomain('example.com');
      await s.server.directory.addAccount('bob@example.com', PW.bob);
      // Storing takes a while; the shutdown comes in the middle of it.
      const apply = s.server.delivery.apply.bind(s.server.delivery);
      let storing: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (storing = resolve));
      s.server.delivery.apply = async (...args: Parameters<typeof apply>) => {
        storing();
        await new Promise((r) => setTimeout(r, 500));
        return apply(...args);
      };
      const c = net.connect(s.port('smtp'), '127.0.0.1');
      let text = '';
      c.on('data', (d) => (text += d.toString()));
      const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
      for (const end = Date.now() + 5000; !text.includes('220 ') && Date.now() < end;)
        await new Promise((r) => setTimeout(r, 10));
      c.write('EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n');
      for (const end = Date.now() + 5000; !text.includes('354 ') && Date.now() < end;)
        await new Promise((r) => setTimeout(r, 10));
      c.write('From: a@remote.example\r\nSubject: at shutdown\r\n\r\nbody\r\n.\r\n');
      await Promise.race([
        started,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`not stored: ${text}`)), 10_000)),
      ]);
      stopping = s.server.stop(10_000);
      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`not closed: ${text}`)), 15_000)),
      ]);
      const replies = text
        .split('\r\n')
        .filter((l) => /^\d{3} /.test(l))
        .slice(-2);
      assert.match(replies[0]!, /^250 2\.0\.0 /, text);
      assert.match(replies[1]!, /^421 /);
    } finally {
      if (stopping) {
        await stopping;
        await s.dns.close();
      } else await s.stop();
    }
  });
});
