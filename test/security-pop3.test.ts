/**
 * POP3 under attack, over real sockets, while Python's poplib (a second, well-behaved client) keeps
 * working: STLS command injection, a pipelining client that never reads, slowloris before login,
 * a stream of invalid commands, malformed SASL, and RETR of a large message to a slow reader.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertFloodBounded, assertResponsive, Probe, RawClient, sleep } from './helpers/attack.js';
import { python } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

let t: TestServer;
let probe: Probe;

/** A well-behaved client: poplib logs in, STATs and QUITs, in a separate process that times its session. */
function poplibProbe(): Probe {
  return new Probe(async () => {
    const r = await python<[number, number]>(
      `
import poplib, ssl, json, os, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
started = time.monotonic()
P = poplib.POP3_SSL('127.0.0.1', int(os.environ['P']), context=ctx, timeout=20)
P.user('bob@example.com'); P.pass_('bob password 1')
n = P.stat()[0]
P.quit()
print(json.dumps([n, (time.monotonic() - started) * 1000]))`,
      { P: t.port('pop3s') },
    );
    if (typeof r[0] !== 'number') throw new Error(`poplib got ${JSON.stringify(r)}`);
    return r[1];
  });
}

before(async () => {
  t = await startTestServer({
    listeners: ['smtp', 'pop3', 'pop3s'],
    extraConfig: '[limits]\nlogin_timeout = "3s"\n',
    logLevel: 'info',
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', 'ann password 1');
  await t.server.directory.addAccount('bob@example.com', 'bob password 1');
  const smtp = await RawSmtp.connect(t.port('smtp'));
  await smtp.send(
    'x@remote.example',
    ['ann@example.com'],
    `From: x@remote.example\r\nSubject: big\r\n\r\n${'.dotted line\r\n'.repeat(300_000)}`,
  );
  smtp.close();
});

after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('POP3 under attack', () => {
  it('drops commands pipelined after STLS instead of running them inside TLS', async () => {
    const c = await RawClient.connect(t.port('pop3'));
    await c.waitFor(/^\+OK/);
    c.write('STLS\r\nUSER ann@example.com\r\nPASS ann password 1\r\n');
    await c.waitFor(/\+OK Begin TLS negotiation\r\n/);
    await c.startTls();
    const mark = c.text.length;
    c.write('STAT\r\nNOOP\r\n');
    await c.waitFor(/\r\n\+OK\r\n$/);
    assert.equal(c.text.slice(mark), '-ERR Log in first\r\n+OK\r\n', 'not logged in by the injected USER/PASS');
    c.destroy();
    assert.ok(t.logs.some((l) => l.msg === 'pop3: discarded input pipelined after STLS'));
  });

  it('stops reading a client that pipelines CAPA and never reads the answers', async () => {
    probe = poplibProbe();
    probe.start();
    const c = await RawClient.connect(t.port('pop3'), { keepText: false });
    await c.waitFor(/^\+OK/);
    // Each CAPA is answered with ~140 bytes: 20 MB of them read whole would be 500 MB of answers.
    await assertFloodBounded(c, 'CAPA\r\n');
    await assertResponsive(probe);
    c.destroy();
  });

  it('streams RETR to a slow reader, dot-stuffed, without holding the message', async () => {
    const c = await RawClient.connect(t.port('pop3s'), { tls: true, keepText: false });
    await c.waitFor(/^\+OK/);
    c.write('USER ann@example.com\r\nPASS ann password 1\r\n');
    await c.waitFor(/Logged in/);
    const from = c.bytes;
    c.write('RETR 1\r\n');
    for (let i = 0; i < 20; i++) {
      c.socket.pause();
      await sleep(50);
      c.socket.resume();
    }
    await c.waitFor(/\r\n\.\.dotted line\r\n\.\r\n$/, 30_000);
    const size = 300_000 * '.dotted line\r\n'.length;
    assert.ok(c.bytes - from > size + 300_000, 'every line stuffed');
    c.write('QUIT\r\n');
    c.destroy();
  });

  it('closes a connection that has not logged in within the login timeout', async () => {
    const c = await RawClient.connect(t.port('pop3'));
    await c.waitFor(/^\+OK/);
    const drip = setInterval(() => c.write('N'), 300);
    try {
      assert.ok(await c.waitClosed(10_000));
    } finally {
      clearInterval(drip);
    }
    assert.match(c.text, /-ERR Login timeout/);
  });

  it('closes a connection after ten invalid commands in a row', async () => {
    const c = await RawClient.connect(t.port('pop3'));
    await c.waitFor(/^\+OK/);
    c.write('XXXX\r\n'.repeat(12));
    assert.ok(await c.waitClosed(10_000), 'closed');
    assert.equal(c.text.match(/-ERR Unknown command/g)?.length, 10);
    assert.match(c.text, /-ERR Too many invalid commands\r\n$/);
  });

  it('answers malformed SASL PLAIN with -ERR, never a crash', async () => {
    const c = await RawClient.connect(t.port('pop3s'), { tls: true });
    await c.waitFor(/^\+OK/);
    const bad = [
      'AUTH PLAIN !!!!',
      'AUTH PLAIN AGFubkBleGFtcGxlLmNvbQ',
      `AUTH PLAIN ${Buffer.from('\0ann@example.com').toString('base64')}`,
      `AUTH PLAIN ${Buffer.from('a\0b\0c\0d').toString('base64')}`,
      `AUTH PLAIN ${Buffer.from(`\0${'u'.repeat(300)}\0pw`).toString('base64')}`,
      `AUTH PLAIN ${Buffer.from([0, 0xff, 0xfe, 0, 0x41]).toString('base64')}`,
      'AUTH PLAIN = extra',
    ];
    for (const line of bad) c.write(`${line}\r\n`);
    c.write('NOOP\r\n');
    await c.waitFor(/(-ERR[^\r\n]*\r\n){7}\+OK\r\n$/);
    c.destroy();
  });
});
