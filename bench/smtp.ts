/**
 * npm run bench:smtp -- --messages N --concurrency C --size BYTES
 * Sends N messages of SIZE bytes over C connections to a fresh `postern serve` on loopback and prints
 * accepted/s, delivered/s (until the last one is visible in the mailbox), p50/p99 latency per message
 * and the server's peak RSS. Bounded: N messages and a 10-minute limit.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { RawSmtp } from '../test/helpers/smtp-client.js';
import { startDns } from '../test/helpers/dns-server.js';
import { testConfigText } from '../test/helpers/server.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '10' },
    size: { type: 'string', default: '4096' },
  },
});
const N = Number(values.messages);
const C = Number(values.concurrency);
const SIZE = Number(values.size);
const LIMIT_MS = 10 * 60_000;
const bin = path.resolve('bin/postern.js');

const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-'));
try {
  const config = path.join(dir, 'postern.toml');
  const dns = await startDns(); // the server's DNS lookups stay on 127.0.0.1
  writeFileSync(
    config,
    testConfigText(dir, '', ['smtp'], dns.address)
      .replace('level = "debug"', 'level = "info"')
      .replace('[auth]', '[limits]\nmax_connections_per_ip = 1000\n[auth]'),
  );
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [bin, '--config', config, ...args], { input: 'bench password 1\n' });
  cli('domain', 'add', 'example.com');
  cli('account', 'add', 'bench@example.com', '--password-stdin');
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), bin, 'serve', '--config', config],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let port = 0;
  for (let i = 0; i < 300 && !port; i++) {
    await new Promise((r) => setTimeout(r, 100));
    port = Number(/"listener":"smtp","address":"127\.0\.0\.1:(\d+)"/.exec(out)?.[1] ?? 0);
  }
  if (!port) throw new Error(`server did not start: ${out}`);
  // warn level hides "listening"; the address is printed at info when the level allows it
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peakRss = Math.max(peakRss, kb * 1024);
    } catch {
      /* exited */
    }
  }, 200);

  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  const body = line.repeat(Math.max(1, Math.ceil(SIZE / line.length))).slice(0, SIZE);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = Date.now() + LIMIT_MS;
  await Promise.all(
    Array.from({ length: C }, async () => {
      const c = await RawSmtp.connect(port);
      while (next < N && Date.now() < deadline) {
        const seq = next++;
        const t0 = performance.now();
        await c.send(
          'sender@remote.example',
          ['bench@example.com'],
          `Subject: bench ${seq}\r\nFrom: sender@remote.example\r\n\r\n${body}`,
        );
        latencies.push(performance.now() - t0);
      }
      c.close();
    }),
  );
  const acceptedMs = performance.now() - started;
  const db = new Database(path.join(dir, 'data', 'postern.db'), { readonly: true });
  let delivered = 0;
  while (delivered < latencies.length && Date.now() < deadline) {
    delivered =
      (db
        .prepare(
          "SELECT message_count FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE a.address = 'bench@example.com' AND m.name = 'INBOX'",
        )
        .pluck()
        .get() as number) ?? 0;
    if (delivered < latencies.length) await new Promise((r) => setTimeout(r, 5));
  }
  const deliveredMs = performance.now() - started;
  db.close();
  clearInterval(rssTimer);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await dns.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
  const result = {
    messages: latencies.length,
    concurrency: C,
    size: SIZE,
    acceptedPerSec: Math.round((latencies.length / acceptedMs) * 1000),
    deliveredPerSec: Math.round((delivered / deliveredMs) * 1000),
    p50Ms: Number(pct(0.5)),
    p99Ms: Number(pct(0.99)),
    peakRssMB: Math.round(peakRss / 2 ** 20),
  };
  console.log(
    `postern smtp: ${result.messages} msgs x ${SIZE} B, concurrency ${C}: accepted ${result.acceptedPerSec}/s, delivered ${result.deliveredPerSec}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, peak RSS ${result.peakRssMB} MB`,
  );
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
