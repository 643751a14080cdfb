/**
 * Sieve spamtest and virustest (RFC 5235) end to end: scripts uploaded with sieve-connect over
 * ManageSieve (which advertises the extensions), mail sent on port 25 with swaks and scored by the
 * content filter with its built-in rules (weights set in [filter] scores so a message lands where the
 * test needs it), clamd from Debian started by the test for virustest, folders read back with
 * Python's imaplib. Also: a script that requires spamtest takes over spam handling, so its keep files
 * filtered mail to INBOX, while an account whose script does not keeps getting it in Junk.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startClamd, type Daemon } from './helpers/engines.js';
import { peer } from './helpers/peers.js';
import { sieveConnect as runSieveConnect } from './helpers/sieve-connect.js';
import { python } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

const PW = 'spamtest password 1';
const skip = peer('swaks', 'swaks') || peer('sieve-connect', 'sieve-connect');
const hasClamd = !peer('clamd', 'clamav-daemon');

/**
 * Weights that place messages: junk at 50, so a message without Date (30) reads spamtest 6 and one
 * without Date and Message-ID (55) is filed to Junk; a complete message scores near 0 (spamtest 1).
 */
const FILTER = '[filter]\njunk_score = 50\nreject_score = 1000\nscores = { MISSING_DATE = 30, MISSING_MID = 25 }\n';

let t: TestServer;
let dir: string;
let clamd: { port: number; stop(): void } | undefined;

before(async () => {
  if (skip) return;
  dir = tempDir();
  if (hasClamd) clamd = await startClamd(dir);
  t = await startTestServer({
    listeners: ['smtp', 'imap', 'managesieve'],
    extraConfig: `[authentication]\nreject_dmarc_failures = false\n${FILTER}${clamd ? `clamd = "127.0.0.1:${clamd.port}"\n` : ''}`,
  });
  await t.server.directory.addDomain('example.com');
  for (const user of ['ann', 'bob', 'cat', 'dan']) await t.server.directory.addAccount(`${user}@example.com`, PW);
});
after(async () => {
  await t?.stop();
  clamd?.stop();
});

function sieveConnect(user: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSieveConnect(t.port('managesieve'), user, PW, args);
}

/** CHECKSCRIPT with sieve-connect: whether the server accepts the script. */
async function check(user: string, text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, `${user}-check.sieve`);
  writeFileSync(file, text);
  return sieveConnect(`${user}@example.com`, ['--checkscript', '--localsieve', file]);
}

/** Checks, uploads and activates a script with sieve-connect. */
async function upload(user: string, text: string): Promise<void> {
  const checked = await check(user, text);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  const file = path.join(dir, `${user}.sieve`);
  writeFileSync(file, text);
  const up = await sieveConnect(`${user}@example.com`, ['--upload', '--localsieve', file, '--remotesieve', 'rules']);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  const act = await sieveConnect(`${user}@example.com`, ['--activate', '--remotesieve', 'rules']);
  assert.equal(act.code, 0, act.stdout + act.stderr);
}

/** Stores and activates a script through the script service (the checks ManageSieve's PUTSCRIPT runs). */
async function store(user: string, text: string): Promise<void> {
  const account = await t.server.store.accounts.get(`${user}@example.com`);
  await t.server.sieve.put(account!.id, 'rules', text);
  await t.server.sieve.setActive(account!.id, 'rules');
}

/** Sends over port 25 with swaks a message with or without Date and Message-ID; the reply to DATA. */
async function send(
  to: string,
  subject: string,
  fields: { date: boolean; messageId: boolean },
  from = 'x@sender.example',
): Promise<void> {
  const file = path.join(dir, `${to}-${subject.replace(/\W/g, '_')}.eml`);
  const lines = [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`];
  if (fields.date) lines.push('Date: Wed, 02 Dec 2026 10:00:00 +0000');
  if (fields.messageId) lines.push(`Message-ID: <${subject.replace(/\W/g, '.')}.${to}@sender.example>`);
  writeFileSync(file, `${lines.join('\r\n')}\r\n\r\nspamtest\r\n`);
  assert.match(await swaksReply(t.port('smtp'), ['--from', from, '--to', to, '--data', file]), /^250 /);
}

/** Subjects per folder of an account, read with imaplib over STARTTLS. */
function folders(user: string, boxes: string[]): Promise<Record<string, string[]>> {
  return python<Record<string, string[]>>(
    `
import imaplib, json, os, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4('127.0.0.1', int(os.environ['PORT']))
m.starttls(ssl_context=ctx)
m.login(os.environ['USER_NAME'], os.environ['PW'])
out = {}
for box in json.loads(os.environ['BOXES']):
    typ, count = m.select('"%s"' % box, readonly=True)
    if typ != 'OK':
        out[box] = ['missing']
        continue
    if int(count[0]) == 0:
        out[box] = []
        continue
    typ, data = m.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    out[box] = sorted(p[1].decode().strip()[len('Subject: '):] for p in data if isinstance(p, tuple))
m.logout()
print(json.dumps(out))
`,
    { PORT: t.port('imap'), PW, USER_NAME: `${user}@example.com`, BOXES: JSON.stringify(boxes) },
  );
}

describe('sieve spamtest and virustest at delivery', { skip }, () => {
  it('advertises spamtest, spamtestplus and virustest in the ManageSieve SIEVE capability; CHECKSCRIPT refuses spamtest without require', async () => {
    const caps = await python<string[]>(
      `
import json, os, socket
s = socket.create_connection(('127.0.0.1', int(os.environ['PORT'])))
buf = b''
while not (buf.startswith(b'OK') or b'\\r\\nOK' in buf):
    buf += s.recv(4096)
s.close()
print(json.dumps([l for l in buf.decode().split('\\r\\n') if l.startswith('"SIEVE"')]))
`,
      { PORT: t.port('managesieve') },
    );
    assert.equal(caps.length, 1, JSON.stringify(caps));
    const extensions = JSON.parse(caps[0]!.slice('"SIEVE" '.length) as string) as string;
    for (const e of ['spamtest', 'spamtestplus', 'virustest']) assert.ok(extensions.split(' ').includes(e), e);
    const refused = await check('ann', 'if spamtest "10" { discard; }\n');
    assert.notEqual(refused.code, 0, 'spamtest without require is refused');
    assert.match(refused.stdout + refused.stderr, /CHECKSCRIPT failed: NO .*line 1: test .*spamtest.* needs require/);
  });

  it('files by spamtest :value with i;ascii-numeric: a middling score to Spammy, a clean message to INBOX (sieve-connect, swaks, imaplib)', async () => {
    await upload(
      'ann',
      `require ["spamtest", "fileinto", "mailbox", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto :create "Spammy"; }
`,
    );
    await send('ann@example.com', 'middling', { date: false, messageId: true });
    await send('ann@example.com', 'clean', { date: true, messageId: true });
    const seen = await folders('ann', ['INBOX', 'Spammy', 'Junk']);
    assert.deepEqual(seen, { INBOX: ['clean'], Spammy: ['middling'], Junk: [] });
  });

  it('keeps mail scored as spam in INBOX when the script requires spamtest, in Junk when it does not; DMARC quarantine stays in Junk', async () => {
    await store('bob', 'require "fileinto";\nif header :is "subject" "never" { fileinto "Elsewhere"; }\n');
    await store(
      'cat',
      'require ["spamtestplus", "imap4flags", "relational", "comparator-i;ascii-numeric"];\nif spamtest :percent :value "ge" :comparator "i;ascii-numeric" "100" { addflag "$Junk"; }\n',
    );
    await send('bob@example.com', 'spam for bob', { date: false, messageId: false });
    await send('cat@example.com', 'spam for cat', { date: false, messageId: false });
    // Junk for another reason than the score: a DMARC p=quarantine failure (SPF -all, no DKIM) stays Junk.
    t.dns.set('spoofed.example', { TXT: ['v=spf1 -all'] });
    t.dns.set('_dmarc.spoofed.example', { TXT: ['v=DMARC1; p=quarantine'] });
    await send('cat@example.com', 'quarantined for cat', { date: true, messageId: true }, 'x@spoofed.example');
    assert.deepEqual(await folders('bob', ['INBOX', 'Junk']), { INBOX: [], Junk: ['spam for bob'] });
    assert.deepEqual(await folders('cat', ['INBOX', 'Junk']), {
      INBOX: ['spam for cat'],
      Junk: ['quarantined for cat'],
    });
    const flags = await python<string>(
      `
import imaplib, json, os, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4('127.0.0.1', int(os.environ['PORT']))
m.starttls(ssl_context=ctx)
m.login('cat@example.com', os.environ['PW'])
m.select('INBOX', readonly=True)
typ, data = m.fetch('1', '(FLAGS)')
print(json.dumps(data[0].decode()))
`,
      { PORT: t.port('imap'), PW },
    );
    assert.match(flags, /\$Junk/, 'the script saw spamtest :percent 100');
  });

  it(
    'files by virustest: 1 for mail clamd scanned clean',
    { skip: hasClamd ? false : 'clamd not found: apt-get install clamav-daemon' },
    async () => {
      await store(
        'dan',
        'require ["virustest", "fileinto", "mailbox"];\nif virustest "1" { fileinto :create "Scanned"; }\nelsif virustest "0" { fileinto :create "Unscanned"; }\n',
      );
      await send('dan@example.com', 'scanned', { date: true, messageId: true });
      assert.deepEqual(await folders('dan', ['INBOX', 'Scanned']), { INBOX: [], Scanned: ['scanned'] });
    },
  );
});
