/**
 * ACME against pebble (Let's Encrypt's test CA) on loopback. Pebble resolves names through the
 * test DNS server and validates http-01 on Postern's HTTP listener and tls-alpn-01 on its HTTPS
 * listener. Certificates it issues must reach every TLS listener without a restart.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/lib/log.js';
import { startServer, type Server } from '../src/main.js';
import { freePort, postern, posternRun, startServe, stopChild } from './helpers/cli.js';
import { startDns, type TestDns } from './helpers/dns-server.js';
import { peer } from './helpers/peers.js';
import { run } from './helpers/python.js';
import { startPebble, type Pebble } from './helpers/pebble.js';
import { testConfigText } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const skip = peer('pebble', 'pebble') || peer('openssl', 'openssl') || undefined;

/** `openssl s_client` against the in-process server (asynchronously: the server shares this event loop). */
const sClient = (args: string[]) => run('openssl', ['s_client', ...args], { timeoutMs: 10_000 });

/** The leaf certificate `openssl s_client` receives on `port` when it asks for `servername`. */
async function served(port: number, servername: string): Promise<X509Certificate> {
  const r = await sClient(['-connect', `127.0.0.1:${port}`, '-servername', servername]);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout);
  assert.ok(pem, `s_client got no certificate on ${port}: ${r.stderr}`);
  return new X509Certificate(pem[0]);
}

async function until<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Running {
  server: Server;
  dir: string;
  configFile: string;
  logs: Array<Record<string, unknown>>;
  port(name: string): number;
}

async function start(
  dns: TestDns,
  pebble: Pebble,
  ports: { http: number; https: number },
  challenge: string,
  domains: string[],
  acmeExtra = '',
): Promise<Running> {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const extra = `[acme]\ndirectory = "${pebble.directory}"\nemail = "postmaster@example.com"\nchallenge = "${challenge}"\nca_file = "${pebble.caFile}"\ncheck_interval = "1s"\nretry_min = "1s"\nretry_max = "2s"\n${acmeExtra}`;
  const text = testConfigText(dir, extra, ['submissions', 'imaps', 'http', 'https'], dns.address)
    .replace('http = ["127.0.0.1:0"]', `http = ["127.0.0.1:${ports.http}"]`)
    .replace('https = ["127.0.0.1:0"]', `https = ["127.0.0.1:${ports.https}"]`)
    .replace(`certbot_dir = "${dir}/letsencrypt"`, `certbot_dir = "${dir}/letsencrypt"\nreload_interval = "1s"`);
  const configFile = path.join(dir, 'postern.toml');
  writeFileSync(configFile, text);
  for (const d of domains) assert.equal(postern(['--config', configFile, 'domain', 'add', d]).code, 0);
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({
    level: 'info',
    sink: { write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) },
  });
  const server = await startServer(parseConfig(text, configFile), log);
  return {
    server,
    dir,
    configFile,
    logs,
    port: (name) => server.listeners.bound.find((b) => b.name === name)!.port,
  };
}

const issued = (r: Running, lineage: string) =>
  r.logs.filter((l) => l.msg === 'certificate issued' && l.lineage === lineage);

describe('ACME certificates from pebble', { skip, timeout: 300_000 }, () => {
  let dns: TestDns;
  let pebble: Pebble;
  let ports: { http: number; https: number };

  before(async () => {
    dns = await startDns();
    for (const n of [
      'mail.example.com',
      'mta-sts.example.com',
      'autoconfig.example.com',
      'webmail.example.com',
      'mail.example.net',
      'mail.example.org',
      'mta-sts.example.org',
      'autoconfig.example.org',
    ]) {
      dns.set(n, { A: ['127.0.0.1'] });
    }
    dns.set('mta-sts.example.net', { A: ['127.0.0.2'] }); // nothing listens there: the challenge fails
    ports = { http: await freePort(), https: await freePort() };
    // Short-lived certificates (60 s): renewal falls due a third of the lifetime before expiry.
    pebble = await startPebble({
      dnsAddress: dns.address,
      httpPort: ports.http,
      tlsPort: ports.https,
      validitySeconds: 60,
    });
  });
  after(async () => {
    await pebble?.stop();
    await dns?.close();
  });

  it('http-01: issues at start, serves the certificates on 443, 993 and 465 without a restart, retries a failing challenge, renews a short-lived one', async () => {
    const r = await start(dns, pebble, ports, 'http-01', ['example.com', 'example.net']);
    try {
      const [first] = await until(
        'example.com issued',
        () => issued(r, 'mail.example.com').length > 0 && issued(r, 'mail.example.com'),
      );
      assert.deepEqual([...(first!.names as string[])].sort(), [
        'autoconfig.example.com',
        'mail.example.com',
        'mta-sts.example.com',
        'webmail.example.com',
      ]);
      for (const listener of ['https', 'imaps', 'submissions']) {
        const cert = await served(r.port(listener), 'mail.example.com');
        assert.match(cert.issuer, /Pebble/, `${listener} serves the issued certificate`);
        assert.match(cert.subjectAltName ?? '', /DNS:mta-sts\.example\.com/);
      }
      assert.match((await served(r.port('https'), 'mta-sts.example.com')).issuer, /Pebble/);
      // The root pebble issued from verifies the chain served on 443.
      const rootFile = path.join(r.dir, 'pebble-root.pem');
      writeFileSync(rootFile, await pebble.root());
      const verify = await sClient([
        '-connect',
        `127.0.0.1:${r.port('https')}`,
        '-servername',
        'mail.example.com',
        '-CAfile',
        rootFile,
        '-verify_return_error',
        '-verify_hostname',
        'mail.example.com',
      ]);
      assert.match(verify.stdout, /Verify return code: 0 \(ok\)/);
      // Files in certbot's layout, live/ pointing into archive/.
      assert.ok(existsSync(path.join(r.dir, 'letsencrypt', 'archive', 'mail.example.com', 'privkey1.pem')));

      // example.net: mta-sts.example.net points where nothing listens → a logged failure, then a retry.
      const failure = await until('the failed order logged', () =>
        r.logs.find((l) => l.msg === 'certificate order failed' && l.lineage === 'mail.example.net'),
      );
      assert.match(
        String(failure.reason),
        /mta-sts\.example\.net|127\.0\.0\.2|connection refused/i,
        String(failure.reason),
      );
      assert.ok(failure.retryAt, 'the failure says when it is retried');
      assert.ok(
        r.logs.some(
          (l) => String(l.msg).startsWith('names left off') && (l.names as string[]).includes('autoconfig.example.net'),
        ),
        'a name without DNS is left off, with a warning',
      );
      dns.set('mta-sts.example.net', { A: ['127.0.0.1'] });
      const net = await until('example.net issued on a retry', () => issued(r, 'mail.example.net')[0]);
      assert.deepEqual([...(net.names as string[])].sort(), ['mail.example.net', 'mta-sts.example.net']);
      assert.match((await served(r.port('imaps'), 'mail.example.net')).issuer, /Pebble/);

      // Renewal: an IMAP client connected before it keeps its session; new handshakes see the new certificate.
      const before = (await served(r.port('imaps'), 'mail.example.com')).fingerprint256;
      const client = tls.connect({
        host: '127.0.0.1',
        port: r.port('imaps'),
        servername: 'mail.example.com',
        rejectUnauthorized: false,
      });
      let transcript = '';
      client.on('data', (d: Buffer) => (transcript += d.toString()));
      await until('IMAP greeting', () => transcript.includes('* OK'));
      await until('renewal of the short-lived certificate', () => issued(r, 'mail.example.com').length >= 2, 90_000);
      const afterCert = await served(r.port('imaps'), 'mail.example.com');
      assert.notEqual(afterCert.fingerprint256, before, 'a new handshake gets the renewed certificate');
      assert.ok(existsSync(path.join(r.dir, 'letsencrypt', 'archive', 'mail.example.com', 'fullchain2.pem')));
      client.write('a1 NOOP\r\n');
      await until('the old connection still answers', () => transcript.includes('a1 OK'));
      client.destroy();
    } finally {
      await r.server.stop(1000);
    }
  });

  it('tls-alpn-01: issues on 443; postern cert issue and cert list work beside the running server', async () => {
    const r = await start(dns, pebble, ports, 'tls-alpn-01', ['example.org']);
    try {
      await until('example.org issued', () => issued(r, 'mail.example.org')[0]);
      assert.ok(
        r.logs.some((l) => l.msg === 'answered an ACME TLS-ALPN-01 validation'),
        'validation came in over TLS-ALPN-01',
      );
      assert.match((await served(r.port('https'), 'autoconfig.example.org')).issuer, /Pebble/);
      assert.match((await served(r.port('submissions'), 'mail.example.org')).issuer, /Pebble/);

      const list = postern(['--config', r.configFile, 'cert', 'list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as Array<{
        names: string[];
        issuer: string;
        source: string;
        daysLeft: number;
      }>;
      const org = rows.find((c) => c.names.includes('mail.example.org'));
      assert.ok(org && /Pebble/.test(org.issuer) && org.source === 'acme', list.stdout);
      const human = postern(['--config', r.configFile, 'cert', 'list']);
      assert.match(human.stdout, /^NAMES\s+ISSUER\s+EXPIRES\s+DAYS\s+SOURCE$/m);

      const beforeCli = (await served(r.port('https'), 'mail.example.org')).fingerprint256;
      // Asynchronously: the in-process server must answer the CLI's challenge meanwhile.
      const cli = await posternRun(['--config', r.configFile, 'cert', 'issue', 'example.org']);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^issued .*mail\.example\.org/m);
      // The running server answered the CLI's challenge and picks the new files up on its own.
      await until(
        'the server serves the certificate the CLI got',
        async () => (await served(r.port('https'), 'mail.example.org')).fingerprint256 !== beforeCli,
        20_000,
      );

      const bad = postern(['--config', r.configFile, 'cert', 'issue', 'not-hosted.example']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /not a hosted domain/);
    } finally {
      await r.server.stop(1000);
    }
  });

  it('postern serve exits promptly on SIGTERM after an ACME order', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    const text = testConfigText(
      dir,
      `[acme]\ndirectory = "${pebble.directory}"\nemail = "postmaster@example.com"\nchallenge = "http-01"\n[limits]\nshutdown_timeout = "60s"\n[log]\nlevel = "info"\n`,
      ['http', 'https'],
      dns.address,
    )
      .replace('[log]\nlevel = "debug"\n', '')
      .replace('http = ["127.0.0.1:0"]', `http = ["127.0.0.1:${ports.http}"]`)
      .replace('https = ["127.0.0.1:0"]', `https = ["127.0.0.1:${ports.https}"]`);
    const configFile = path.join(dir, 'postern.toml');
    writeFileSync(configFile, text);
    assert.equal(postern(['--config', configFile, 'domain', 'add', 'example.com']).code, 0);
    // Pebble's CA through NODE_EXTRA_CA_CERTS rather than [acme] ca_file: the requests then go through
    // Node's global (keep-alive) agent, as they do with a public CA.
    const { child, output } = await startServe(configFile, 'https', { NODE_EXTRA_CA_CERTS: pebble.caFile });
    try {
      await until('example.com issued', () => output().includes('"msg":"certificate issued"'));
      const started = Date.now();
      await stopChild(child);
      const ms = Date.now() - started;
      console.log(`# exited ${ms} ms after SIGTERM`);
      assert.equal(child.exitCode, 0);
      // Far below shutdown_timeout: nothing was waited on.
      assert.ok(ms < 15_000, `exited ${ms} ms after SIGTERM`);
    } finally {
      await stopChild(child, 'SIGKILL');
    }
  });

  it('External Account Binding: a CA that requires it refuses an account without, and issues with the configured key', async () => {
    const eab = { kid: 'kid-postern', hmacKey: 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W' };
    const ports2 = { http: await freePort(), https: await freePort() };
    const strict = await startPebble({ dnsAddress: dns.address, httpPort: ports2.http, tlsPort: ports2.https, eab });
    try {
      const without = await start(dns, strict, ports2, 'http-01', ['example.org']);
      try {
        const failure = await until('the refused account logged', () =>
          without.logs.find((l) => l.msg === 'certificate order failed'),
        );
        assert.match(String(failure.reason), /externalAccountBinding.*set \[acme\] eab_kid and eab_hmac_key/);
      } finally {
        await without.server.stop(1000);
      }
      const withEab = await start(
        dns,
        strict,
        ports2,
        'http-01',
        ['example.org'],
        `eab_kid = "${eab.kid}"\neab_hmac_key = "${eab.hmacKey}"\n`,
      );
      try {
        await until('issued with EAB', () => issued(withEab, 'mail.example.org')[0]);
      } finally {
        await withEab.server.stop(1000);
      }
    } finally {
      await strict.stop();
    }
  });
});
