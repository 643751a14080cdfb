import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { writeCertbotCert } from '../../test/helpers/certs.js';
import { echoSession } from '../../test/helpers/echo-session.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { createLogger } from '../lib/log.js';
import { CertificateRegistry } from '../services/tls/registry.js';
import { startListeners, type ListenerLimits } from './index.js';

const root = tempDir();
const logLines: Array<Record<string, unknown>> = [];
const log = createLogger({
  level: 'debug',
  sink: { write: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>) },
});

async function setup(limits: Partial<ListenerLimits> = {}) {
  const certbotDir = path.join(root, 'le');
  await writeCertbotCert(certbotDir, 'mail.example.com', ['mail.example.com']);
  const registry = new CertificateRegistry({
    hostname: 'mail.example.com',
    dataDir: root,
    certbotDir,
    certificates: [],
    reloadIntervalMs: 0,
    expiryWarningMs: 0,
    log,
  });
  await registry.start();
  const listeners = await startListeners(
    [
      { name: 'plain', host: '127.0.0.1', port: 0, isImplicitTls: false, factory: echoSession, busyReply: 'BUSY\r\n' },
      { name: 'secure', host: '127.0.0.1', port: 0, isImplicitTls: true, factory: echoSession },
    ],
    {
      tls: registry,
      log,
      limits: {
        maxConnections: 100,
        maxConnectionsPerIp: 100,
        ipv6Prefix: 64,
        tlsHandshakeTimeoutMs: 5000,
        shutdownTimeoutMs: 1000,
        ...limits,
      },
    },
  );
  const port = (name: string) => listeners.bound.find((b) => b.name === name)!.port;
  return { listeners, port };
}

/** Reads CRLF lines from a socket one at a time. */
function reader(socket: net.Socket | tls.TLSSocket) {
  let buffer = '';
  const waiting: Array<(line: string | null) => void> = [];
  const onData = (d: Buffer) => {
    buffer += d.toString();
    let i;
    while ((i = buffer.indexOf('\r\n')) >= 0 && waiting.length) {
      const l = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      waiting.shift()!(l);
    }
  };
  socket.on('data', onData);
  socket.on('close', () => waiting.splice(0).forEach((w) => w(null)));
  return {
    next: () =>
      new Promise<string | null>((resolve) => {
        waiting.push(resolve);
        onData(Buffer.alloc(0));
      }),
    detach: () => socket.off('data', onData),
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

describe('listeners', () => {
  it('upgrades a plain connection with STARTTLS, and SNI applies to it', async () => {
    const { listeners, port } = await setup();
    const plain = await connect(port('plain'));
    const r = reader(plain);
    plain.write('hello\r\n');
    assert.equal(await r.next(), 'ECHO hello');
    plain.write('STARTTLS\r\n');
    assert.equal(await r.next(), 'GO');
    r.detach();
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, servername: 'mail.example.com', rejectUnauthorized: false }, () =>
        resolve(s),
      );
      s.once('error', reject);
    });
    assert.equal(secure.getPeerX509Certificate()!.subjectAltName, 'DNS:mail.example.com');
    const sr = reader(secure);
    secure.write('WHO\r\n');
    const who = JSON.parse((await sr.next())!) as { cid: string; tls: { protocol: string; servername: string } };
    assert.match(who.tls.protocol, /^TLSv1\.[23]$/);
    assert.equal(who.tls.servername, 'mail.example.com');
    assert.ok(
      logLines.some((l) => l.cid === who.cid && l.msg === 'connected'),
      'log lines carry the connection id',
    );
    secure.write('QUIT\r\n');
    assert.equal(await sr.next(), 'BYE');
    secure.destroy();
    await listeners.close();
  });

  it('refuses connections over the per-IP limit with the busy reply', async () => {
    const { listeners, port } = await setup({ maxConnectionsPerIp: 2 });
    const a = await connect(port('plain'));
    const b = await connect(port('plain'));
    const c = await connect(port('plain'));
    assert.equal(await reader(c).next(), 'BUSY');
    const ra = reader(a);
    a.write('x\r\n');
    assert.equal(await ra.next(), 'ECHO x', 'connections within the limit are served');
    b.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const d = await connect(port('plain'));
    const rd = reader(d);
    d.write('y\r\n');
    assert.equal(await rd.next(), 'ECHO y', 'a freed slot is reused');
    for (const s of [a, c, d]) s.destroy();
    await listeners.close();
  });

  it('closes an implicit-TLS connection that never finishes its handshake', async () => {
    const { listeners, port } = await setup({ tlsHandshakeTimeoutMs: 200 });
    const s = await connect(port('secure'));
    const closed = await new Promise<boolean>((resolve) => {
      s.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    assert.equal(closed, true);
    await listeners.close();
  });

  it('on shutdown stops accepting, tells open sessions, and closes them', async () => {
    const { listeners, port } = await setup();
    const s = await connect(port('plain'));
    const r = reader(s);
    s.write('ping\r\n');
    assert.equal(await r.next(), 'ECHO ping');
    const closing = listeners.close(2000);
    assert.equal(await r.next(), 'SHUTDOWN');
    await closing;
    assert.equal(listeners.connectionCount(), 0);
    await assert.rejects(connect(port('plain')), /ECONNREFUSED/);
    s.destroy();
  });

  it('says which address it could not bind', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const certbotDir = path.join(root, 'le');
    const registry = new CertificateRegistry({
      hostname: 'mail.example.com',
      dataDir: root,
      certbotDir,
      certificates: [],
      reloadIntervalMs: 0,
      expiryWarningMs: 0,
      log,
    });
    await registry.start();
    await assert.rejects(
      startListeners([{ name: 'imap', host: '127.0.0.1', port: taken, isImplicitTls: false, factory: echoSession }], {
        tls: registry,
        log,
        limits: {
          maxConnections: 1,
          maxConnectionsPerIp: 1,
          ipv6Prefix: 64,
          tlsHandshakeTimeoutMs: 1000,
          shutdownTimeoutMs: 100,
        },
      }),
      new RegExp(`cannot listen on 127.0.0.1:${taken} for imap: .*EADDRINUSE`),
    );
    blocker.close();
  });
});
