/**
 * The built-in spam rules end to end: swaks sends to port 25 from 127.0.0.1, the test DNS server is
 * `[dns] resolvers` and serves the blocklist zones and the sender's SPF record, and the symbols are read
 * from the X-Spam-Symbols field of the stored message (or the 550 5.7.1 refusal past reject_score).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { peer } from './helpers/peers.js';
import { run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const skip = peer('swaks', 'swaks');

const CONFIG = `[authentication]
reject_dmarc_failures = false
[filter]
junk_score = 30
reject_score = 30
[[filter.blocklists]]
zone = "bl.test"
kind = "ip"
score = 3
[[filter.blocklists]]
zone = "refusing.test"
kind = "ip"
score = 3
[[filter.blocklists]]
zone = "uri.test"
kind = "uri"
score = 4
[[filter.blocklists]]
zone = "badlinks.test"
kind = "uri"
score = 30
`;

describe('built-in spam rules over SMTP', { skip }, () => {
  let t: TestServer;
  let dir: string;
  let n = 0;

  /** swaks sends `content` (CRLF line ends added); returns the last reply before QUIT. */
  async function send(content: string): Promise<string> {
    const file = path.join(dir, `m${++n}.eml`);
    writeFileSync(file, content.replace(/\r?\n/g, '\r\n'));
    const r = await run('swaks', [
      ...['--server', '127.0.0.1', '--port', String(t.port('smtp')), '--ehlo', 'client.sender.example'],
      ...['--from', 'x@sender.example', '--to', 'ann@example.com', '--data', file],
    ]);
    const replies = r.stdout.split('\n').filter((l) => /^ *(<-|<\*\*) +\d{3} /.test(l) && !/ 221 /.test(l));
    assert.ok(replies.length, `no reply:\n${r.stdout}\n${r.stderr}`);
    return replies.at(-1)!.replace(/^ *(<-|<\*\*) +/, '');
  }

  /** The X-Spam-Symbols of the stored message with that subject. */
  async function symbols(subject: string): Promise<string> {
    const stored = (await mailbox(t.server, 'ann@example.com')).find((m) => m.text.includes(`Subject: ${subject}\r\n`));
    assert.ok(stored, `${subject} was delivered`);
    return /^X-Spam-Symbols: (.*)$/m.exec(stored.text)?.[1] ?? '';
  }

  const head = (subject: string, from = 'x@sender.example') =>
    `From: ${from}\nTo: ann@example.com\nSubject: ${subject}\nDate: Wed, 02 Dec 2026 10:00:00 +0000\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.example>\n`;

  before(async () => {
    dir = tempDir();
    t = await startTestServer({ extraConfig: CONFIG, listeners: ['smtp'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount('ann@example.com', 'ann password 1');
    t.dns.set('sender.example', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    t.dns.set('1.0.0.127.bl.test', { A: ['127.0.0.2'] });
    t.dns.set('1.0.0.127.refusing.test', { A: ['127.255.255.254'] });
    t.dns.set('listed-link.example.uri.test', { A: ['127.0.0.2'] });
    t.dns.set('phish.example.badlinks.test', { A: ['127.0.1.4'] });
  });
  after(async () => {
    await t?.stop();
  });

  it('adds the DNSBL listing of the client and SPF pass; a refused query (127.255.255.254) is no hit but a warning', async () => {
    assert.match(await send(`${head('plain')}\nHello.\n`), /^250 /);
    const found = await symbols('plain');
    assert.match(found, /\bRBL_BL_TEST=3\b/);
    assert.match(found, /\bSPF_PASS=-0\.001\b/);
    assert.doesNotMatch(found, /REFUSING/);
    assert.ok(
      t.logs.some((l) => /refused the query/.test(String(l.msg)) && l.zone === 'refusing.test'),
      'the refusal is logged for the admin',
    );
  });

  it('adds the URIBL listing of a link domain, and refuses past reject_score with 550 5.7.1', async () => {
    const html = `${head('link')}Content-Type: text/html\n\n<p>Click <a href="https://www.listed-link.example/win">here</a> or http://fine.example/</p>\n`;
    assert.match(await send(html), /^250 /);
    const found = await symbols('link');
    assert.match(found, /\bURIBL_URI_TEST=4\b/);
    assert.match(found, /\bMIME_HTML_ONLY=0\.1\b/);
    const reply = await send(`${head('phish')}\nLog in at https://secure.phish.example/login now.\n`);
    assert.match(reply, /^550 5\.7\.1 .*URIBL_BADLINKS_TEST=30/);
  });

  it('flags an executable attachment and a From display name showing another address', async () => {
    const exe = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(120)]).toString(
      'base64',
    );
    const attached =
      `${head('attached')}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n` +
      `--b1\nContent-Type: text/plain\n\nYour invoice.\n` +
      `--b1\nContent-Type: application/pdf; name="invoice.pdf.exe"\nContent-Disposition: attachment; filename="invoice.pdf.exe"\nContent-Transfer-Encoding: base64\n\n${exe}\n--b1--\n`;
    assert.match(await send(attached), /^250 /);
    const found = await symbols('attached');
    assert.match(found, /\bMIME_DOUBLE_BAD_EXTENSION=3\b/);
    assert.match(found, /\bMIME_BAD_ATTACHMENT=4\b/);
    assert.match(await send(`${head('spoof', '"service@paypal.com" <x@sender.example>')}\nPay now.\n`), /^250 /);
    assert.match(await symbols('spoof'), /\bFROM_NAME_SPOOF=4\b/);
  });
});
