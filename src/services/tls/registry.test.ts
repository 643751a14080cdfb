import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { writeCertbotCert } from '../../../test/helpers/certs.js';
import { echoSession } from '../../../test/helpers/echo-session.js';
import { peer } from '../../../test/helpers/peers.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { createLogger } from '../../lib/log.js';
import { startListeners, type Listeners } from '../../listeners/index.js';
import { CertificateRegistry, selfSignedPems } from './registry.js';

const LIMITS = {
  maxConnections: 100,
  maxConnectionsPerIp: 100,
  ipv6Prefix: 64,
  tlsHandshakeTimeoutMs: 5000,
  shutdownTimeoutMs: 1000,
};

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({
    level: 'debug',
    sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  });
  return { lines, log };
}

/** Connects with TLS and returns the served certificate's names and fingerprint, and the socket. */
function handshake(
  port: number,
  servername: string | undefined,
  extra: tls.ConnectionOptions = {},
): Promise<{ names: string; fingerprint: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}), ...extra },
      () => {
        const cert = socket.getPeerX509Certificate()!;
        resolve({ names: cert.subjectAltName ?? '', fingerprint: cert.fingerprint256, socket });
      },
    );
    socket.once('error', reject);
  });
}

function line(socket: tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString().trim()));
    socket.write(`${text}\r\n`);
  });
}

describe('certificate registry and SNI', () => {
  const root = tempDir();
  const certbotDir = path.join(root, 'letsencrypt');
  const extraDir = path.join(root, 'extra');
  const { lines, log } = capture();
  let registry: CertificateRegistry;
  let listeners: Listeners;
  let port: number;

  before(async () => {
    await writeCertbotCert(certbotDir, 'a.example', ['mail.a.example', 'a.example']);
    await writeCertbotCert(certbotDir, 'b.example', ['mail.b.example']);
    await writeCertbotCert(certbotDir, 'mail.host.example', ['mail.host.example']);
    await writeCertbotCert(certbotDir, 'soon.example', ['soon.example'], {
      notAfter: new Date(Date.now() + 3 * 86_400_000),
    });
    const wild = await selfSignedPems(['*.wild.example']);
    mkdirSync(extraDir, { recursive: true });
    writeFileSync(path.join(extraDir, 'wild.key'), wild.key);
    writeFileSync(path.join(extraDir, 'wild.pem'), wild.cert);
    registry = new CertificateRegistry({
      hostname: 'mail.host.example',
      dataDir: path.join(root, 'data'),
      certbotDir,
      certificates: [{ key: path.join(extraDir, 'wild.key'), chain: path.join(extraDir, 'wild.pem') }],
      reloadIntervalMs: 100,
      expiryWarningMs: 14 * 86_400_000,
      log,
    });
    await registry.start();
    listeners = await startListeners(
      [{ name: 'test', host: '127.0.0.1', port: 0, isImplicitTls: true, factory: echoSession }],
      { tls: registry, limits: LIMITS, log },
    );
    port = listeners.bound[0]!.port;
  });
  after(async () => {
    await listeners.close(500);
    registry.stop();
  });

  it('serves each hosted domain its own certificate by SNI', async () => {
    for (const [sni, expect] of [
      ['mail.a.example', 'DNS:mail.a.example, DNS:a.example'],
      ['A.Example', 'DNS:mail.a.example, DNS:a.example'],
      ['mail.b.example', 'DNS:mail.b.example'],
    ]) {
      const { names, socket } = await handshake(port, sni);
      assert.equal(names, expect, sni);
      socket.destroy();
    }
  });

  it('serves a wildcard certificate for one label below it', async () => {
    const { names, socket } = await handshake(port, 'imap.wild.example');
    assert.equal(names, 'DNS:*.wild.example');
    socket.destroy();
    const deeper = await handshake(port, 'a.b.wild.example');
    assert.equal(deeper.names, 'DNS:mail.host.example', 'a wildcard covers one label only (RFC 6125 §6.4.3)');
    deeper.socket.destroy();
  });

  it('falls back to the hostname certificate for an unknown name and for no SNI', async () => {
    const unknown = await handshake(port, 'unknown.example');
    assert.equal(unknown.names, 'DNS:mail.host.example');
    unknown.socket.destroy();
    const none = await handshake(port, undefined);
    assert.equal(none.names, 'DNS:mail.host.example');
    none.socket.destroy();
  });

  it('agrees with openssl s_client -servername', { skip: peer('openssl', 'openssl') }, async () => {
    const sClient = async (...args: string[]) => {
      const child = promisify(execFile)('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
        timeout: 10_000,
      });
      child.child.stdin!.end();
      return (await child).stdout;
    };
    for (const [sni, cn] of [
      ['mail.b.example', 'mail.b.example'],
      ['x.wild.example', '*.wild.example'],
      ['nobody.example', 'mail.host.example'],
    ]) {
      const out = await sClient('-servername', sni!);
      assert.match(out, new RegExp(`subject=CN ?= ?${cn!.replace(/[.*]/g, '\\$&')}`), `${sni}: ${out.slice(0, 400)}`);
    }
    assert.match(await sClient('-noservername'), /subject=CN ?= ?mail\.host\.example/);
  });

  it('refuses TLS below 1.2', async () => {
    await assert.rejects(handshake(port, 'mail.a.example', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
  });

  it('warns about a certificate that expires within 14 days', () => {
    const warn = lines.find((l) => l.msg === 'certificate expires soon');
    assert.ok(warn);
    assert.deepEqual(warn.names, ['soon.example']);
  });

  it('picks up a certificate replaced on disk without dropping an open connection', async () => {
    const old = await handshake(port, 'mail.a.example');
    assert.equal(await line(old.socket, 'hello'), 'ECHO hello');
    const fresh = await writeCertbotCert(certbotDir, 'a.example', ['mail.a.example', 'a.example']);
    const freshFingerprint = new X509Certificate(fresh.cert).fingerprint256;
    let seen = old.fingerprint;
    for (let i = 0; i < 50 && seen !== freshFingerprint; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const probe = await handshake(port, 'mail.a.example');
      seen = probe.fingerprint;
      probe.socket.destroy();
    }
    assert.equal(seen, freshFingerprint, 'new handshakes get the new certificate');
    assert.equal(await line(old.socket, 'still here'), 'ECHO still here', 'the open connection is undisturbed');
    old.socket.destroy();
  });

  it('keeps the old certificate when the new key does not match it', async () => {
    const before = await handshake(port, 'mail.b.example');
    before.socket.destroy();
    const other = await selfSignedPems(['mail.b.example']);
    writeFileSync(path.join(certbotDir, 'live', 'b.example', 'fullchain.pem'), other.cert); // key left as it was
    await registry.reload();
    const after = await handshake(port, 'mail.b.example');
    assert.equal(after.fingerprint, before.fingerprint);
    after.socket.destroy();
    const err = lines.find((l) => l.msg === 'certificate not reloaded; keeping the one in service');
    assert.ok(err);
    assert.match(String(err.reason), /does not match/);
  });

  it('lists what it serves for cert list', () => {
    const names = registry.list().map((c) => c.names.join(','));
    assert.ok(names.includes('*.wild.example'));
    assert.ok(names.includes('mail.host.example'));
    assert.equal(registry.list().find((c) => c.names.includes('*.wild.example'))!.source, 'config');
  });
});

describe('self-signed fallback', () => {
  it('makes a self-signed certificate for the hostname when none covers it, with a warning', async () => {
    const root = tempDir();
    const { lines, log } = capture();
    const registry = new CertificateRegistry({
      hostname: 'mail.lonely.example',
      dataDir: root,
      certbotDir: path.join(root, 'none'),
      certificates: [],
      reloadIntervalMs: 0,
      expiryWarningMs: 0,
      log,
    });
    await registry.start();
    assert.deepEqual(
      registry.list().map((c) => [c.names, c.source]),
      [[['mail.lonely.example'], 'self-signed']],
    );
    assert.ok(lines.some((l) => l.level === 'warn' && String(l.msg).includes('self-signed')));
    const again = new CertificateRegistry({
      hostname: 'mail.lonely.example',
      dataDir: root,
      certbotDir: path.join(root, 'none'),
      certificates: [],
      reloadIntervalMs: 0,
      expiryWarningMs: 0,
      log,
    });
    await again.start();
    assert.equal(again.list()[0]!.fingerprint256, registry.list()[0]!.fingerprint256, 'reused across restarts');
  });
});
