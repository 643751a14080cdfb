/**
 * Outbound delivery against smtp-server fakes on 127.0.0.1 that accept, refuse (4xx, 5xx), drop the
 * connection in the middle of DATA or hang, with MX records from the local DNS server: retries,
 * bounces (RFC 3464) in the sender's INBOX, null MX, the queue tools, MTA-STS and DANE.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import https from 'node:https';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { BIN } from './helpers/cli.js';
import { makeCert } from './helpers/certs.js';
import { run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';

interface Received {
  from: string;
  to: string[];
  data: string;
  domain: string;
}

/** A remote MX whose behaviour depends on the recipient domain. */
async function startFake(cert: { key: string; cert: string }) {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true,
    key: cert.key,
    cert: cert.cert,
    size: 10 << 20,
    logger: false,
    disabledCommands: ['AUTH'],
    onRcptTo(address, session, cb) {
      const domain = address.address.split('@')[1]!;
      const n = (seen.get(`rcpt:${address.address}`) ?? 0) + 1;
      seen.set(`rcpt:${address.address}`, n);
      if (address.address.startsWith('nobody@'))
        return cb(Object.assign(new Error('5.1.1 <' + address.address + '>: no such user'), { responseCode: 550 }));
      if (domain === 'temp.example' && n === 1)
        return cb(Object.assign(new Error('4.2.1 mailbox busy, try later'), { responseCode: 451 }));
      if (domain === 'always.example')
        return cb(Object.assign(new Error('4.2.1 mailbox busy, try later'), { responseCode: 451 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      const domain = session.envelope.rcptTo[0]!.address.split('@')[1]!;
      const n = (seen.get(`data:${domain}`) ?? 0) + 1;
      seen.set(`data:${domain}`, n);
      if (domain === 'drop.example' && n === 1) {
        stream.once('data', () => (session as unknown as { socket?: { destroy(): void } }).socket?.destroy());
        stream.resume();
        return;
      }
      if (domain === 'hang.example') return stream.resume(); // never answers
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString(),
          domain,
        });
        cb(null);
      });
    },
  });
  // smtp-server keeps the socket of each session; expose it for the drop case.
  server.on('connect', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return { server, port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let fake: Awaited<ReturnType<typeof startFake>>;
let t: TestServer;
let mxCert: { key: string; cert: string };
let stsServer: https.Server;
let caPem: string;

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) {
      const recent = t.logs
        .filter((l) => l.component === 'outbound')
        .slice(-6)
        .map((l) => JSON.stringify(l));
      throw new Error(`timed out waiting for ${what}; last outbound log lines:\n${recent.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  const ca = await makeCert({ commonName: 'Postern Test CA', isCa: true });
  caPem = ca.cert;
  mxCert = await makeCert({
    commonName: 'mx.ok.example',
    altNames: ['mx.ok.example', 'mx.sts.example', 'mx.dane.example', 'mx.daneok.example'],
    issuer: ca,
  });
  fake = await startFake(mxCert);
  // The MTA-STS policy host, on a port of its own (the config's mta_sts_port).
  const stsCert = await makeCert({
    commonName: 'mta-sts.sts.example',
    altNames: ['mta-sts.sts.example', 'mta-sts.stsbad.example', 'mta-sts.stscert.example'],
    issuer: ca,
  });
  stsServer = https.createServer({ key: stsCert.key, cert: stsCert.cert }, (req, res) => {
    const host = String(req.headers.host);
    res.writeHead(200, { 'content-type': 'text/plain' });
    // sts: its MX is listed and has a valid certificate; stsbad: its MX is not listed;
    // stscert: its MX is listed but its certificate does not name it.
    const mx = {
      'mta-sts.sts.example': 'mx.sts.example',
      'mta-sts.stsbad.example': 'mx.elsewhere.example',
      'mta-sts.stscert.example': 'mx.stscert.example',
    }[host];
    res.end(`version: STSv1\r\nmode: enforce\r\nmx: ${mx}\r\nmax_age: 86400\r\n`);
  });
  await new Promise<void>((resolve) => stsServer.listen(0, '127.0.0.1', resolve));
  const stsPort = (stsServer.address() as { port: number }).port;
  const { writeFileSync } = await import('node:fs');
  const { tempDir } = await import('./helpers/tmp.js');
  const caFile = `${tempDir()}/ca.pem`;
  writeFileSync(caFile, caPem);
  t = await startTestServer({
    listeners: ['smtp', 'submission'],
    extraConfig: `[outbound]\nport = ${fake.port}\nmta_sts_port = ${stsPort}\nca_file = "${caFile}"\nretry_min = "1s"\nretry_max = "2s"\nconnect_timeout = "3s"\ncommand_timeout = "3s"\nlease = "10s"\n`,
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', 'ann password 1');
  for (const d of ['ok', 'temp', 'reject', 'drop', 'hang', 'sts', 'stsbad', 'stscert', 'dane', 'daneok']) {
    t.dns.set(`${d}.example`, { MX: [{ preference: 10, exchange: `mx.${d}.example` }] });
    t.dns.set(`mx.${d}.example`, { A: ['127.0.0.1'] });
  }
  t.dns.set('null.example', { MX: [{ preference: 0, exchange: '.' }] });
  t.dns.set('_mta-sts.sts.example', { TXT: ['v=STSv1; id=20261127'] });
  t.dns.set('mta-sts.sts.example', { A: ['127.0.0.1'] });
  for (const d of ['stsbad', 'stscert']) {
    t.dns.set(`_mta-sts.${d}.example`, { TXT: ['v=STSv1; id=20261127'] });
    t.dns.set(`mta-sts.${d}.example`, { A: ['127.0.0.1'] });
  }
  // DANE-EE SPKI SHA-256 (3 1 1): the right key for daneok, a wrong one for dane; both "validated".
  const spki = createHash('sha256')
    .update(new X509Certificate(mxCert.cert).publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
  t.dns.set(`_${fake.port}._tcp.mx.daneok.example`, {
    TLSA: [{ usage: 3, selector: 1, matchingType: 1, certificate: spki }],
    AD: true,
  });
  t.dns.set(`_${fake.port}._tcp.mx.dane.example`, {
    TLSA: [{ usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) }],
    AD: true,
  });
});

after(async () => {
  await t?.stop();
  await fake?.close();
  stsServer?.close();
});

function submit(to: string[], subject: string, extra: Record<string, unknown> = {}) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: t.port('submission'),
    secure: false,
    requireTLS: true,
    auth: { user: 'ann@example.com', pass: 'ann password 1' },
    tls: { rejectUnauthorized: false },
  });
  return transport.sendMail({ from: 'ann@example.com', to, subject, text: `body of ${subject}\n`, ...extra });
}

const bounces = async (subject: string) =>
  (await mailbox(t.server, 'ann@example.com')).filter(
    (m) => m.text.includes('multipart/report') && m.text.includes(`Subject: ${subject}`),
  );

describe('outbound delivery', () => {
  it('delivers to the MX over STARTTLS, DKIM-signed, and removes the entry', async () => {
    await submit(['bob@ok.example', 'carol@ok.example'], 'to ok');
    const got = await waitFor('delivery to ok.example', () =>
      fake.received.find((r) => r.data.includes('Subject: to ok')),
    );
    assert.equal(got.from, 'ann@example.com');
    assert.deepEqual(got.to.sort(), ['bob@ok.example', 'carol@ok.example'], 'one transaction for both recipients');
    assert.match(got.data, /^DKIM-Signature: /m);
    await waitFor(
      'queue to empty',
      async () =>
        (await t.server.store.queue.list()).every(
          (e) => !e.recipients.some((r) => r.recipient.endsWith('@ok.example')),
        ) || undefined,
    );
    const tls = await t.server.store.queue.tlsResults(new Date().toISOString().slice(0, 10));
    assert.ok(
      tls.some((r) => r.mxHost === 'mx.ok.example' && r.result === 'success'),
      JSON.stringify(tls),
    );
  });

  it('retries a 4xx and a connection dropped in the middle of DATA, and delivers each once', async () => {
    await submit(['dan@temp.example'], 'to temp');
    await submit(['erin@drop.example'], 'to drop');
    await waitFor('temp.example after a retry', () => fake.received.find((r) => r.data.includes('Subject: to temp')));
    await waitFor('drop.example after a retry', () => fake.received.find((r) => r.data.includes('Subject: to drop')));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(fake.received.filter((r) => r.data.includes('Subject: to drop')).length, 1);
    assert.equal(fake.received.filter((r) => r.data.includes('Subject: to temp')).length, 1);
  });

  it('bounces a 5xx to the sender with an RFC 3464 report and the remote reply; the others still get it', async () => {
    await submit(['nobody@ok.example', 'frank@ok.example'], 'half refused', {
      dsn: { id: 'ENV-1', return: 'headers', notify: ['failure'] },
    });
    const [bounce] = await waitFor('a bounce', async () =>
      (await bounces('half refused')).length ? bounces('half refused') : undefined,
    );
    const text = bounce!.text;
    assert.match(text, /^From: Mail Delivery System <MAILER-DAEMON@mail\.example\.com>/m);
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(text, /Final-Recipient: rfc822; nobody@ok\.example/);
    assert.match(text, /Action: failed/);
    assert.match(text, /Status: 5\.1\.1/);
    assert.match(text, /Remote-MTA: dns; mx\.ok\.example/);
    assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@ok\.example>: no such user/);
    assert.match(text, /Original-Envelope-Id: ENV-1/);
    assert.match(text, /Content-Type: text\/rfc822-headers/, 'RET=HDRS returns the headers only');
    assert.doesNotMatch(text, /body of half refused/);
    assert.match(text, /^Return-Path: <>/m, 'a bounce has the null sender');
    assert.match(
      text,
      /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com;/m,
      'signed by the domain of our hostname',
    );
    assert.ok(fake.received.some((r) => r.data.includes('Subject: half refused') && r.to.includes('frank@ok.example')));
  });

  it('bounces at once for a null MX (RFC 7505) and a domain that does not exist', async () => {
    await submit(['x@null.example'], 'to null mx');
    await submit(['x@nowhere.example'], 'to nowhere');
    const [nullMx] = await waitFor('null MX bounce', async () =>
      (await bounces('to null mx')).length ? bounces('to null mx') : undefined,
    );
    assert.match(nullMx!.text, /Status: 5\.1\.10/);
    assert.match(nullMx!.text, /null MX/);
    const [nx] = await waitFor('NXDOMAIN bounce', async () =>
      (await bounces('to nowhere')).length ? bounces('to nowhere') : undefined,
    );
    assert.match(nx!.text, /Status: 5\.1\.2/);
  });

  it('defers a server that never answers; queue list, hold, release, retry and delete work on it', async () => {
    await submit(['gina@hang.example'], 'to hang');
    const entry = await waitFor('a failed attempt', async () =>
      (await t.server.store.queue.list()).find((e) =>
        e.recipients.some((r) => r.recipient === 'gina@hang.example' && r.attempts >= 1),
      ),
    );
    const cli = (...args: string[]) => run(process.execPath, [BIN, '--config', t.configFile, 'queue', ...args]);
    const list = JSON.parse((await cli('list', '--json')).stdout) as Array<{
      qid: string;
      recipients: Array<{ recipient: string; attempts: number; lastError: string }>;
    }>;
    const listed = list.find((e) => e.qid === entry.qid)!;
    assert.match(listed.recipients[0]!.lastError, /mx\.hang\.example|timed? ?out/i);
    assert.match((await cli('list')).stdout, new RegExp(entry.qid));
    assert.match((await cli('hold', entry.qid)).stdout, /on hold/);
    assert.match((await cli('list')).stdout, new RegExp(`${entry.qid}!`), 'held entries are marked');
    assert.match((await cli('release', entry.qid)).stdout, /released/);
    assert.match((await cli('retry', '--all')).stdout, /due now/);
    assert.match((await cli('show', entry.qid)).stdout, /Subject: to hang/);
    assert.match((await cli('delete', entry.qid)).stdout, /deleted/);
    assert.equal(await t.server.store.queue.get(entry.qid), undefined);
    assert.match((await cli('delete', 'NOSUCHID')).stderr, /no queue entry NOSUCHID/);
    assert.equal(fake.received.filter((r) => r.domain === 'hang.example').length, 0);
  });
});

describe('TLS policy of the destination', () => {
  it('MTA-STS enforce: delivers to a listed MX with a valid certificate; refuses an unlisted MX and a certificate for another name', async () => {
    await submit(['h@sts.example'], 'to sts');
    await waitFor('sts.example delivery', () => fake.received.find((r) => r.data.includes('Subject: to sts')));
    await submit(['i@stsbad.example'], 'to stsbad');
    await submit(['i@stscert.example'], 'to stscert');
    const deferred = (address: string, reason: RegExp) =>
      waitFor(`${address} deferral`, async () =>
        (await t.server.store.queue.list()).find((e) =>
          e.recipients.some((r) => r.recipient === address && reason.test(r.lastError ?? '')),
        ),
      );
    await deferred('i@stsbad.example', /MTA-STS policy/);
    await deferred('i@stscert.example', /not in the cert's altnames/);
    assert.equal(
      fake.received.filter((r) => r.domain === 'stsbad.example' || r.domain === 'stscert.example').length,
      0,
    );
  });

  it('DANE: delivers when the TLSA record matches the certificate, refuses when it does not', async () => {
    await submit(['j@daneok.example'], 'to daneok');
    await waitFor('daneok delivery', () => fake.received.find((r) => r.data.includes('Subject: to daneok')));
    await submit(['k@dane.example'], 'to dane');
    await waitFor('dane deferral', async () =>
      (await t.server.store.queue.list()).find((e) =>
        e.recipients.some((r) => r.recipient === 'k@dane.example' && /TLSA/.test(r.lastError ?? '')),
      ),
    );
    assert.equal(fake.received.filter((r) => r.domain === 'dane.example').length, 0);
    const tls = await t.server.store.queue.tlsResults(new Date().toISOString().slice(0, 10));
    assert.ok(
      tls.some((r) => r.policyDomain === 'dane.example' && r.result === 'tlsa-invalid'),
      JSON.stringify(tls),
    );
  });
});

describe('smarthost', () => {
  it('relays everything through the configured host over STARTTLS with AUTH, checking its certificate', async () => {
    const ca = await makeCert({ commonName: 'Relay CA', isCa: true });
    const cert = await makeCert({ commonName: '127.0.0.1', altNames: ['127.0.0.1'], issuer: ca });
    const logins: string[] = [];
    const got: Array<{ to: string[]; data: string }> = [];
    const relay = new SMTPServer({
      key: cert.key,
      cert: cert.cert,
      logger: false,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, cb) {
        logins.push(`${auth.username}:${auth.password}`);
        return auth.username === 'relayuser' && auth.password === 'relay pass'
          ? cb(null, { user: auth.username })
          : cb(new Error('535 5.7.8 bad credentials'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          got.push({ to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks).toString() });
          cb(null);
        });
      },
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.server.address() as { port: number }).port;
    const s = await startTestServer({
      listeners: ['submission'],
      extraConfig: `[outbound]\nsmarthost = "smtp://relayuser:relay%20pass@127.0.0.1:${port}"\nca_file = "${ca.certFile}"\n`,
    });
    try {
      await s.server.directory.addDomain('example.com');
      await s.server.directory.addAccount('ann@example.com', 'ann password 1');
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: s.port('submission'),
        secure: false,
        requireTLS: true,
        auth: { user: 'ann@example.com', pass: 'ann password 1' },
        tls: { rejectUnauthorized: false },
      });
      // No DNS records at all: the MX of nowhere-dns.example is never looked up.
      await transport.sendMail({
        from: 'ann@example.com',
        to: 'x@nowhere-dns.example',
        subject: 'via relay',
        text: 'relayed\n',
      });
      const end = Date.now() + 15_000;
      while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 1, JSON.stringify(s.logs.filter((l) => l.component === 'outbound')));
      assert.deepEqual(got[0]!.to, ['x@nowhere-dns.example']);
      assert.match(got[0]!.data, /Subject: via relay/);
      assert.deepEqual(logins, ['relayuser:relay pass']);
    } finally {
      await s.stop();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });
});

/** Submits one message to a server whose smarthost is `smarthost`, then runs `check` on it. */
async function relayThrough(smarthost: string, check: (s: TestServer) => Promise<void>) {
  const s = await startTestServer({
    listeners: ['submission'],
    extraConfig: `[outbound]\nsmarthost = "${smarthost}"\nretry_min = "1h"\n`,
  });
  try {
    await s.server.directory.addDomain('example.com');
    await s.server.directory.addAccount('ann@example.com', 'ann password 1');
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: s.port('submission'),
      secure: false,
      requireTLS: true,
      auth: { user: 'ann@example.com', pass: 'ann password 1' },
      tls: { rejectUnauthorized: false },
    });
    await transport.sendMail({
      from: 'ann@example.com',
      to: 'x@nowhere-dns.example',
      subject: 'via relay',
      text: 'relayed\n',
    });
    await check(s);
  } finally {
    await s.stop();
  }
}

/** Waits up to 15 s for `done`. */
const until = async (done: () => boolean | Promise<boolean>) => {
  for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50)))
    if (await done()) return;
};

describe('smarthost TLS policy', () => {
  /** A relay on loopback that never offers STARTTLS, recording what it is sent. */
  async function plainRelay() {
    const got: Array<{ to: string[]; isSecure: boolean }> = [];
    const logins: string[] = [];
    const relay = new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        logins.push(String(auth.username));
        cb(null, { user: auth.username });
      },
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          got.push({ to: session.envelope.rcptTo.map((r) => r.address), isSecure: session.secure });
          cb(null);
        });
      },
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    return {
      got,
      logins,
      port: (relay.server.address() as { port: number }).port,
      close: () => new Promise<void>((resolve) => relay.close(() => resolve())),
    };
  }

  it('sends in the clear to a loopback relay without STARTTLS ("host:port": may), and says why it will not to one where TLS is required', async () => {
    const relay = await plainRelay();
    try {
      await relayThrough(`127.0.0.1:${relay.port}`, async () => {
        await until(() => relay.got.length > 0);
        assert.deepEqual(relay.got, [{ to: ['x@nowhere-dns.example'], isSecure: false }]);
      });
      await relayThrough(`smtp://u:secret@127.0.0.1:${relay.port}`, async (s) => {
        const reason = 'does not offer STARTTLS, required by [outbound] smarthost';
        await until(async () =>
          (await s.server.store.queue.list()).some((q) =>
            q.recipients.some((r) => (r.lastError ?? '').includes(reason)),
          ),
        );
        const entry = (await s.server.store.queue.list())[0]!;
        assert.match(
          entry.recipients[0]!.lastError ?? '',
          /4\.7\.10 relay 127\.0\.0\.1:\d+ does not offer STARTTLS, required by \[outbound\] smarthost/,
        );
        assert.equal(entry.recipients[0]!.status, 'pending', 'deferred, not bounced');
        assert.ok(
          s.logs.some((l) => String(l.msg).includes(reason)),
          'logged',
        );
      });
      assert.deepEqual(relay.logins, [], 'the password never went out in the clear');
      assert.equal(relay.got.length, 1);
      await relayThrough(`smtp://u:secret@127.0.0.1:${relay.port}?tls=none`, async () => {
        await until(() => relay.got.length > 1);
        assert.equal(relay.got.length, 2, '?tls=none lets the admin say so');
      });
    } finally {
      await relay.close();
    }
  });
});

describe('smarthost certificate checks', () => {
  it('?tls=may encrypts to a relay whose certificate no CA signed, as Postfix\'s "may" does; ?tls=required checks it and defers', async () => {
    const cert = await makeCert({ commonName: 'relay.invalid', altNames: ['relay.invalid'] });
    const got: boolean[] = [];
    const relay = new SMTPServer({
      key: cert.key,
      cert: cert.cert,
      logger: false,
      authOptional: true,
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          got.push(session.secure);
          cb(null);
        });
      },
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.server.address() as { port: number }).port;
    const send = (query: string, check: (s: TestServer) => Promise<void>) =>
      relayThrough(`smtp://127.0.0.1:${port}?${query}`, check);
    try {
      await send('tls=may', async () => {
        await until(() => got.length > 0);
        assert.deepEqual(got, [true], 'delivered over STARTTLS');
      });
      await send('tls=required', async (s) => {
        await until(async () => (await s.server.store.queue.list()).some((q) => q.recipients.some((r) => r.lastError)));
        const r = (await s.server.store.queue.list())[0]!.recipients[0]!;
        assert.equal(r.status, 'pending');
        assert.match(r.lastError ?? '', /certificate|self.signed|issuer/i);
      });
      assert.equal(got.length, 1, 'nothing sent where the certificate was required to check out');
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });
});

describe('delay warnings and expiry', () => {
  it('warns the sender after delay_warning, bounces at the end of the lifetime, honours NOTIFY=NEVER, and never bounces a null sender', async () => {
    const s = await startTestServer({
      listeners: ['smtp', 'submission'],
      extraConfig: `[outbound]\nport = ${fake.port}\nretry_min = "1s"\nretry_max = "1s"\ndelay_warning = "2s"\nlifetime = "6s"\nconnect_timeout = "3s"\ncommand_timeout = "3s"\n`,
    });
    try {
      await s.server.directory.addDomain('example.com');
      await s.server.directory.addAccount('ann@example.com', 'ann password 1');
      await s.server.directory.addAlias('fwd@example.com', ['z@always.example']);
      s.dns.set('always.example', { MX: [{ preference: 10, exchange: 'mx.always.example' }] });
      s.dns.set('mx.always.example', { A: ['127.0.0.1'] });
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: s.port('submission'),
        secure: false,
        requireTLS: true,
        auth: { user: 'ann@example.com', pass: 'ann password 1' },
        tls: { rejectUnauthorized: false },
      });
      await transport.sendMail({
        from: 'ann@example.com',
        to: 'x@always.example',
        subject: 'slow one',
        text: 'waiting\n',
      });
      await transport.sendMail({
        from: 'ann@example.com',
        to: 'y@always.example',
        subject: 'quiet one',
        text: 'no news\n',
        dsn: { notify: ['never'] },
      });
      // A bounce arriving from elsewhere (null sender) for an alias that forwards to the same place.
      const mx = nodemailer.createTransport({
        host: '127.0.0.1',
        port: s.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      await mx.sendMail({
        envelope: { from: '', to: ['fwd@example.com'] },
        raw: 'From: MAILER-DAEMON@remote.example\r\nTo: fwd@example.com\r\nSubject: a bounce\r\n\r\nreturned\r\n',
      });

      const reports = async () =>
        (await mailbox(s.server, 'ann@example.com')).filter((m) => m.text.includes('multipart/report'));
      const end = Date.now() + 30_000;
      while (Date.now() < end && ((await reports()).length < 2 || (await s.server.store.queue.list()).length > 0))
        await new Promise((r) => setTimeout(r, 200));
      const got = await reports();
      const delay = got.filter((m) => /Action: delayed/.test(m.text));
      const failed = got.filter((m) => /Action: failed/.test(m.text));
      assert.equal(delay.length, 1, 'one delay warning');
      assert.match(delay[0]!.text, /Final-Recipient: rfc822; x@always\.example/);
      assert.match(delay[0]!.text, /Diagnostic-Code: smtp; 451 4\.2\.1/);
      assert.match(delay[0]!.text, /Will-Retry-Until: /);
      assert.equal(failed.length, 1, 'one failure report, at the end of the lifetime');
      assert.match(failed[0]!.text, /Final-Recipient: rfc822; x@always\.example/);
      assert.match(failed[0]!.text, /expired/);
      assert.ok(!got.some((m) => m.text.includes('y@always.example')), 'NOTIFY=NEVER: no report for y@always.example');
      assert.deepEqual(
        await s.server.store.queue.list(),
        [],
        'everything left the queue, the null-sender message without a bounce',
      );
      assert.ok(!fake.received.some((r) => r.domain === 'always.example'));
    } finally {
      await s.stop();
    }
  });
});
