import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import {
  checkDestination,
  checkPushUrl,
  isPublicAddress,
  postPublicHttps,
  RefusedDestination,
} from './public-https.js';

describe('public HTTPS destinations', () => {
  it('takes public unicast addresses only, in every spelling', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e'])
      assert.ok(isPublicAddress(a), a);
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '0.0.0.0',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '100.64.0.1', // carrier-grade NAT
      '169.254.169.254', // cloud metadata
      '192.0.2.1', // documentation
      '198.18.0.1', // benchmarking
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:127.0.0.1', // IPv4-mapped loopback
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      'fe80::1',
      'fd00::1',
      'fc00::1',
      'ff02::1',
      '2001:db8::1',
      '64:ff9b::a00:1', // NAT64 of 10.0.0.1
      '2002:7f00:1::1', // 6to4 of 127.0.0.1
      'not an address',
    ])
      assert.equal(isPublicAddress(a), false, a);
  });

  it('refuses a name when any of its addresses is private (DNS rebinding), unless told to let them through', async () => {
    const resolveHost = (answers: Record<string, string[]>) => (host: string) => Promise.resolve(answers[host] ?? []);
    const dns = resolveHost({
      'push.example': ['93.184.216.34'],
      'mixed.example': ['93.184.216.34', '10.0.0.7'],
      'inside.example': ['192.168.0.10'],
    });
    const check = (url: string, allowPrivate = false) =>
      checkDestination(new URL(url), { allowPrivate, resolveHost: dns });
    assert.equal(await check('https://push.example/x'), '93.184.216.34');
    await assert.rejects(check('https://mixed.example/x'), /mixed.example resolves to 10.0.0.7, which is not a public/);
    await assert.rejects(check('https://inside.example/x'), RefusedDestination);
    await assert.rejects(check('https://nowhere.example/x'), /has no address/);
    await assert.rejects(check('https://127.0.0.1:8443/x'), /127.0.0.1 is not a public address/);
    await assert.rejects(check('https://[::1]/x'), /::1 is not a public address/);
    await assert.rejects(check('https://[::ffff:127.0.0.1]/x'), RefusedDestination);
    assert.equal(await check('https://inside.example/x', true), '192.168.0.10');
  });

  it('takes https URLs without credentials only', () => {
    assert.equal(checkPushUrl('https://push.example/a?b=c'), undefined);
    assert.match(checkPushUrl('http://push.example/')!, /https/);
    assert.match(checkPushUrl('https://u:p@push.example/')!, /user name/);
    assert.match(checkPushUrl('not a url')!, /not a URL/);
    assert.match(checkPushUrl(`https://push.example/${'a'.repeat(2100)}`)!, /2,000/);
  });

  it('gives up on a push service that answers too slowly, a byte at a time, and verifies its certificate', async () => {
    const pems = await generate([{ name: 'commonName', value: 'push.test' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const timers = new Set<NodeJS.Timeout>();
    const server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      if (req.url === '/ok') return void res.writeHead(201).end();
      res.writeHead(200);
      const drip = setInterval(() => res.write('x'), 50); // never silent for long, never done
      timers.add(drip);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = (p: string) => `https://127.0.0.1:${(server.address() as AddressInfo).port}${p}`;
    const post = (p: string, ca: string[]) =>
      postPublicHttps({
        url: url(p),
        headers: {},
        body: Buffer.from('{}'),
        ca,
        allowPrivate: true,
        timeoutMs: 200,
        maxBytes: 1 << 20,
      });
    try {
      assert.deepEqual(await post('/ok', [pems.cert]), { status: 201 });
      const started = Date.now();
      await assert.rejects(post('/slow', [pems.cert]), /not done within 600 ms/);
      assert.ok(Date.now() - started < 3000);
      await assert.rejects(post('/ok', []), /self.signed|certificate/i);
      await assert.rejects(
        postPublicHttps({
          url: url('/ok'),
          headers: {},
          body: Buffer.alloc(0),
          allowPrivate: false,
          timeoutMs: 200,
          maxBytes: 10,
        }),
        RefusedDestination,
      );
    } finally {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      server.close();
    }
  });
});
