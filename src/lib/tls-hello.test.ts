import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { it } from 'node:test';
import { parseClientHello } from './tls-hello.js';

/** The first bytes a real TLS client sends, as Node's client writes them. */
async function captureHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) =>
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
      }),
    ),
  );
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

it('reads the server name and ALPN protocols of a real ClientHello, whole or in pieces', async () => {
  const hello = await captureHello({ servername: 'mail.example.com', ALPNProtocols: ['acme-tls/1'] });
  assert.deepEqual(parseClientHello(hello), { servername: 'mail.example.com', alpn: ['acme-tls/1'] });
  assert.equal(parseClientHello(hello.subarray(0, 3)), 'more');
  assert.equal(parseClientHello(hello.subarray(0, hello.length - 1)), 'more');
  const plain = await captureHello({ ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(parseClientHello(plain), { servername: undefined, alpn: ['h2', 'http/1.1'] });
});

it('answers undefined for bytes that are not a TLS handshake, and for a truncated body', () => {
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), undefined);
  assert.equal(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])), undefined); // ServerHello type
  // A ClientHello whose extensions claim more bytes than it holds.
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32),
    Buffer.from([0, 0, 2, 0x13, 0x01, 1, 0, 0x00, 0x40]),
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0, 0, body.length]), body]);
  const rec = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0, hs.length]), hs]);
  assert.equal(parseClientHello(rec), undefined);
  assert.equal(
    parseClientHello(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), Buffer.alloc(70_000)])),
    undefined,
  );
});

it('gives up on a hello cut into many tiny records, and on empty records', async () => {
  const hello = await captureHello({ servername: 'mail.example.com' });
  const body = hello.subarray(5);
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i++) pieces.push(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, body[i]!]));
  assert.equal(parseClientHello(Buffer.concat(pieces)), undefined, 'a hello in one-byte records');
  const two = Buffer.concat([
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10]),
    body.subarray(0, 16),
    Buffer.from([0x16, 0x03, 0x01]),
    Buffer.from([(body.length - 16) >> 8, (body.length - 16) & 0xff]),
    body.subarray(16),
  ]);
  assert.deepEqual(parseClientHello(two), { servername: 'mail.example.com', alpn: [] }, 'two records are fine');
  assert.equal(
    parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00, 0x16, 0x03, 0x01, 0x00, 0x00])),
    undefined,
    'empty records',
  );
});
