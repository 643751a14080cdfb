/**
 * Tools for the adversarial tests: a raw client that sends whatever an attacker sends and keeps all it
 * gets back, a probe (a well-behaved client doing round trips during an attack, timing each), and a
 * reading of the test process's memory (the server runs in it).
 */
import net from 'node:net';
import tls from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';

// A garbage collection before each reading, so that memory in use is what is still referenced.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Text a client keeps when told to keep only the end of what it got (large answers). */
const TAIL_CHARS = 64 * 1024;

export class RawClient {
  text = '';
  bytes = 0;
  isClosed = false;
  private readonly closedPromise: Promise<void>;
  private listeners: Array<() => void> = [];

  /** `keepText` false: only the last 64 KB of text is kept (and matched), for answers of hundreds of MB. */
  private constructor(
    public socket: net.Socket | tls.TLSSocket,
    private readonly keepText = true,
  ) {
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.notify();
        resolve();
      }),
    );
    this.attach(socket);
  }

  static connect(
    port: number,
    options: { tls?: boolean; keepText?: boolean; paused?: boolean } = {},
  ): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'mail.example.com' })
        : net.connect(port, '127.0.0.1');
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        const c = new RawClient(socket, options.keepText ?? true);
        if (options.paused) socket.pause();
        resolve(c);
      });
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.text += d.toString('latin1');
      if (!this.keepText && this.text.length > 2 * TAIL_CHARS) this.text = this.text.slice(-TAIL_CHARS);
      this.notify();
    });
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  /**
   * Resolves with the text (from offset `from` on) once it matches; rejects when the connection
   * closes first or time runs out.
   */
  async waitFor(pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pattern.test(this.text.slice(from))) return this.text.slice(from);
      if (this.isClosed) throw new Error(`closed before ${pattern}: ${JSON.stringify(this.text.slice(-500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}: ${JSON.stringify(this.text.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves when the server closes the connection (or after the timeout, with false). */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const r = await Promise.race([this.closedPromise.then(() => true), timedOut]);
    clearTimeout(timer);
    return r;
  }

  /** Upgrades the connection in place after a STARTTLS/STLS the server accepted. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'mail.example.com' }, () =>
        resolve(s),
      );
      s.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  private tag = 0;

  /** Sends an IMAP command with the next tag; resolves with everything up to and including its tagged reply. */
  async imap(command: string | Buffer, timeoutMs = 10_000): Promise<string> {
    const tag = `t${++this.tag}`;
    const mark = this.text.length;
    this.write(
      typeof command === 'string'
        ? `${tag} ${command}\r\n`
        : Buffer.concat([Buffer.from(`${tag} `), command, Buffer.from('\r\n')]),
    );
    return this.waitFor(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`), timeoutMs, mark);
  }

  /** Sends an SMTP command and resolves with its complete reply (all lines). */
  async smtp(line: string, timeoutMs = 10_000): Promise<string> {
    const mark = this.text.length;
    this.write(`${line}\r\n`);
    const reply = await this.waitFor(/(^|\n)\d{3} [^\n]*\n/, timeoutMs, mark);
    return reply.trimEnd();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface ProbeResult {
  rounds: number;
  errors: string[];
  maxMs: number;
  medianMs: number;
}

/** A well-behaved client doing one round trip after another while an attack runs. */
export class Probe {
  private latencies: number[] = [];
  private errors: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  /** `roundTrip` may return its own measure of the time it took (a client run in another process, say). */
  constructor(private readonly roundTrip: () => Promise<number | void>) {}

  start(pauseMs = 20): void {
    this.running = true;
    this.loop = (async () => {
      /** How late the last pause ended: the probe shares the server's event loop, so a loop blocked while it paused shows here. */
      let lateMs = 0;
      while (this.running) {
        const started = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          // A server that stopped answering fails the probe rather than hanging the test.
          const measured = await Promise.race([
            this.roundTrip(),
            new Promise<never>(
              (_, reject) =>
                (timer = setTimeout(
                  () => reject(new Error(`no answer within ${ROUND_TIMEOUT_MS} ms`)),
                  ROUND_TIMEOUT_MS,
                )),
            ),
          ]);
          clearTimeout(timer);
          this.latencies.push(lateMs + (typeof measured === 'number' ? measured : performance.now() - started));
        } catch (err) {
          clearTimeout(timer);
          this.errors.push((err as Error).message);
          return;
        }
        const pausedAt = performance.now();
        await new Promise((r) => setTimeout(r, pauseMs));
        lateMs = Math.max(0, performance.now() - pausedAt - pauseMs);
      }
    })();
  }

  async stop(): Promise<ProbeResult> {
    this.running = false;
    await this.loop;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      rounds: sorted.length,
      errors: this.errors,
      maxMs: Math.round(sorted.at(-1) ?? 0),
      medianMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    };
  }
}

/**
 * The longest a well-behaved client may wait during an attack. The attacks this guards against
 * blocked everyone for tens of seconds or more; a healthy server answers in milliseconds, so the
 * margin leaves room for a loaded CI machine.
 */
export const RESPONSIVE_MS = 3000;

/** A probe's round trip that has not finished after this long is a failure. */
const ROUND_TIMEOUT_MS = 20_000;

/** Stops the probe, prints its figures, and checks it got answers, none slower than RESPONSIVE_MS. */
export async function assertResponsive(p: Probe): Promise<void> {
  const r = await p.stop();
  console.log(`# well-behaved client: ${r.rounds} round trips, median ${r.medianMs} ms, max ${r.maxMs} ms`);
  if (r.errors.length) throw new Error(`the well-behaved client failed: ${r.errors.join('; ')}`);
  if (r.rounds === 0) throw new Error('the well-behaved client got no answer');
  if (r.maxMs >= RESPONSIVE_MS) throw new Error(`the well-behaved client waited ${r.maxMs} ms`);
}

/**
 * Writes `chunk` again and again from a client that never reads its answers, until the server stops
 * reading (a write waits 1.5 s for the socket to drain) or `maxBytes` went out. Returns the bytes sent.
 */
export async function floodUnread(c: RawClient, chunk: Buffer, maxBytes = 32 << 20): Promise<number> {
  c.socket.pause();
  let sent = 0;
  while (sent < maxBytes && !c.isClosed) {
    sent += chunk.length;
    if (!c.write(chunk)) {
      const isDrained = await Promise.race([
        new Promise((r) => c.socket.once('drain', () => r(true))),
        sleep(1500).then(() => false),
      ]);
      if (!isDrained) break;
    }
  }
  return sent;
}

/**
 * The flood check every protocol gets: a client pipelines `command` (tens of MB of it) and never
 * reads; the server must stop reading it well before 24 MB, and the process's memory must grow by
 * less than 48 MB (the whole flood answered and queued would be hundreds).
 */
export async function assertFloodBounded(c: RawClient, command: string): Promise<void> {
  const chunk = Buffer.from(command.repeat(Math.ceil(65_536 / command.length)));
  const before = memoryInUse();
  const sent = await floodUnread(c, chunk);
  await sleep(500);
  const grown = memoryInUse() - before;
  console.log(
    `# pipelined ${(sent / 1048576).toFixed(1)} MB of ${JSON.stringify(command.slice(0, 30))}; memory +${(grown / 1048576).toFixed(1)} MB`,
  );
  if (sent >= 24 << 20) throw new Error(`the server read ${sent} bytes of a client that never reads`);
  if (grown >= 48 << 20) throw new Error(`memory grew by ${grown} bytes`);
}

/**
 * Keeps sending what an attacker would after an oversized literal (or in an endless line), as fast as
 * the server reads it, until the server closes, stops reading for 1.5 s, or `maxBytes` went out.
 * Returns the bytes sent: far more than any limit if the server kept reading.
 */
export async function sendUntilClosed(c: RawClient, maxBytes = 64 << 20): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  while (sent < maxBytes && !c.isClosed) {
    sent += chunk.length;
    if (!c.write(chunk)) {
      const goOn = await Promise.race([
        new Promise((r) => c.socket.once('drain', () => r(true))),
        c.waitClosed(1500).then(() => false),
      ]);
      if (!goOn) break;
    }
  }
  return sent;
}

/** Bytes of JavaScript heap and buffers in use by this process (the in-process server's included). */
export function memoryInUse(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
