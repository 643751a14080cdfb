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

async function queued(predicate: (q: Awaited<ReturnType<TestServer['server']['store']['queue']['list']>>[number]) => boolean) {
  const entries = (await t.server.store.queue.list()).filter(predicate);
  return Promise.all(entries.map(async (e) => ({ entry: e, content: (await t.server.store.blobs.get(e.blobHash)).toString('utf8') })));
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
  t = await startTestServer({ listeners: ['smtp', 'lmtp', 'imap'], extraConfig: '[authentication]\nreject_dmarc_failures = false\n' });
  await t.server.directory.addDomain('example.com');
  for (const user of ['ann', 'bob', 'cat', 'dan', 'eve']) await t.server.directory.addAccount(`${user}@example.com`, PW);
  await publishKeys();
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('sieve at delivery', () => {
  it('files into folders with flags, creates folders with :create, falls back to INBOX (swaks, then imaplib)', { skip: peer('swaks', 'swaks') }, async () => {
    await t.server.mailboxes.create((await t.server.store.accounts.get('ann@example.com'))!.id, 'Work');
    await script('ann@example.com', `require ["fileinto", "imap4flags", "mailbox", "variables"];
      if header :contains "subject" "report" { addflag "\\\\Flagged"; fileinto "Work"; }
      elsif header :matches "list-id" "*<*.lists.example>*" { fileinto :create "Lists/\${2}"; }
      elsif header :is "subject" "missing" { fileinto "Nowhere"; }
      elsif header :is "subject" "drop me" { discard; }`);
    const swaks = (subject: string, extra: string[] = []) =>
      run('swaks', ['--server', '127.0.0.1', '--port', String(t.port('smtp')), '--ehlo', 'client.example', '--from', 'x@sender.example', '--to', 'ann@example.com', '--header', `Subject: ${subject}`, ...extra, '--body', 'sieve test']);
    for (const [subject, extra] of [['quarterly report', []], ['digest', ['--add-header', 'List-Id: Rust users <rust.lists.example>']], ['missing', []], ['drop me', []], ['plain', []]] as const) {
      const r = await swaks(subject, [...extra]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const seen = await python<Record<string, string[]>>(`
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
`, { PORT: t.port('imap'), PW });
    assert.deepEqual(seen.Work, ['Subject: quarterly report (\\Flagged)']);
    assert.deepEqual(seen['Lists/rust'], ['Subject: digest ()']);
    assert.deepEqual(seen.INBOX, ['Subject: missing ()', 'Subject: plain ()'], 'fileinto a missing folder keeps in INBOX; discard stores nothing');
  });

  it('reject: 550 for one recipient over SMTP, per recipient over LMTP, a signed notice when the others take it', async () => {
    await script('bob@example.com', 'require "reject"; if header :contains "subject" "offer" { reject "I do not want offers."; }');
    assert.match(await send('x@sender.example', ['bob@example.com'], 'From: x@sender.example\r\nTo: bob@example.com\r\nSubject: special offer\r\n\r\nbuy\r\n'), /550 5\.7\.1 .*I do not want offers\./);

    // LMTP (RFC 2033 §4.2): one reply per recipient after DATA. smtplib.LMTP reads only the first, so raw.
    const replies = await python<string[]>(`
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
out = []
for cmd in ['LHLO client.example', 'MAIL FROM:<x@sender.example>', 'RCPT TO:<bob@example.com>', 'RCPT TO:<cat@example.com>', 'DATA']:
    s.sendall((cmd + '\\r\\n').encode()); reply()
s.sendall(b'From: x@sender.example\\r\\nSubject: offer for two\\r\\n\\r\\nbuy\\r\\n.\\r\\n')
out = [reply(), reply()]
s.sendall(b'QUIT\\r\\n'); reply()
print(json.dumps(out))
`, { PORT: t.port('lmtp') });
    assert.match(replies[0]!, /^550 5\.7\.1 .*I do not want offers/, 'bob refused');
    assert.match(replies[1]!, /^250 /, 'cat delivered');
    assert.equal((await mailbox(t.server, 'cat@example.com')).filter((m) => m.text.includes('offer for two')).length, 1);
    assert.equal((await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('offer')).length, 0);

    // Over SMTP with a second recipient the message is accepted; the sender (local here) gets an MDN.
    assert.match(await send('dan@example.com', ['bob@example.com', 'cat@example.com'], 'From: dan@example.com\r\nTo: bob@example.com\r\nMessage-ID: <offer3@example.com>\r\nSubject: offer three\r\n\r\nbuy\r\n'), /^250 /);
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
    const from = (addr: string, subject: string, extra = '', to = 'cat@example.com') => send(addr, [to === 'bcc' ? 'cat@example.com' : to], `From: ${addr}\r\nTo: ${to === 'bcc' ? 'someone@else.example' : to}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.example>\r\nSubject: ${subject}\r\n${extra}\r\nhello\r\n`);
    assert.match(await from('pat@sender.example', 'first'), /^250 /);
    assert.match(await from('pat@sender.example', 'second'), /^250 /);
    assert.match(await from('list@sender.example', 'list mail', 'List-Id: <news.sender.example>\r\n'), /^250 /);
    assert.match(await from('mailer-daemon@sender.example', 'robot'), /^250 /);
    assert.match(await from('auto@sender.example', 'auto', 'Auto-Submitted: auto-replied\r\n'), /^250 /);
    assert.match(await from('hidden@sender.example', 'bcc copy', '', 'bcc'), /^250 /);
    const replies = await queued((q) => q.sender === '' && q.recipients.some((r) => r.recipient.endsWith('@sender.example')));
    assert.deepEqual(replies.map((r) => r.entry.recipients[0]!.recipient), ['pat@sender.example'], 'one reply, to the first sender only');
    const reply = replies[0]!.content;
    assert.match(reply, /^Subject: Out of office\r$/m);
    assert.match(reply, /^In-Reply-To: <first@sender\.example>\r$/m);
    assert.match(reply, /^Auto-Submitted: auto-replied/m);
    assert.match(reply, /Back on Monday\./);
    const verified = await authenticate(reply, { ip: '127.0.0.1', helo: 'mail.example.com', sender: 'cat@example.com', mta: 'mx.sender.example', resolver: createResolver([t.dns.address]) });
    assert.equal(verified.dkim.results[0]?.status.result, 'pass', JSON.stringify(verified.dkim.results[0]?.status));
    assert.equal((await mailbox(t.server, 'cat@example.com')).length >= 6, true, 'vacation keeps every message');
  });

  it('redirect: SRS sender and an ARC seal the next hop verifies; local redirects and :copy', async () => {
    await script('dan@example.com', 'require "copy"; redirect "friend@elsewhere.example"; redirect :copy "eve@example.com";');
    assert.match(await send('x@sender.example', ['dan@example.com'], 'From: x@sender.example\r\nTo: dan@example.com\r\nSubject: redirect me\r\n\r\nfor a friend\r\n'), /^250 /);
    const [out] = await queued((q) => q.recipients.some((r) => r.recipient === 'friend@elsewhere.example'));
    assert.ok(out, 'queued for the external address');
    assert.match(out.entry.sender, /^SRS0=[^=]{4}=[A-Z2-7]{2}=sender\.example=x@example\.com$/);
    assert.match(out.content, /^ARC-Seal: i=1; .*d=example\.com/m);
    const next = await authenticate(out.content, { ip: '127.0.0.1', helo: 'mail.example.com', sender: out.entry.sender, mta: 'mx.elsewhere.example', resolver: createResolver([t.dns.address]) });
    assert.equal((next.arc as { status: { result: string } }).status.result, 'pass', JSON.stringify(next.arc).slice(0, 400));
    assert.equal((await mailbox(t.server, 'eve@example.com')).filter((m) => m.text.includes('redirect me')).length, 1, 'redirected to a local account');
    assert.equal((await mailbox(t.server, 'dan@example.com')).filter((m) => m.text.includes('redirect me')).length, 0, 'redirect without :copy keeps no copy');
  });

  it('a run-time error keeps the message in INBOX', async () => {
    await script('eve@example.com', 'redirect "a@elsewhere.example"; redirect "b@elsewhere.example"; redirect "c@elsewhere.example"; redirect "d@elsewhere.example"; redirect "e@elsewhere.example";');
    assert.match(await send('x@sender.example', ['eve@example.com'], 'From: x@sender.example\r\nSubject: too many redirects\r\n\r\nx\r\n'), /^250 /);
    assert.equal((await mailbox(t.server, 'eve@example.com')).filter((m) => m.text.includes('too many redirects')).length, 1);
    assert.equal((await queued((q) => q.recipients.some((r) => r.recipient === 'a@elsewhere.example'))).length, 0);
    assert.ok(t.logs.some((l) => l.msg === 'sieve run-time error; keeping mail in INBOX'));
  });
});
