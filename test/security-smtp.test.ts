/**
 * SMTP under attack, over real sockets, while a well-behaved client keeps sending: STARTTLS command
 * injection, the SRS open relay, guessing recipients, forged Authentication-Results, ambiguous
 * headers on submission, parallel password guessing, and oversized input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { assertResponsive, memoryInUse, Probe, RawClient, sendUntilClosed } from './helpers/attack.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

const PW = 'ann password 1';
let t: TestServer;
let probeSmtp: RawSmtp;

function probe(): Probe {
  return new Probe(async () => {
    await probeSmtp.command('NOOP', '250');
  });
}

/** A raw client greeted and past EHLO; on submission, over TLS and logged in. */
async function client(listener: 'smtp' | 'submission' | 'submissions' | 'lmtp', user?: string): Promise<RawClient> {
  const c = await RawClient.connect(t.port(listener), { tls: listener === 'submissions' });
  await c.waitFor(/^220 /m);
  const hello = await c.smtp(`${listener === 'lmtp' ? 'LHLO' : 'EHLO'} client.example`);
  assert.match(hello, /^250 /m);
  if (user) {
    const auth = await c.smtp(`AUTH PLAIN ${Buffer.from(`\0${user}\0${PW}`).toString('base64')}`);
    assert.match(auth, /^235 /, auth);
  }
  return c;
}

/** MAIL, RCPTs and DATA; resolves with the reply to the data. */
async function transaction(c: RawClient, from: string, to: string[], content: string): Promise<string> {
  assert.match(await c.smtp(`MAIL FROM:<${from}>`), /^250 /);
  for (const r of to) assert.match(await c.smtp(`RCPT TO:<${r}>`), /^250 /);
  assert.match(await c.smtp('DATA'), /^354 /);
  return c.smtp(`${content.replace(/\r?\n/g, '\r\n')}\r\n.`);
}

before(async () => {
  t = await startTestServer({
    listeners: ['smtp', 'submission', 'submissions', 'lmtp'],
    extraConfig:
      '[smtp]\nmax_refused_recipients = 20\nrefusal_delay = "50ms"\nmax_refused_recipients_per_ip = 30\n[auth]\nfailure_delay = "0s"\nmax_failures = 5\nlockout = "10m"\n',
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', PW);
  await t.server.directory.addAccount('bob@example.com', 'bob password 1');
  await t.server.directory.addAlias('fwd@example.com', ['friend@elsewhere.example']);
  probeSmtp = await RawSmtp.connect(t.port('smtp'));
});

after(async () => {
  probeSmtp.close();
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('SMTP under attack', () => {
  it('drops commands pipelined after STARTTLS (CVE-2011-0411)', async () => {
    const c = await RawClient.connect(t.port('submission'));
    await c.waitFor(/^220 /m);
    await c.smtp('EHLO client.example');
    const mark = c.text.length;
    c.write(
      `STARTTLS\r\nAUTH PLAIN ${Buffer.from(`\0ann@example.com\0${PW}`).toString('base64')}\r\nMAIL FROM:<ann@example.com>\r\n`,
    );
    await c.waitFor(/^220 /m, 10_000, mark);
    await c.startTls();
    const inside = c.text.length;
    const hello = await c.smtp('EHLO client.example');
    assert.equal(
      c.text.slice(inside).split('\r\n')[0],
      hello.split('\r\n')[0],
      'the first reply inside TLS answers our own command',
    );
    assert.match(hello, /^250-/);
    assert.match(await c.smtp('MAIL FROM:<ann@example.com>'), /^530 /, 'not authenticated by the injected AUTH');
    c.destroy();
  });

  it('reverses SRS addresses for bounces only: no relaying through them', async () => {
    const sender = await RawSmtp.connect(t.port('smtp'));
    await sender.send(
      'x@pass.example',
      ['fwd@example.com'],
      'From: x@pass.example\r\nSubject: forwarded\r\n\r\nhello\r\n',
    );
    sender.close();
    const entry = (await t.server.store.queue.list()).find((q) =>
      q.recipients.some((r) => r.recipient === 'friend@elsewhere.example'),
    );
    assert.ok(entry, 'forwarded');
    const srs = entry.sender;
    assert.match(srs, /^SRS0=[A-Z2-7]{8}=/);
    const spammer = await client('smtp');
    assert.match(await spammer.smtp('MAIL FROM:<spam@evil.example>'), /^250 /);
    assert.match(await spammer.smtp(`RCPT TO:<${srs}>`), /^550 5\.7\.1 .*accepts only bounces/);
    assert.match(await spammer.smtp(`RCPT TO:<${srs.toLowerCase()}>`), /^550 5\.7\.1 /);
    assert.match(await spammer.smtp('RSET'), /^250 /);
    assert.match(await spammer.smtp('MAIL FROM:<>'), /^250 /);
    assert.match(await spammer.smtp(`RCPT TO:<${srs}>`), /^250 /, 'a bounce is taken');
    spammer.destroy();
  });

  it('strips Authentication-Results claiming to be ours, with a version or folded, on MX, submission and LMTP', async () => {
    const forged = [
      'Authentication-Results: mail.example.com 1; dkim=pass header.d=bank.example',
      'Authentication-Results:\r\n mail.example.com;\r\n dmarc=pass header.from=bank.example',
      'Authentication-Results: (x) "MAIL.EXAMPLE.COM" (y) ; spf=pass smtp.mailfrom=bank.example',
      'Authentication-Results: other.example; spf=pass',
    ].join('\r\n');
    const mx = await client('smtp');
    assert.match(
      await transaction(
        mx,
        'x@remote.example',
        ['bob@example.com'],
        `${forged}\r\nFrom: x@remote.example\r\nSubject: via mx\r\n\r\nbody`,
      ),
      /^250 /,
    );
    mx.destroy();
    const sub = await client('submissions', 'ann@example.com');
    assert.match(
      await transaction(
        sub,
        'ann@example.com',
        ['bob@example.com'],
        `${forged}\r\nFrom: ann@example.com\r\nSubject: via submission\r\n\r\nbody`,
      ),
      /^250 /,
    );
    sub.destroy();
    const lmtp = await client('lmtp');
    assert.match(
      await transaction(
        lmtp,
        'x@remote.example',
        ['bob@example.com'],
        `${forged}\r\nFrom: x@remote.example\r\nSubject: via lmtp\r\n\r\nbody`,
      ),
      /^250 /,
    );
    lmtp.destroy();
    const box = await mailbox(t.server, 'bob@example.com');
    for (const subject of ['via mx', 'via submission', 'via lmtp']) {
      const m = box.find((x) => x.text.includes(`Subject: ${subject}`));
      assert.ok(m, subject);
      assert.doesNotMatch(m.text, /bank\.example/, `${subject}: no forged result is left`);
      assert.match(
        m.text,
        /Authentication-Results: other\.example; spf=pass/,
        `${subject}: other servers' results stay`,
      );
    }
  });

  it('refuses messages with more than one From (and, on submission, Sender, Date, Subject or Message-ID)', async () => {
    const sub = await client('submissions', 'ann@example.com');
    const two = (field: string, a: string, b: string) =>
      `From: ann@example.com\r\n${field}: ${a}\r\n${field}: ${b}\r\n\r\nbody`.replace(
        /^From: ann@example.com\r\nFrom: /,
        'From: ',
      );
    assert.match(
      await transaction(
        sub,
        'ann@example.com',
        ['bob@example.com'],
        'From: ann@example.com\r\nFrom: ceo@example.com\r\nSubject: x\r\n\r\nbody',
      ),
      /^550 5\.6\.0 .*2 from fields/,
    );
    for (const [field, a, b] of [
      ['Subject', 'one', 'two'],
      ['Date', 'Mon, 30 Nov 2026 10:00:00 +0000', 'Tue, 1 Dec 2026 10:00:00 +0000'],
      ['Message-ID', '<a@x>', '<b@x>'],
      ['Sender', 'ann@example.com', 'ann@example.com'],
    ] as const) {
      assert.match(
        await transaction(sub, 'ann@example.com', ['bob@example.com'], two(field, a, b)),
        new RegExp(`^550 5\\.6\\.0 .*2 ${field.toLowerCase()} fields`),
        field,
      );
    }
    assert.match(
      await transaction(
        sub,
        'ann@example.com',
        ['bob@example.com'],
        'From: ann@example.com\r\nSender: boss@example.com\r\nSubject: x\r\n\r\nbody',
      ),
      /^553 5\.7\.1 /,
      'a Sender the user does not own',
    );
    sub.destroy();
    const mx = await client('smtp');
    assert.match(
      await transaction(
        mx,
        'x@remote.example',
        ['bob@example.com'],
        'From: x@remote.example\r\nFrom: boss@bank.example\r\nSubject: x\r\n\r\nbody',
      ),
      /^550 5\.6\.0 /,
    );
    assert.match(
      await transaction(
        mx,
        'x@remote.example',
        ['bob@example.com'],
        'From: x@remote.example\r\nSubject: a\r\nSubject: b\r\n\r\nbody',
      ),
      /^250 /,
      'other repeats are taken on port 25',
    );
    mx.destroy();
  });

  it('refuses a header too large or too long for the libraries that verify it, and too many signatures', async () => {
    const p = probe();
    p.start();
    const mx = await client('smtp');
    const folded = `Subject: a\r\n${' a\r\n'.repeat(64_000)}From: x@remote.example\r\n\r\nbody`;
    assert.match(
      await transaction(mx, 'x@remote.example', ['bob@example.com'], folded),
      /^552 5\.3\.4 .*more than 5000 lines/,
    );
    const huge = `X-Big: ${'b'.repeat(300_000)}\r\nFrom: x@remote.example\r\n\r\nbody`;
    assert.match(
      await transaction(mx, 'x@remote.example', ['bob@example.com'], huge),
      /^552 5\.3\.4 .*larger than 256 KB/,
    );
    const signed = `${'DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\n'.repeat(21)}From: x@remote.example\r\n\r\nbody`;
    assert.match(
      await transaction(mx, 'x@remote.example', ['bob@example.com'], signed),
      /^550 5\.7\.7 .*21 DKIM signatures/,
    );
    mx.destroy();
    await assertResponsive(p);
  });

  it('closes a connection after too many refused recipients, slowing the refusals down first', async () => {
    const p = probe();
    p.start();
    const c = await client('smtp');
    assert.match(await c.smtp('MAIL FROM:<harvester@evil.example>'), /^250 /);
    const started = Date.now();
    for (let i = 0; i < 20; i++) assert.match(await c.smtp(`RCPT TO:<guess${i}@example.com>`), /^550 5\.1\.1 /);
    assert.ok(Date.now() - started >= 10 * 50, 'the last half of the refusals were delayed');
    assert.match(await c.smtp('RCPT TO:<guess20@example.com>'), /^421 4\.7\.0 .*Too many refused recipients/);
    assert.ok(await c.waitClosed(5000));
    await assertResponsive(p);
  });

  it('refuses a network that keeps guessing across connections', async () => {
    // Over 20 refusals above; a few more here reach the per-IP limit of 30.
    const c = await client('smtp');
    assert.match(await c.smtp('MAIL FROM:<harvester@evil.example>'), /^250 /);
    let reply = '';
    let refused = 0;
    for (; refused < 20; refused++) {
      reply = await c.smtp(`RCPT TO:<again${refused}@example.com>`);
      if (!reply.startsWith('550')) break;
    }
    assert.ok(refused >= 1 && refused <= 10, `${refused} more refusals before the network was refused`);
    assert.match(reply, /^421 4\.7\.0 .*from your network/);
    const d = await client('smtp');
    assert.match(await d.smtp('MAIL FROM:<harvester@evil.example>'), /^250 /);
    assert.match(await d.smtp('RCPT TO:<bob@example.com>'), /^421 /, 'a new connection is refused too');
    // An authenticated user is not a stranger: its recipients are still taken.
    const sub = await client('submissions', 'ann@example.com');
    assert.match(
      await transaction(
        sub,
        'ann@example.com',
        ['bob@example.com'],
        'From: ann@example.com\r\nSubject: still works\r\n\r\nbody',
      ),
      /^250 /,
    );
    sub.destroy();
  });

  it('closes on an endless line without keeping it', async () => {
    const c = await RawClient.connect(t.port('smtp'));
    await c.waitFor(/^220 /m);
    const before = memoryInUse();
    const sent = await sendUntilClosed(c);
    assert.ok(await c.waitClosed(10_000), 'closed');
    console.log(`# sent ${(sent / 1048576).toFixed(1)} MB of one line before the server stopped reading`);
    assert.ok(sent < 16 << 20, `the server read ${sent} bytes of one line`);
    assert.ok(memoryInUse() - before < 16 << 20, 'the line was not kept');
    assert.match(c.text, /^5\d\d |^421 /m);
  });
  // Last: it leaves 127.0.0.1 locked out of logging in.
  it('counts parallel password guesses before they are verified: no more than max_failures get through', async () => {
    const guesses = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const c = await RawClient.connect(t.port('submissions'), { tls: true });
        await c.waitFor(/^220 /m);
        await c.smtp('EHLO guesser.example');
        const reply = await c.smtp(`AUTH PLAIN ${Buffer.from(`\0ann@example.com\0guess ${i}`).toString('base64')}`);
        c.destroy();
        return reply.slice(0, 3);
      }),
    );
    const refused = guesses.filter((r) => r === '535').length;
    console.log(
      `# 24 parallel guesses: ${refused} verified and refused, ${guesses.filter((r) => r === '454').length} locked out`,
    );
    assert.ok(refused <= 5, `${refused} guesses were verified`);
    assert.ok(
      guesses.every((r) => r === '535' || r === '454'),
      guesses.join(' '),
    );
  });
});

describe('SMTP connection counting', () => {
  // smtp-server's STARTTLS takes the socket over; the listener must still see the session end,
  // or every TLS session would hold a place until max_connections_per_ip locks the client out.
  it('releases the per-IP place of every session that used STARTTLS', async () => {
    const s = await startTestServer({ listeners: ['smtp'], extraConfig: '[limits]\nmax_connections_per_ip = 2\n' });
    try {
      await s.server.directory.addDomain('example.com');
      await s.server.directory.addAccount('ann@example.com', PW);
      const disconnected = () => s.logs.filter((l) => l.msg === 'disconnected' && l.listener === 'smtp').length;
      for (let i = 0; i < 5; i++) {
        const transport = nodemailer.createTransport({
          host: '127.0.0.1',
          port: s.port('smtp'),
          secure: false,
          requireTLS: true,
          tls: { rejectUnauthorized: false },
        });
        await transport.sendMail({
          from: 'x@sender.example',
          to: 'ann@example.com',
          subject: `tls ${i}`,
          text: 'over STARTTLS\n',
        });
        for (const end = Date.now() + 5000; disconnected() <= i && Date.now() < end;)
          await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal((await mailbox(s.server, 'ann@example.com')).length, 5, 'five sessions from one IP, two places');
      assert.ok(!s.logs.some((l) => l.msg === 'connection refused: limit reached'), 'no session was refused');
    } finally {
      await s.stop();
    }
  });
});

describe('refused recipients from a sending provider', () => {
  // A provider's outgoing address sends for many users, some to stale addresses: its deliveries
  // offset its refusals, so it is not refused with its real mail; a harvester is.
  it('keeps taking mail from a network whose refusals are offset by deliveries, and refuses one that only guesses', async () => {
    const s = await startTestServer({
      listeners: ['smtp'],
      extraConfig: '[smtp]\nmax_refused_recipients_per_ip = 10\nrefusal_delay = "0s"\n',
    });
    try {
      await s.server.directory.addDomain('example.com');
      await s.server.directory.addAccount('bob@example.com', 'bob password 1');
      const c = await RawClient.connect(s.port('smtp'));
      await c.waitFor(/^220 /m);
      assert.match(await c.smtp('EHLO provider.example'), /^250 /m);
      for (let i = 0; i < 15; i++) {
        assert.match(await c.smtp('MAIL FROM:<list@provider.example>'), /^250 /);
        assert.match(await c.smtp('RCPT TO:<bob@example.com>'), /^250 /, `message ${i}`);
        assert.match(await c.smtp(`RCPT TO:<gone${i}@example.com>`), /^550 5\.1\.1 /);
        assert.match(await c.smtp('DATA'), /^354 /);
        assert.match(await c.smtp(`From: list@provider.example\r\nSubject: issue ${i}\r\n\r\nbody\r\n.`), /^250 /);
      }
      // One message to many recipients is one delivery: it does not buy a guess per recipient.
      assert.match(await c.smtp('MAIL FROM:<list@provider.example>'), /^250 /);
      for (let i = 0; i < 30; i++) assert.match(await c.smtp(`RCPT TO:<bob+${i}@example.com>`), /^250 /);
      assert.match(await c.smtp('DATA'), /^354 /);
      assert.match(await c.smtp('From: list@provider.example\r\nSubject: to many\r\n\r\nbody\r\n.'), /^250 /);
      c.destroy();
      assert.equal((await mailbox(s.server, 'bob@example.com')).length, 16, '15 refusals, each offset by a delivery');
      let reply = '';
      for (let i = 0; i < 15 && !reply.startsWith('421'); i++) {
        const g = await RawClient.connect(s.port('smtp'));
        await g.waitFor(/^220 /m);
        await g.smtp('EHLO harvester.example');
        assert.match(await g.smtp('MAIL FROM:<x@harvester.example>'), /^250 /);
        reply = await g.smtp(`RCPT TO:<guess${i}@example.com>`);
        g.destroy();
      }
      assert.match(reply, /^421 4\.7\.0 .*from your network/, 'guesses alone are refused');
    } finally {
      await s.stop();
    }
  });
});
