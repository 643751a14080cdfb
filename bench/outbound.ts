/**
 * npm run bench:outbound -- [--messages 2000] [--drain 10000] [--size 4096]
 * Outbound delivery to Postfix's smtp-sink on loopback: a fresh `postern serve` has N messages queued
 * (forwarded through an alias while the remote port is closed, so they wait), then the remote port is
 * switched to the sink, `queue retry --all` makes them due, and the server is timed until the queue is
 * empty — at 1, 10 and 50 connections, then once for --drain messages at 10. Bounded: every phase has
 * a message count and a 5-minute limit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { freePort } from '../test/helpers/cli.js';
import { RawSmtp } from '../test/helpers/smtp-client.js';
import { startDns, type TestDns } from '../test/helpers/dns-server.js';
import { testConfigText } from '../test/helpers/server.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    drain: { type: 'string', default: '10000' },
    size: { type: 'string', default: '4096' },
  },
});
const N = Number(values.messages);
const DRAIN = Number(values.drain);
const SIZE = Number(values.size);
const LIMIT_MS = 5 * 60_000;
const bin = path.resolve('bin/postern.js');

async function serve(config: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), bin, 'serve', '--config', config],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
  for (let i = 0; i < 300; i++) {
    const port = Number(/"listener":"smtp","address":"127\.0\.0\.1:(\d+)"/.exec(out)?.[1] ?? 0);
    if (port && out.includes('postern started')) return { child, port };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start: ${out}`);
}

const stop = (child: ChildProcess) =>
  new Promise((r) => (child.exitCode !== null ? r(null) : (child.once('exit', r), child.kill('SIGTERM'))));

/** Queues `count` messages, then times their delivery over `connections` connections; returns msg/s. */
async function run(
  dns: TestDns,
  sinkPort: number,
  count: number,
  connections: number,
): Promise<{ perSecond: number; seconds: number; peakRss: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-out-'));
  try {
    const config = path.join(dir, 'postern.toml');
    const closed = await freePort();
    const text = (port: number) =>
      testConfigText(
        dir,
        `[limits]\nmax_connections_per_ip = 1000\n[dkim]\nauto_generate = false\n[outbound]\nport = ${port}\nretry_min = "1h"\nconnections_per_domain = ${connections}\nmessages_per_connection = 10000\nmta_sts = false\ndane = false\n`,
        ['smtp'],
        dns.address,
      ).replace('level = "debug"', 'level = "warn"');
    writeFileSync(config, text(closed));
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [bin, '--config', config, ...args], { input: 'bench password 1\n' }).toString();
    cli('domain', 'add', 'example.com');
    cli('alias', 'add', 'fwd@example.com', 'someone@remote.example');
    // Level warn hides "listening": print it at info for the port, then queue with the remote closed.
    writeFileSync(config, text(closed).replace('level = "warn"', 'level = "info"'));
    let server = await serve(config);
    const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
    const body = line.repeat(Math.ceil(SIZE / line.length)).slice(0, SIZE);
    let next = 0;
    const deadline = Date.now() + LIMIT_MS;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = await RawSmtp.connect(server.port);
        while (next < count && Date.now() < deadline) {
          const seq = next++;
          await c.send(
            'sender@remote.example',
            ['fwd@example.com'],
            `Subject: out ${seq}\r\nFrom: sender@remote.example\r\n\r\n${body}`,
          );
        }
        c.close();
      }),
    );
    await stop(server.child);
    writeFileSync(config, text(sinkPort).replace('level = "warn"', 'level = "info"'));
    cli('queue', 'retry', '--all');
    const db = new Database(path.join(dir, 'data', 'postern.db'), { readonly: true });
    const pending = db.prepare("SELECT count(*) FROM queue_recipients WHERE status = 'pending'").pluck();
    const started = performance.now();
    server = await serve(config);
    let peakRss = 0;
    while ((pending.get() as number) > 0 && Date.now() < deadline + LIMIT_MS) {
      try {
        peakRss = Math.max(
          peakRss,
          Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
        );
      } catch {
        /* exited */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const left = pending.get() as number;
    db.close();
    await stop(server.child);
    if (left > 0) throw new Error(`${left} still queued after the time limit`);
    return { perSecond: count / seconds, seconds, peakRss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sinkDir = mkdtempSync(path.join(tmpdir(), 'postern-sink-'));
chmodSync(sinkDir, 0o755);
const sinkPort = await freePort();
const sink = spawn(
  'smtp-sink',
  [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${sinkPort}`, '1024'],
  { stdio: 'ignore' },
);
sink.on('error', () => {
  console.error('smtp-sink not found: apt-get install postfix');
  process.exit(1);
});
const dns = await startDns();
dns.set('remote.example', { MX: [{ preference: 10, exchange: 'mx.remote.example' }] });
dns.set('mx.remote.example', { A: ['127.0.0.1'] });
try {
  console.log(`outbound to smtp-sink, ${SIZE}-byte messages (includes the restart of the server, ~0.5 s)`);
  for (const c of [1, 10, 50]) {
    const r = await run(dns, sinkPort, N, c);
    console.log(
      `connections=${c}: ${N} messages in ${r.seconds.toFixed(2)} s = ${r.perSecond.toFixed(0)} msg/s, peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MB`,
    );
  }
  const d = await run(dns, sinkPort, DRAIN, 10);
  console.log(
    `drain ${DRAIN} queued messages at 10 connections: ${d.seconds.toFixed(2)} s (${d.perSecond.toFixed(0)} msg/s), peak RSS ${(d.peakRss / 2 ** 20).toFixed(0)} MB`,
  );
} finally {
  sink.kill('SIGKILL');
  await dns.close();
  rmSync(sinkDir, { recursive: true, force: true });
}
