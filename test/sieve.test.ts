/**
 * Sieve at delivery: scripts filed through the script service (ManageSieve's own tests upload with
 * sieve-connect), mail sent with swaks and the raw SMTP/LMTP client, results read back with Python's
 * imaplib and from the store; vacation replies and reject notices DKIM-signed, redirects SRS'd and
 * ARC-sealed so that the next hop verifies them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from 'mailauth';
import { createResolver } from '../src/mail/dns/resolver.js';
import { peer } from './helpers/peers.js';
import { python, run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

let t: TestServer;
const PW = 'sieve password 1';

async function script(address: string, text: string): Promise<void> {
  const account = await t.server.store.accounts.get(address);
  await t.server.sieve.put(account!.id, 'rules', text);
  await t.server.sieve.setActive(account!.id, 'rules');
}

async function send(from: string, to: string[], content: string, port = t.port('smtp')): Promise<string> {
  const c = await RawSmtp.connect(port, 'client.example');
  try {
    return await c.send(from, to, content);
  } catch (err) {
    return (err as Error).message;
  } finally {
    c.close();
  }
}

async function queued(
  predicate: (q: Awaited<ReturnType<TestServer['server']['store']['queue']['list']>>[number]) => boolean,
) {
  const entries = (await t.server.store.queue.list()).filter(predicate);
  return Promise.all(
    entries.map(async (e) => ({ entry: e, content: (await t.server.store.blobs.get(e.blobHash)).toString('utf8') })),
  );
}

/** The DKIM keys of example.com, published in the test DNS server so verifiers find them. */
async function publishKeys(): Promise<void> {
  for (const k of await t.server.dkim.list('example.com')) {
    const value = `v=DKIM1; k=${k.algorithm === 'ed25519' ? 'ed25519' : 'rsa'}; p=${k.publicKey}`;
    const parts: string[] = [];
    for (let i = 0; i < value.length; i += 255) parts.push(value.slice(i, i + 255));
    t.dns.set(`${k.selector}._domainkey.example.com`, { TXT: [parts] });
  }
  t.dns.set('example.com', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  t.dns.set('sender.example', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
}

before(async () => {
  t = await startTestServer({
    listeners: ['smtp', 'lmtp', 'imap'],
    extraConfig: '[authentication]\nreject_dmarc_failures = false\n',
  });
  await t.server.directory.addDomain('example.com');
  for (const user of ['ann', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal', 'ivy', 'jon'])
    await t.server.directory.addAccount(`${user}@example.com`, PW);
  await publishKeys();
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('sieve at delivery', () => {
  it(
    'files into folders with flags, creates folders with :create, falls back to INBOX (swaks, then imaplib)',
    { skip: peer('swaks', 'swaks') },
    async () => {
      await t.server.mailboxes.create((await t.server.store.accounts.get('ann@example.com'))!.id, 'Work');
      await script(
        'ann@example.com',
        `require ["fileinto", "imap4flags", "mailbox", "variables"];
      if header :contains "subject" "report" { addflag "\\\\Flagged"; fileinto "Work"; }
      elsif header :matches "list-id" "*<*.lists.example>*" { fileinto :create "Lists/\${2}"; }
      elsif header :is "subject" "missing" { fileinto "Nowhere"; }
      elsif header :is "subject" "drop me" { discard; }`,
      );
      const swaks = (subject: string, extra: string[] = []) =>
        run('swaks', [
          '--server',
          '127.0.0.1',
          '--port',
          String(t.port('smtp')),
          '--ehlo',
          'client.example',
          '--from',
          'x@sender.example',
          '--to',
          'ann@example.com',
          '--header',
          `Subject: ${subject}`,
          ...extra,
          '--body',
          'sieve test',
        ]);
      for (const [subject, extra] of [
        ['quarterly report', []],
        ['digest', ['--add-header', 'List-Id: Rust users <rust.lists.example>']],
        ['missing', []],
        ['drop me', []],
        ['plain', []],
      ] as const) {
        const r = await swaks(subject, [...extra]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      const seen = await python<Record<string, string[]>>(
        `
import imaplib, json, os, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4('127.0.0.1', int(os.environ['PORT']))
m.starttls(ssl_context=ctx)
m.login('ann@example.com', os.environ['PW'])
out = {}
for box in ['INBOX', 'Work', 'Lists/rust']:
    typ, _ = m.select('"%s"' % box, readonly=True)
    if typ != 'OK':
        out[box] = ['missing']
        continue
    typ, data = m.fetch('1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    out[box] = [(p[1].decode().strip() + ' ' + p[0].decode().split('FLAGS ')[1].split(')')[0] + ')') for p in data if isinstance(p, tuple)]
m.logout()
print(json.dumps(out))
`,
        { PORT: t.port('imap'), PW },
      );
      assert.deepEqual(seen.Work, ['Subject: quarterly report (\\Flagged \\Recent)']);
      assert.deepEqual(seen['Lists/rust'], ['Subject: digest (\\Recent)']);
      assert.deepEqual(
        seen.INBOX,
        ['Subject: missing (\\Recent)', 'Subject: plain (\\Recent)'],
        'fileinto a missing folder keeps in INBOX; discard stores nothing',
      );
    },
  );

  it('reject: 550 for one recipient over SMTP, per recipient over LMTP, a signed notice when the others take it', async () => {
    await script(
      'bob@example.com',
      'require "reject"; if header :contains "subject" "offer" { reject "I do not want offers."; }',
    );
    assert.match(
      await send(
        'x@sender.example',
        ['bob@example.com'],
        'From: x@sender.example\r\nTo: bob@example.com\r\nSubject: special offer\r\n\r\nbuy\r\n',
      ),
      /550 5\.7\.1 .*I do not want offers\./,
    );

    // LMTP (RFC 2033 §4.2): one reply per recipient after DATA.
    const replies = await lmtp(
      'x@sender.example',
      ['bob@example.com', 'cat@example.com'],
      'From: x@sender.example\r\nSubject: offer for two\r\n\r\nbuy',
    );
    assert.match(replies[0]!, /^550 5\.7\.1 .*I do not want offers/, 'bob refused');
    assert.match(replies[1]!, /^250 /, 'cat delivered');
    assert.equal(
      (await mailbox(t.server, 'cat@example.com')).filter((m) => m.text.includes('offer for two')).length,
      1,
    );
    assert.equal((await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('offer')).length, 0);

    // Over SMTP with a second recipient the message is accepted; the sender (local here) gets an MDN.
    assert.match(
      await send(
        'dan@example.com',
        ['bob@example.com', 'cat@example.com'],
        'From: dan@example.com\r\nTo: bob@example.com\r\nMessage-ID: <offer3@example.com>\r\nSubject: offer three\r\n\r\nbuy\r\n',
      ),
      /^250 /,
    );
    const notice = (await mailbox(t.server, 'dan@example.com')).find((m) => m.text.includes('Rejected: offer three'));
    assert.ok(notice, 'the sender got a reject notice');
    assert.match(notice.text, /^Return-Path: <>/);
    assert.match(notice.text, /report-type=disposition-notification/);
    assert.match(notice.text, /Disposition: automatic-action\/MDN-sent-automatically; deleted/);
    assert.match(notice.text, /I do not want offers\./);
    assert.match(notice.text, /^DKIM-Signature: .*d=example\.com/m);
  });

  it('vacation: one DKIM-signed reply per sender within :days, none to lists, robots or Bcc copies', async () => {
    await script('cat@example.com', 'require "vacation"; vacation :days 3 :subject "Out of office" "Back on Monday.";');
    const from = (addr: string, subject: string, extra = '', to = 'cat@example.com') =>
      send(
        addr,
        [to === 'bcc' ? 'cat@example.com' : to],
        `From: ${addr}\r\nTo: ${to === 'bcc' ? 'someone@else.example' : to}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.example>\r\nSubject: ${subject}\r\n${extra}\r\nhello\r\n`,
      );
    assert.match(await from('pat@sender.example', 'first'), /^250 /);
    assert.match(await from('pat@sender.example', 'second'), /^250 /);
    assert.match(await from('list@sender.example', 'list mail', 'List-Id: <news.sender.example>\r\n'), /^250 /);
    assert.match(await from('mailer-daemon@sender.example', 'robot'), /^250 /);
    assert.match(await from('auto@sender.example', 'auto', 'Auto-Submitted: auto-replied\r\n'), /^250 /);
    assert.match(await from('hidden@sender.example', 'bcc copy', '', 'bcc'), /^250 /);
    const replies = await queued(
      (q) => q.sender === '' && q.recipients.some((r) => r.recipient.endsWith('@sender.example')),
    );
    assert.deepEqual(
      replies.map((r) => r.entry.recipients[0]!.recipient),
      ['pat@sender.example'],
      'one reply, to the first sender only',
    );
    const reply = replies[0]!.content;
    assert.match(reply, /^Subject: Out of office\r$/m);
    assert.match(reply, /^In-Reply-To: <first@sender\.example>\r$/m);
    assert.match(reply, /^Auto-Submitted: auto-replied/m);
    assert.match(reply, /Back on Monday\./);
    const verified = await authenticate(reply, {
      ip: '127.0.0.1',
      helo: 'mail.example.com',
      sender: 'cat@example.com',
      mta: 'mx.sender.example',
      resolver: createResolver([t.dns.address]),
    });
    assert.equal(verified.dkim.results[0]?.status.result, 'pass', JSON.stringify(verified.dkim.results[0]?.status));
    const kept = (await mailbox(t.server, 'cat@example.com')).map((m) => /^Subject: (.*)\r$/m.exec(m.text)?.[1]);
    for (const subject of ['first', 'second', 'list mail', 'robot', 'auto', 'bcc copy'])
      assert.equal(kept.filter((k) => k === subject).length, 1, `vacation keeps "${subject}"`);
  });

  it('redirect: SRS sender and an ARC seal the next hop verifies; local redirects and :copy', async () => {
    await script(
      'dan@example.com',
      'require "copy"; redirect "friend@elsewhere.example"; redirect :copy "eve@example.com";',
    );
    assert.match(
      await send(
        'x@sender.example',
        ['dan@example.com'],
        'From: x@sender.example\r\nTo: dan@example.com\r\nSubject: redirect me\r\n\r\nfor a friend\r\n',
      ),
      /^250 /,
    );
    const [out] = await queued((q) => q.recipients.some((r) => r.recipient === 'friend@elsewhere.example'));
    assert.ok(out, 'queued for the external address');
    assert.match(out.entry.sender, /^SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=sender\.example=x@example\.com$/);
    assert.match(out.content, /^ARC-Seal: i=1; .*d=example\.com/m);
    const next = await authenticate(out.content, {
      ip: '127.0.0.1',
      helo: 'mail.example.com',
      sender: out.entry.sender,
      mta: 'mx.elsewhere.example',
      resolver: createResolver([t.dns.address]),
    });
    assert.equal(
      (next.arc as { status: { result: string } }).status.result,
      'pass',
      JSON.stringify(next.arc).slice(0, 400),
    );
    assert.equal(
      (await mailbox(t.server, 'eve@example.com')).filter((m) => m.text.includes('redirect me')).length,
      1,
      'redirected to a local account',
    );
    assert.equal(
      (await mailbox(t.server, 'dan@example.com')).filter((m) => m.text.includes('redirect me')).length,
      0,
      'redirect without :copy keeps no copy',
    );
  });

  it('a run-time error keeps the message in INBOX', async () => {
    await script(
      'eve@example.com',
      'redirect "a@elsewhere.example"; redirect "b@elsewhere.example"; redirect "c@elsewhere.example"; redirect "d@elsewhere.example"; redirect "e@elsewhere.example";',
    );
    assert.match(
      await send(
        'x@sender.example',
        ['eve@example.com'],
        'From: x@sender.example\r\nSubject: too many redirects\r\n\r\nx\r\n',
      ),
      /^250 /,
    );
    assert.equal(
      (await mailbox(t.server, 'eve@example.com')).filter((m) => m.text.includes('too many redirects')).length,
      1,
    );
    assert.equal((await queued((q) => q.recipients.some((r) => r.recipient === 'a@elsewhere.example'))).length, 0);
    assert.ok(t.logs.some((l) => l.msg === 'sieve run-time error; keeping mail in INBOX'));
  });
});

/** Raw LMTP transcript: the replies after DATA, one per recipient (RFC 2033 §4.2); smtplib.LMTP reads only the first. */
async function lmtp(from: string, to: string[], content: string): Promise<string[]> {
  return python<string[]>(
    `
import socket, json, os
s = socket.create_connection(('127.0.0.1', int(os.environ['PORT'])))
f = s.makefile('rb')
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line.strip())
        if line[3:4] != '-':
            return ' '.join(lines)
reply()
for cmd in ['LHLO client.example', 'MAIL FROM:<' + os.environ['FROM'] + '>'] + ['RCPT TO:<%s>' % r for r in json.loads(os.environ['TO'])] + ['DATA']:
    s.sendall((cmd + '\\r\\n').encode()); reply()
s.sendall(os.environ['CONTENT'].encode() + b'\\r\\n.\\r\\n')
out = [reply() for _ in json.loads(os.environ['TO'])]
s.sendall(b'QUIT\\r\\n'); reply()
print(json.dumps(out))
`,
    { PORT: t.port('lmtp'), FROM: from, TO: JSON.stringify(to), CONTENT: content },
  );
}

describe('sieve at delivery: edge cases', () => {
  it('sends the reject notice and the vacation reply even when nothing is stored', async () => {
    await script('fay@example.com', 'require ["reject"]; reject "not here";');
    // Two recipients (the same account twice): no protocol refusal, so the sender is told by mail.
    assert.match(
      await send(
        'x@sender.example',
        ['fay@example.com', 'fay+tag@example.com'],
        'From: x@sender.example\r\nTo: fay@example.com\r\nSubject: nothing kept\r\n\r\nx\r\n',
      ),
      /^250 /,
    );
    const notices = (
      await queued((q) => q.sender === '' && q.recipients.some((r) => r.recipient === 'x@sender.example'))
    ).filter((n) => n.content.includes('Rejected: nothing kept'));
    assert.equal(notices.length, 1, 'the reject notice is queued');
    assert.equal((await mailbox(t.server, 'fay@example.com')).length, 0);

    await script('fay@example.com', 'require ["vacation"]; vacation "away"; discard;');
    assert.match(
      await send(
        'y@sender.example',
        ['fay@example.com'],
        'From: y@sender.example\r\nTo: fay@example.com\r\nSubject: discarded\r\n\r\nx\r\n',
      ),
      /^250 /,
    );
    assert.equal(
      (await queued((q) => q.sender === '' && q.recipients.some((r) => r.recipient === 'y@sender.example'))).length,
      1,
      'the vacation reply is queued',
    );
  });

  it("a protocol refusal removes only the refusing recipient's share (LMTP)", async () => {
    await t.server.directory.addAlias('crew@example.com', ['gus@example.com', 'hal@example.com']);
    await script(
      'hal@example.com',
      'require ["reject", "copy"]; redirect :copy "friend@elsewhere.example"; reject "hal refuses";',
    );
    await script('gus@example.com', 'keep;');
    const replies = await lmtp(
      'x@sender.example',
      ['gus@example.com', 'crew@example.com'],
      'From: x@sender.example\r\nSubject: crew mail\r\n\r\nhello',
    );
    // hal's reject after a redirect is a run-time error (RFC 5429 §2.1): the message is kept for hal too.
    assert.match(replies[0]!, /^250 /);
    assert.match(replies[1]!, /^250 /);
    assert.equal((await mailbox(t.server, 'hal@example.com')).filter((m) => m.text.includes('crew mail')).length, 1);
    assert.equal(
      (
        await queued(
          (q) =>
            q.recipients.some((r) => r.recipient === 'friend@elsewhere.example') && q.sender.includes('sender.example'),
        )
      ).length,
      0,
      'no redirect after the error',
    );

    await script('hal@example.com', 'require "reject"; reject "hal refuses";');
    const second = await lmtp(
      'x@sender.example',
      ['gus@example.com', 'crew@example.com'],
      'From: x@sender.example\r\nSubject: crew mail 2\r\n\r\nhello',
    );
    assert.match(second[0]!, /^250 /, 'gus');
    assert.match(second[1]!, /^550 5\.7\.1 .*hal refuses/, 'crew: hal refuses');
    assert.equal(
      (await mailbox(t.server, 'gus@example.com')).filter((m) => m.text.includes('crew mail 2')).length,
      1,
      'gus keeps his copy',
    );
    assert.equal((await mailbox(t.server, 'hal@example.com')).filter((m) => m.text.includes('crew mail 2')).length, 0);
  });

  it('a redirect to an address of the same account stores the message once', async () => {
    await t.server.directory.addAlias('ivy.smith@example.com', ['ivy@example.com']);
    await script('ivy@example.com', 'redirect "ivy.smith@example.com";');
    assert.match(
      await send('x@sender.example', ['ivy@example.com'], 'From: x@sender.example\r\nSubject: to myself\r\n\r\nx\r\n'),
      /^250 /,
    );
    assert.equal((await mailbox(t.server, 'ivy@example.com')).filter((m) => m.text.includes('to myself')).length, 1);

    // The same message (Message-ID) twice: redirected once, as Pigeonhole's duplicate check does.
    await script('ivy@example.com', 'redirect "pal@elsewhere.example";');
    for (let i = 0; i < 2; i++)
      assert.match(
        await send(
          'x@sender.example',
          ['ivy@example.com'],
          'From: x@sender.example\r\nMessage-ID: <loop-1@sender.example>\r\nSubject: around\r\n\r\nx\r\n',
        ),
        /^250 /,
      );
    // (The queue runner may already have sent or bounced the first copy: the log says what was queued.)
    assert.deepEqual(
      t.logs
        .filter((l) => l.msg === 'sieve redirect of this message already done today: not repeated')
        .map((l) => l.redirect),
      ['pal@elsewhere.example'],
    );
    assert.equal(
      t.logs.filter(
        (l) => l.msg === 'sieve' && String(l.to) === 'ivy@example.com' && JSON.stringify(l.actions) === '["redirect"]',
      ).length,
      3,
      'the script ran each time',
    );
  });

  it('vacation :from and :mime cannot forge headers; flags made from message text are checked', async () => {
    await script(
      'jon@example.com',
      `require ["vacation", "imap4flags", "variables"];
      if header :matches "x-label" "*" { addflag "\${1}"; addflag "$Ok"; }
      vacation :from "ceo@bank.example\r\nSender: <jon@example.com>" :mime text:
From: ceo@bank.example
Bcc: victim@elsewhere.example
Content-Type: text/plain; charset=us-ascii

Away.
.
;`,
    );
    assert.match(
      await send(
        'z@sender.example',
        ['jon@example.com'],
        'From: z@sender.example\r\nTo: jon@example.com\r\nX-Label: a)\\Seen{12}\r\nSubject: forge\r\n\r\nx\r\n',
      ),
      /^250 /,
    );
    const [reply] = await queued(
      (q) => q.sender === '' && q.recipients.some((r) => r.recipient === 'z@sender.example'),
    );
    assert.ok(reply);
    const head = reply.content.slice(0, reply.content.indexOf('\r\n\r\n'));
    assert.deepEqual(head.match(/^From: .*$/gm), ['From: <jon@example.com>'], head);
    assert.doesNotMatch(head, /^(Sender|Bcc):/m);
    assert.match(head, /^Content-Type: text\/plain; charset=us-ascii(\r|$)/m);
    const account = (await t.server.store.accounts.get('jon@example.com'))!;
    const inbox = (await t.server.store.mailboxes.get(account.id, 'INBOX'))!;
    const [stored] = await t.server.store.messages.list(inbox.id);
    assert.deepEqual(stored!.flags, ['$Ok'], 'the label is not a valid flag and is dropped');
  });

  it('a script that needs too much work for a message keeps it in INBOX', async () => {
    // Each position of the value is compared with the 300 characters after the "*": 300 × 1 MiB steps.
    await script(
      'jon@example.com',
      `require ["body", "fileinto"]; if body :raw :matches "*${'a'.repeat(300)}b" { fileinto "Never"; }`,
    );
    const big = 'a'.repeat(1 << 20); // a near miss at every position
    assert.match(
      await send(
        'x@sender.example',
        ['jon@example.com'],
        `From: x@sender.example\r\nSubject: costly\r\n\r\n${big}\r\n`,
      ),
      /^250 /,
    );
    assert.equal(
      (await mailbox(t.server, 'jon@example.com')).filter((m) => m.text.includes('Subject: costly')).length,
      1,
    );
    assert.ok(
      t.logs.some(
        (l) => l.msg === 'sieve run-time error; keeping mail in INBOX' && String(l.err).includes('too much work'),
      ),
    );
  });
});
