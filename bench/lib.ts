/** Shared by the benchmark scripts: a Postern server in a child process, RSS sampling, a raw IMAP client. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDns } from '../test/helpers/dns-server.js';
import { testConfigText } from '../test/helpers/server.js';

export interface BenchServer {
  dir: string;
  port(name: string): number;
  child: ChildProcess;
  rss(): number;
  peakRss(): number;
  stop(): Promise<void>;
  /** Stops the process and starts a fresh one on the same data (a clean heap for memory figures). */
  restart(): Promise<void>;
  cli(...args: string[]): void;
}

export async function startPostern(
  listeners: string[],
  options: { plaintextAuth?: boolean; extraConfig?: string } = {},
): Promise<BenchServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-'));
  const config = path.join(dir, 'postern.toml');
  const dns = await startDns(); // the server's DNS lookups stay on 127.0.0.1
  let text = testConfigText(
    dir,
    `[limits]\nmax_connections_per_ip = 100000\nmax_connections = 100000\n${options.extraConfig ?? ''}`,
    listeners,
    dns.address,
  ).replace('level = "debug"', 'level = "info"');
  // Loopback benchmarks compare with Dovecot, which allows plaintext logins from 127.0.0.1.
  if (options.plaintextAuth) text = text.replace('[tls]\n', '[tls]\nallow_plaintext_auth = true\n');
  writeFileSync(config, text);
  const bin = path.resolve('bin/postern.js');
  const cli = (...args: string[]) =>
    void execFileSync(process.execPath, [bin, '--config', config, ...args], { input: 'bench password 1\n' });
  cli('domain', 'add', 'example.com');
  cli('account', 'add', 'bench@example.com', '--password-stdin');
  let child!: ChildProcess;
  const ports = new Map<string, number>();
  const launch = async () => {
    ports.clear();
    child = spawn(
      process.execPath,
      [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), bin, 'serve', '--config', config],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      if (ports.size < listeners.length) {
        out += d.toString();
        for (const m of out.matchAll(/"listener":"(\w+)","address":"127\.0\.0\.1:(\d+)"/g))
          ports.set(m[1]!, Number(m[2]));
      }
    });
    for (let i = 0; i < 300 && ports.size < listeners.length; i++) await new Promise((r) => setTimeout(r, 100));
    if (ports.size < listeners.length) throw new Error(`server did not start: ${out}`);
  };
  await launch();
  let peak = 0;
  const rss = () => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      return 0;
    }
  };
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 100);
  return {
    dir,
    rss,
    cli,
    get child() {
      return child;
    },
    port: (name) => ports.get(name)!,
    async restart() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await launch();
    },
    peakRss: () => Math.max(peak, rss()),
    async stop() {
      clearInterval(timer);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Minimal IMAP client: sends a command, resolves with everything up to its tagged reply. */
export class RawImap {
  /** Received bytes not yet returned, in a buffer that doubles as needed: reading stays linear. */
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  private len = 0;
  /** How far the buffer was searched for the tagged reply. */
  private scanned = 0;
  private waiting: { tag: string; resolve: (s: Buffer) => void; reject: (e: Error) => void } | undefined;
  private n = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.len + d.length > this.buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + d.length));
        this.buf.copy(bigger, 0, 0, this.len);
        this.buf = bigger;
      }
      d.copy(this.buf, this.len);
      this.len += d.length;
      this.check();
    });
    socket.on('error', (e) => this.waiting?.reject(e));
    socket.on('close', () => this.waiting?.reject(new Error('closed')));
  }

  static async connect(port: number): Promise<RawImap> {
    const socket = net.connect(port, '127.0.0.1');
    const c = new RawImap(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      const wait = () => (c.buf.subarray(0, c.len).includes('\r\n') ? resolve() : socket.once('data', wait));
      socket.once('data', wait);
    });
    c.len = 0;
    c.scanned = 0;
    return c;
  }

  private check(): void {
    const w = this.waiting;
    if (!w) return;
    const data = this.buf.subarray(0, this.len);
    const marker = Buffer.from(`\r\n${w.tag} `);
    let i = data.indexOf(marker, Math.max(0, this.scanned - marker.length));
    if (i < 0 && data.subarray(0, marker.length - 2).equals(marker.subarray(2))) i = -2;
    const end = i === -1 ? -1 : data.indexOf('\r\n', i + 2);
    if (end < 0) {
      this.scanned = i === -1 ? this.len : Math.max(0, i);
      return;
    }
    const reply = Buffer.from(data.subarray(0, end + 2));
    this.buf.copy(this.buf, 0, end + 2, this.len);
    this.len -= end + 2;
    this.scanned = 0;
    this.waiting = undefined;
    const status = reply.subarray(i + 2 + w.tag.length + 1, i + 2 + w.tag.length + 3).toString();
    if (status !== 'OK') w.reject(new Error(`${w.tag}: ${reply.subarray(Math.max(0, i)).toString().trim()}`));
    else w.resolve(reply);
  }

  command(text: string): Promise<Buffer> {
    const tag = `B${++this.n}`;
    return new Promise((resolve, reject) => {
      this.waiting = { tag, resolve, reject };
      this.socket.write(`${tag} ${text}\r\n`);
      this.check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
