/**
 * HTTP(S) under attack, over real sockets, while a well-behaved client keeps fetching autoconfig:
 * oversized and malformed requests, a client that floods pipelined requests without reading, and
 * more connections than one client may hold.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertFloodBounded, assertResponsive, Probe, RawClient, sleep } from './helpers/attack.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;

function probe(): Probe {
  return new Probe(async () => {
    const c = await RawClient.connect(t.port('https'), { tls: true });
    c.write(
      'GET /mail/config-v1.1.xml?emailaddress=ann%40example.com HTTP/1.1\r\nHost: autoconfig.example.com\r\nConnection: close\r\n\r\n',
    );
    await c.waitFor(/^HTTP\/1\.1 200 [^]*<\/clientConfig>/);
    c.destroy();
  });
}

before(async () => {
  t = await startTestServer({
    listeners: ['http', 'https'],
    extraConfig: '[limits]\nmax_connections_per_ip = 20\n',
    logLevel: 'info',
  });
  await t.server.directory.addDomain('example.com');
});

after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('HTTP under attack', () => {
  it('answers oversized headers with 431 and garbage with 400', async () => {
    const big = await RawClient.connect(t.port('https'), { tls: true });
    big.write(`GET / HTTP/1.1\r\nHost: mail.example.com\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await big.waitFor(/^HTTP\/1\.1 431 /);
    big.destroy();
    const junk = await RawClient.connect(t.port('http'));
    junk.write('\x16\x03\x01garbage\r\n\r\n');
    await junk.waitFor(/^HTTP\/1\.1 400 /);
    junk.destroy();
  });

  it('stops reading a client that pipelines requests and never reads the answers', async () => {
    const p = probe();
    p.start();
    const c = await RawClient.connect(t.port('https'), { tls: true, keepText: false });
    await assertFloodBounded(c, 'GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\n\r\n');
    await assertResponsive(p);
    c.destroy();
  });

  it('refuses connections past the per-client limit', async () => {
    const held = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(t.port('http'))));
    const extra = await RawClient.connect(t.port('http'));
    assert.ok(await extra.waitClosed(5000), 'the 21st connection is closed');
    for (const c of held) c.destroy();
    await sleep(200);
    const again = await RawClient.connect(t.port('http'));
    again.write('GET / HTTP/1.1\r\nHost: mail.example.com\r\n\r\n');
    await again.waitFor(/^HTTP\/1\.1 30[18] /);
    again.destroy();
  });
});
