/**
 * DKIM keys and signing, SPF/DKIM/DMARC verification on port 25, and the records `postern dns`
 * prints, against a DNS server on 127.0.0.1; signatures checked by mailauth and by dkimpy.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { authenticate, dkimSign, dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { createResolver } from '../src/mail/dns/resolver.js';
import { BIN } from './helpers/cli.js';
import { peer } from './helpers/peers.js';
import { run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

let t: TestServer;

/** The CLI, run without blocking this process: its DNS server must keep answering meanwhile. */
const cli = (...args: string[]) => run(process.execPath, [BIN, '--config', t.configFile, ...args]);

/** Loads `postern dns DOMAIN --json` into the test DNS server. */
async function publish(domain: string): Promise<Array<{ name: string; type: string; value: string }>> {
  const r = await cli('dns', domain, '--json');
  assert.equal(r.code, 0, r.stderr);
  const records = JSON.parse(r.stdout) as Array<{ name: string; type: string; value: string }>;
  for (const rec of records) {
    if (rec.type !== 'TXT') continue;
    const strings = [...rec.value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
    const name = rec.name.replace(/\.$/, '');
    const zone = t.dns.records.get(name) ?? {};
    zone.TXT = [...(zone.TXT ?? []), strings];
    t.dns.set(name, zone);
  }
  return records;
}

before(async () => {
  t = await startTestServer({
    listeners: ['smtp', 'submission'],
    extraConfig:
      '[authentication]\nreject_dmarc_failures = true\nquarantine_to_junk = true\n[dkim]\nauto_generate = false\n',
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', 'ann password 1');
  await t.server.directory.addAccount('bob@example.com', 'bob password 1');
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('DKIM keys', () => {
  it('gives a domain added through the directory a key when [dkim] auto_generate is on (the default)', async () => {
    const other = await startTestServer({ listeners: ['smtp'] });
    try {
      await other.server.directory.addDomain('auto.example');
      await other.server.directory.addDomain('alias-of-auto.example', { aliasOf: 'auto.example' });
      const keys = await other.server.dkim.list();
      assert.deepEqual(
        keys.map((k) => [k.domain, k.selector, k.algorithm, k.status]),
        [['auto.example', `mail${new Date().getUTCFullYear()}`, 'rsa2048', 'active']],
      );
    } finally {
      await other.stop();
    }
  });

  it('generates, lists and rotates keys from the CLI; a rotated key signs once DNS shows it', async () => {
    const gen = await cli('dkim', 'generate', 'example.com');
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, new RegExp(`DKIM key mail${new Date().getUTCFullYear()} \\(rsa2048\\) for example.com`));
    assert.equal((await cli('dkim', 'generate', 'example.com', '--algorithm', 'ed25519')).code, 0);
    assert.match(
      (await cli('dkim', 'generate', 'example.com', '--algorithm', 'dsa')).stderr,
      /--algorithm must be one of rsa2048, rsa4096, ed25519/,
    );
    assert.match((await cli('dkim', 'generate', 'nowhere.example')).stderr, /domain nowhere.example is not hosted/);
    assert.match(
      (await cli('dkim', 'generate', 'example.com', '--selector', `mail${new Date().getUTCFullYear()}`)).stderr,
      /already exists/,
    );
    const rotate = await cli('dkim', 'rotate', 'example.com');
    assert.match(rotate.stdout, /is pending: publish its record/);
    let keys = JSON.parse((await cli('dkim', 'list', 'example.com', '--json')).stdout) as Array<{
      selector: string;
      status: string;
      algorithm: string;
    }>;
    assert.deepEqual(
      keys.map((k) => k.status),
      ['active', 'active', 'pending'],
    );
    await publish('example.com');
    keys = JSON.parse((await cli('dkim', 'list', 'example.com', '--json')).stdout) as typeof keys;
    assert.deepEqual(
      keys.map((k) => `${k.algorithm}:${k.status}`),
      ['rsa2048:retired', 'ed25519:active', 'rsa2048:active'],
      'the new RSA key replaced the old one once published',
    );
    const zone = await cli('dns', 'example.com');
    assert.match(zone.stdout, /retired DKIM key: remove this record/);
  });

  it('splits a 4096-bit key into 255-byte strings that resolvers join back', async () => {
    await t.server.directory.addDomain('big.example');
    assert.equal((await cli('dkim', 'generate', 'big.example', '--algorithm', 'rsa4096')).code, 0);
    const records = await publish('big.example');
    const dkim = records.find((r) => r.name.includes('_domainkey'))!;
    const strings = [...dkim.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(strings.length >= 3 && strings.every((s) => s.length <= 255), dkim.value);
    const [txt] = (await createResolver([t.dns.address])(dkim.name.replace(/\.$/, ''), 'TXT')) as string[][];
    assert.equal(txt!.join(''), strings.join(''), 'served over TCP (too big for UDP) and joined intact');
  });
});

describe('DKIM signing of submitted mail', () => {
  it('signs with the From domain (RSA and ed25519); mailauth and dkimpy verify it', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission'),
      secure: false,
      requireTLS: true,
      auth: { user: 'ann@example.com', pass: 'ann password 1' },
      tls: { rejectUnauthorized: false },
    });
    await transport.sendMail({
      from: 'Ann <ann@example.com>',
      to: 'bob@example.com',
      subject: 'signed',
      text: 'This message is signed.\n',
    });
    const [m] = (await mailbox(t.server, 'bob@example.com')).filter((x) => x.text.includes('Subject: signed'));
    assert.ok(m);
    // As delivered: after the per-recipient lines and our Received header come the signatures.
    const signed = m.text.slice(m.text.indexOf('DKIM-Signature:'));
    const sigs = signed.match(/^DKIM-Signature:/gm) ?? [];
    assert.equal(sigs.length, 2, 'one RSA and one ed25519 signature');
    const h = /h=([^;]+);/
      .exec(signed.replace(/\r\n\s+/g, ' '))![1]!
      .toLowerCase()
      .split(/:\s*/);
    // Oversigned (RFC 6376 §8.15): listed once more than they occur, so none can be added later.
    for (const name of ['from', 'subject', 'date', 'to', 'message-id'])
      assert.equal(h.filter((x) => x === name).length, 2, `${name} is oversigned: ${h.join(':')}`);
    const resolver = createResolver([t.dns.address], { timeoutMs: 10_000, tries: 3 });
    const verified = await dkimVerify(Buffer.from(signed), { resolver });
    assert.deepEqual(
      verified.results.map((r: { status: { result: string } }) => r.status.result),
      ['pass', 'pass'],
      JSON.stringify(verified.results.map((r: { status: unknown; info?: unknown }) => [r.status, r.info])),
    );
    const dkimpy = await pythonDkim(signed);
    if (dkimpy !== 'skipped') assert.equal(dkimpy, 'True', 'dkimpy agrees');
    // A second Subject added in transit (below the signatures) breaks both signatures.
    const tampered = signed.replace(/\r\n\r\n/, '\r\nSubject: pay this invoice\r\n\r\n');
    const broken = await dkimVerify(Buffer.from(tampered), { resolver });
    assert.deepEqual(
      broken.results.map((r: { status: { result: string } }) => r.status.result),
      ['fail', 'fail'],
    );
    const dkimpyBroken = await pythonDkim(tampered);
    if (dkimpyBroken !== 'skipped') assert.equal(dkimpyBroken, 'False', 'dkimpy agrees the added Subject breaks it');
  });
});

async function pythonDkim(message: string): Promise<string> {
  if (peer('dkimverify', 'python3-dkim')) return 'skipped';
  const [host, port] = t.dns.address.split(':');
  const script = `
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False); r.nameservers = ['${host}']; r.port = ${port}
def dnsfunc(name, timeout=5):
    try:
        return b''.join(b''.join(x.strings) for x in r.resolve(name.decode().rstrip('.'), 'TXT', tcp=True))
    except Exception:
        return b''
print(dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc))`;
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', script], (err, stdout, stderr) =>
      err ? reject(new Error(stderr)) : resolve(stdout.trim()),
    );
    child.stdin!.end(message.replace(/\r?\n/g, '\r\n'));
  });
}

describe('SPF, DKIM and DMARC on port 25', () => {
  async function send(from: string, content: string, helo = 'client.example'): Promise<string> {
    const c = await RawSmtp.connect(t.port('smtp'), helo);
    try {
      return await c.send(from, ['bob@example.com'], content);
    } catch (err) {
      return (err as Error).message;
    } finally {
      c.close();
    }
  }
  const stored = async (subject: string, folder = 'INBOX') =>
    (await mailbox(t.server, 'bob@example.com', folder)).find((m) => m.text.includes(`Subject: ${subject}\r\n`))?.text;

  before(() => {
    t.dns.set('pass.example', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    t.dns.set('fail.example', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    t.dns.set('soft.example', { TXT: ['v=spf1 ~all'] });
    t.dns.set('neutral.example', { TXT: ['v=spf1 ?all'] });
    t.dns.set('perm.example', { TXT: ['v=spf1 ip4:127.0.0.1 bogus:x -all'] });
    t.dns.servfail.add('temp.example');
    t.dns.set('reject.example', { TXT: ['v=spf1 -all'] });
    t.dns.set('_dmarc.reject.example', { TXT: ['v=DMARC1; p=reject'] });
    t.dns.set('quarantine.example', { TXT: ['v=spf1 -all'] });
    t.dns.set('_dmarc.quarantine.example', { TXT: ['v=DMARC1; p=quarantine'] });
    t.dns.set('none.example', { TXT: ['v=spf1 -all'] });
    t.dns.set('_dmarc.none.example', { TXT: ['v=DMARC1; p=none'] });
  });

  it('records SPF pass, fail, softfail, neutral, permerror and temperror in Authentication-Results', async () => {
    for (const [domain, result] of [
      ['pass', 'pass'],
      ['fail', 'fail'],
      ['soft', 'softfail'],
      ['neutral', 'neutral'],
      ['perm', 'permerror'],
      ['temp', 'temperror'],
    ] as const) {
      const reply = await send(
        `user@${domain}.example`,
        `From: user@${domain}.example\r\nSubject: spf ${domain}\r\n\r\nx\r\n`,
      );
      assert.match(reply, /^250 /, `${domain}: ${reply}`);
      const text = await stored(`spf ${domain}`);
      assert.ok(text, `spf ${domain} delivered`);
      assert.match(
        text,
        new RegExp(`Authentication-Results: mail\\.example\\.com;[\\s\\S]*?spf=${result}`),
        `${domain}: ${text.slice(0, 600)}`,
      );
    }
  });

  it('refuses DMARC p=reject failures with 550 5.7.1, files p=quarantine in Junk, and keeps p=none', async () => {
    const rejected = await send('x@reject.example', 'From: x@reject.example\r\nSubject: dmarc reject\r\n\r\nx\r\n');
    assert.match(rejected, /550 5\.7\.1 .*DMARC/);
    assert.equal(await stored('dmarc reject'), undefined);
    assert.match(
      await send('x@quarantine.example', 'From: x@quarantine.example\r\nSubject: dmarc quarantine\r\n\r\nx\r\n'),
      /^250 /,
    );
    assert.equal(await stored('dmarc quarantine'), undefined, 'not in INBOX');
    assert.match((await stored('dmarc quarantine', 'Junk'))!, /dmarc=fail/);
    assert.match(await send('x@none.example', 'From: x@none.example\r\nSubject: dmarc none\r\n\r\nx\r\n'), /^250 /);
    assert.match((await stored('dmarc none'))!, /dmarc=fail .*header\.from=none\.example/);
  });

  it('refuses a From that DMARC could not judge: several mailboxes, a group, no domain, or a second From past 1000 fields', async () => {
    const tries = [
      ['several', 'From: x@reject.example, y@pass.example'],
      ['group', 'From: Bank:x@reject.example;'],
      ['empty group', 'From: x@reject.example:;'],
      ['no domain', 'From: Your Bank <security>'],
      ['buried', `From: y@pass.example\r\n${'X-Filler: x\r\n'.repeat(1000)}From: x@reject.example`],
    ];
    for (const [name, from] of tries) {
      const reply = await send('y@pass.example', `${from}\r\nSubject: unjudged ${name}\r\n\r\nx\r\n`);
      assert.match(reply, /55[02] 5\.(7\.1|3\.4) /, `${name}: ${reply}`);
      assert.equal(await stored(`unjudged ${name}`), undefined, name);
    }
    assert.match(
      await send('y@pass.example', 'From: "Ann, of Pass" <y@pass.example>\r\nSubject: judged\r\n\r\nx\r\n'),
      /^250 /,
    );
    assert.match((await stored('judged'))!, /dmarc=(none|pass|fail)/);
  });

  it('verifies DKIM signatures and notices a broken body hash', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'der' },
    });
    t.dns.set('sel._domainkey.signed.example', {
      TXT: [splitTxt(`v=DKIM1; k=rsa; p=${publicKey.toString('base64')}`)],
    });
    t.dns.set('signed.example', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    const message = 'From: a@signed.example\r\nTo: bob@example.com\r\nSubject: dkim good\r\n\r\nOriginal body.\r\n';
    const { signatures } = await dkimSign(message, {
      signatureData: [{ signingDomain: 'signed.example', selector: 'sel', privateKey }],
    });
    assert.match(await send('a@signed.example', signatures + message), /^250 /);
    assert.match((await stored('dkim good'))!, /dkim=pass header\.i=@signed\.example/);
    const tampered = (signatures + message)
      .replace('Subject: dkim good', 'Subject: dkim bad')
      .replace('Original body.', 'Changed body.');
    assert.match(await send('a@signed.example', tampered), /^250 /);
    assert.match((await stored('dkim bad'))!, /dkim=(fail|neutral) \(body hash did not verify\)/);
  });

  it('removes incoming Authentication-Results that claim our authserv-id', async () => {
    const forged =
      'Authentication-Results: mail.example.com; dkim=pass header.d=bank.example; dmarc=pass\r\nAuthentication-Results: other.example; spf=pass\r\nFrom: x@pass.example\r\nSubject: forged results\r\n\r\nx\r\n';
    assert.match(await send('x@pass.example', forged), /^250 /);
    const text = (await stored('forged results'))!;
    assert.equal((text.match(/^Authentication-Results: mail\.example\.com;/gm) ?? []).length, 1, 'only ours');
    assert.doesNotMatch(text, /header\.d=bank\.example/);
    assert.match(text, /^Authentication-Results: other\.example; spf=pass/m, "other servers' results are kept");
  });
});

describe('forwarding: SRS and ARC', () => {
  it('gives forwarded mail an SRS sender and an ARC seal that the next hop verifies; bounces find their way back', async () => {
    await t.server.directory.addAlias('fwd@example.com', ['friend@elsewhere.example', 'bob@example.com']);
    const c = await RawSmtp.connect(t.port('smtp'));
    await c.send(
      'x@pass.example',
      ['fwd@example.com'],
      'From: x@pass.example\r\nTo: fwd@example.com\r\nSubject: forwarded\r\n\r\nfor a friend\r\n',
    );
    c.close();
    const entry = (await t.server.store.queue.list()).find((q) =>
      q.recipients.some((r) => r.recipient === 'friend@elsewhere.example'),
    );
    assert.ok(entry, 'queued for the external destination');
    assert.match(entry.sender, /^SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=pass\.example=x@example\.com$/);
    const content = (await t.server.store.blobs.get(entry.blobHash)).toString();
    assert.match(content, /^ARC-Seal: i=1; .*d=example\.com/m);
    assert.match(content, /^ARC-Message-Signature: i=1;/m);
    assert.match(content, /^ARC-Authentication-Results: i=1; mail\.example\.com;/m);
    // The next hop: SPF for the SRS sender is ours, and our ARC seal verifies.
    t.dns.set('example.com', {
      ...(t.dns.records.get('example.com') ?? {}),
      TXT: [
        ...(t.dns.records.get('example.com')?.TXT ?? []).filter((r) => !String(r).startsWith('v=spf1')),
        ['v=spf1 ip4:127.0.0.1 -all'],
      ],
    });
    const next = await authenticate(content, {
      ip: '127.0.0.1',
      helo: 'mail.example.com',
      sender: entry.sender,
      mta: 'mx.elsewhere.example',
      resolver: createResolver([t.dns.address]),
    });
    assert.equal(
      (next.arc as { status: { result: string } }).status.result,
      'pass',
      JSON.stringify(next.arc).slice(0, 400),
    );
    assert.equal(next.spf && next.spf.status.result, 'pass');

    // A bounce to the SRS address goes back to the original sender; a forged one is refused.
    const bounce = await RawSmtp.connect(t.port('smtp'), 'mx.elsewhere.example');
    await bounce.send(
      '',
      [entry.sender],
      'From: MAILER-DAEMON@elsewhere.example\r\nSubject: Undelivered Mail\r\n\r\nbounce\r\n',
    );
    bounce.close();
    const back = (await t.server.store.queue.list()).find(
      (q) => q.sender === '' && q.recipients.some((r) => r.recipient === 'x@pass.example'),
    );
    assert.ok(back, 'the bounce is queued for the original sender, with the null sender');
    const forged = await RawSmtp.connect(t.port('smtp'));
    await forged.command('MAIL FROM:<>', '250');
    await assert.rejects(forged.command('RCPT TO:<SRS0=abcd=AB=victim.example=x@example.com>', '250'), /550 5\.1\.1/);
    forged.close();
  });
});

function splitTxt(value: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(value.slice(i, i + 255));
  return parts;
}
