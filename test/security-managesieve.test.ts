/**
 * ManageSieve under attack, over real sockets, while a well-behaved client keeps asking for its
 * capabilities: STARTTLS command injection, large literals before login, slowloris, a pipelining
 * client that never reads, and malformed SASL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertFloodBounded,
  assertResponsive,
  memoryInUse,
  Probe,
  RawClient,
  sendUntilClosed,
} from './helpers/attack.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
let probeClient: RawClient;

function probe(): Probe {
  return new Probe(async () => {
    const mark = probeClient.text.length;
    probeClient.write('NOOP\r\n');
    await probeClient.waitFor(/^OK[^\r\n]*\r\n/m, 10_000, mark);
  });
}

async function greeted(): Promise<RawClient> {
  const c = await RawClient.connect(t.port('managesieve'));
  await c.waitFor(/^OK /m);
  return c;
}

/** Greeted, then over TLS (PLAIN is offered only there). */
async function secured(): Promise<RawClient> {
  const c = await greeted();
  c.write('STARTTLS\r\n');
  await c.waitFor(/OK "Begin TLS negotiation now"\r\n/);
  const mark = c.text.length;
  await c.startTls();
  await c.waitFor(/OK "TLS negotiation successful"\r\n/, 10_000, mark);
  return c;
}

before(async () => {
  t = await startTestServer({
    listeners: ['managesieve'],
    extraConfig: '[limits]\nlogin_timeout = "3s"\n',
    logLevel: 'info',
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', 'ann password 1');
  probeClient = await secured();
  probeClient.write(
    `AUTHENTICATE "PLAIN" "${Buffer.from('\0ann@example.com\0ann password 1').toString('base64')}"\r\n`,
  );
  await probeClient.waitFor(/OK "Logged in"/);
});

after(async () => {
  probeClient.destroy();
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('ManageSieve under attack', () => {
  it('drops commands pipelined after STARTTLS', async () => {
    const c = await greeted();
    c.write(
      `STARTTLS\r\nAUTHENTICATE "PLAIN" "${Buffer.from('\0ann@example.com\0ann password 1').toString('base64')}"\r\nLISTSCRIPTS\r\n`,
    );
    await c.waitFor(/OK "Begin TLS negotiation now"\r\n/);
    const before = c.text.length;
    await c.startTls();
    await c.waitFor(/OK "TLS negotiation successful"\r\n/, 10_000, before);
    const mark = c.text.length;
    c.write('LISTSCRIPTS\r\n');
    await c.waitFor(/^NO [^\r\n]*\r\n/m, 10_000, mark);
    assert.match(
      c.text.slice(mark),
      /^NO "LISTSCRIPTS needs authentication first"/,
      'the injected AUTHENTICATE never ran',
    );
    c.destroy();
  });

  it('refuses large literals before login without reading them', async () => {
    const p = probe();
    p.start();
    const c = await greeted();
    const before = memoryInUse();
    c.write('AUTHENTICATE "PLAIN" {52428800+}\r\n');
    const sent = await sendUntilClosed(c);
    assert.ok(await c.waitClosed(10_000), 'closed after the skip budget');
    console.log(`# sent ${(sent / 1048576).toFixed(1)} MB of the literal before the server stopped reading`);
    assert.ok(sent < 16 << 20, `the server read ${sent} bytes of a literal it refused`);
    assert.match(c.text, /BYE "Literal of 52428800 bytes is too large"/);
    assert.ok(memoryInUse() - before < 16 << 20);
    await assertResponsive(p);
  });

  it('closes a connection that has not logged in within the login timeout', async () => {
    const c = await greeted();
    const drip = setInterval(() => c.write('N'), 300);
    try {
      assert.ok(await c.waitClosed(10_000));
    } finally {
      clearInterval(drip);
    }
    assert.match(c.text, /BYE "Login timeout"/);
  });

  it('stops reading a client that pipelines commands and never reads the answers', async () => {
    const p = probe();
    p.start();
    const c = await greeted();
    await assertFloodBounded(c, 'CAPABILITY\r\n');
    await assertResponsive(p);
    c.destroy();
  });

  it('answers malformed SASL PLAIN with NO', async () => {
    for (const response of [
      '!!!!',
      Buffer.from('a\0b\0c\0d').toString('base64'),
      Buffer.from(`\0${'u'.repeat(300)}\0pw`).toString('base64'),
      '',
    ]) {
      const c = await secured();
      c.write(`AUTHENTICATE "PLAIN" "${response}"\r\n`);
      await c.waitFor(/^NO "Invalid SASL response[^\r\n]*\r\n/m);
      c.destroy();
    }
  });
});
