/**
 * The outbound queue under a SIGKILL: a `postern serve` process relays 1,000 submitted messages to
 * Postfix's smtp-sink and is killed while they are in flight. After a restart (which takes over the
 * dead process's leases) every acknowledged message reaches the sink, and a message is sent twice
 * only when the kill fell between the sink's 250 and our record of it: at most one per connection.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import nodemailer from 'nodemailer';
import { freePort, postern, startServe } from './helpers/cli.js';
import { startDns } from './helpers/dns-server.js';
import { peer } from './helpers/peers.js';
import { testConfigText } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const TOTAL = 1000;
const CONNECTIONS = 5;

/** X-Seq of every message the sink wrote, one entry per transaction. */
function sunk(dir: string): number[] {
  return readdirSync(dir).map((f) => {
    const m = /^X-Seq: (\d+)/m.exec(readFileSync(path.join(dir, f), 'utf8'));
    return m ? Number(m[1]) : -1;
  });
}

it(
  'loses no queued message and resends none the sink acknowledged, across a SIGKILL',
  { skip: peer('smtp-sink', 'postfix') || undefined, timeout: 240_000 },
  async () => {
    const dir = tempDir();
    const sinkDir = path.join(dir, 'sink');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sinkDir);
    chmodSync(dir, 0o755); // smtp-sink runs as nobody: it must reach sinkDir
    chmodSync(sinkDir, 0o777);
    const sinkPort = await freePort();
    // smtp-sink drops root privileges to -u; each transaction becomes one file in sinkDir.
    const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    const sink = spawn('smtp-sink', [...asRoot, '-d', `${sinkDir}/%H%M%S.`, `127.0.0.1:${sinkPort}`, '256'], {
      stdio: 'ignore',
    });
    const dns = await startDns();
    dns.set('remote.example', { MX: [{ preference: 10, exchange: 'mx.remote.example' }] });
    dns.set('mx.remote.example', { A: ['127.0.0.1'] });
    const config = path.join(dir, 'postern.toml');
    writeFileSync(
      config,
      testConfigText(
        dir,
        `[outbound]\nport = ${sinkPort}\nlease = "2s"\nretry_min = "1s"\nretry_max = "2s"\nconnections_per_domain = ${CONNECTIONS}\nmessages_per_connection = 1000\n[dkim]\nauto_generate = false\n`,
        ['submission'],
        dns.address,
      ).replace('level = "debug"', 'level = "info"'),
    );
    assert.equal(postern(['--config', config, 'domain', 'add', 'example.com']).code, 0);
    assert.equal(
      postern(['--config', config, 'account', 'add', 'ann@example.com', '--password-stdin'], {
        input: 'crash test pw\n',
      }).code,
      0,
    );

    try {
      const first = await startServe(config, 'submission');
      const transport = nodemailer.createTransport({
        pool: true,
        maxConnections: 4,
        maxMessages: Infinity,
        host: '127.0.0.1',
        port: first.port,
        secure: false,
        requireTLS: true,
        auth: { user: 'ann@example.com', pass: 'crash test pw' },
        tls: { rejectUnauthorized: false },
      });
      const acked = new Set<number>();
      let killed = false;
      const sends = Array.from({ length: TOTAL }, (_, seq) =>
        transport
          .sendMail({
            envelope: { from: 'ann@example.com', to: [`r${seq % 7}@remote.example`] },
            raw: `From: ann@example.com\r\nTo: r@remote.example\r\nSubject: out ${seq}\r\nX-Seq: ${seq}\r\n\r\n${'y'.repeat(1500)}\r\n`,
          })
          .then(
            () => void acked.add(seq),
            () => undefined,
          ),
      );
      // Kill once the sink has a good part, while submissions and deliveries are both still going.
      const deadline = Date.now() + 60_000;
      while (!killed && Date.now() < deadline) {
        if (readdirSync(sinkDir).length >= 200) {
          killed = true;
          first.child.kill('SIGKILL');
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(killed, 'the sink received mail before the kill');
      await Promise.all(sends);
      transport.close();
      await new Promise((r) =>
        first.child.exitCode !== null || first.child.signalCode !== null ? r(null) : first.child.once('exit', r),
      );
      const atKill = sunk(sinkDir).length;
      // The kill came once 200 had reached the sink; submissions acknowledged by then are about as many.
      assert.ok(acked.size >= 100, `${acked.size} acknowledged before the kill`);

      const second = await startServe(config, 'submission');
      const end = Date.now() + 120_000;
      let missing: number[] = [];
      const queued = () =>
        (JSON.parse(postern(['--config', config, 'queue', 'list', '--json']).stdout) as unknown[]).length;
      // Done when every acknowledged message arrived and the queue has drained (stored but
      // unacknowledged submissions are delivered too).
      while (Date.now() < end) {
        const have = new Set(sunk(sinkDir));
        missing = [...acked].filter((s) => !have.has(s));
        if (missing.length === 0 && queued() === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => {
        second.child.once('exit', r);
        second.child.kill('SIGTERM');
      });
      assert.deepEqual(missing, [], 'every acknowledged message reached the sink');
      const all = sunk(sinkDir);
      const duplicates = all.length - new Set(all).size;
      assert.ok(
        duplicates <= CONNECTIONS,
        `${duplicates} sent twice (at most one per connection open at the kill; ${atKill} had arrived then)`,
      );
      assert.equal(
        queued(),
        0,
        `the queue is empty: ${postern(['--config', config, 'queue', 'list', '--json']).stdout}`,
      );
    } finally {
      sink.kill('SIGKILL');
      await dns.close();
    }
  },
);
