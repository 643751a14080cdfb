/**
 * A ClamAV clamd client: INSTREAM (clamd(8) "zINSTREAM"), over TCP ("127.0.0.1:3310") or a unix
 * socket ("/run/clamav/clamd.ctl"). The message goes in chunks, each with its 4-byte length, then a
 * zero-length chunk; clamd answers "stream: OK", "stream: <name> FOUND" or "... ERROR".
 *
 * Connections are reused: each is a clamd session (clamd(8) "zIDSESSION", each answer prefixed by
 * the command's number, "zEND" to finish), one scan at a time, and up to MAX_IDLE_SESSIONS wait
 * between scans for IDLE_MS, less than clamd's own IdleTimeout (30 s). A kept session that turns out
 * closed or reset before any answer is retried once on a fresh connection; every scan, retry
 * included, has one deadline, so an engine that hangs is an engine that failed.
 */
import type net from 'node:net';
import { connectEngine, EngineStats } from './engine.js';

export type ScanResult = { kind: 'clean' } | { kind: 'infected'; name: string };

const CHUNK = 64 * 1024;
const MAX_REPLY = 4096;
/** Sessions kept open between scans; more scans at once open more, closed after use. */
const MAX_IDLE_SESSIONS = 4;
/** A kept session unused this long is ended, before clamd's IdleTimeout (default 30 s) ends it. */
const IDLE_MS = 10_000;

export class ClamdError extends Error {
  override readonly name = 'ClamdError';
}

/** A kept session found closed before it answered: the scan goes again on a fresh connection. */
class StaleSession extends ClamdError {}

export interface ClamdOptions {
  /** "host:port", "[v6]:port" or an absolute path to clamd's unix socket. */
  address: string;
  timeoutMs: number;
}

export class Clamd {
  readonly stats = new EngineStats();
  private readonly idle: ClamdSession[] = [];

  constructor(private readonly options: ClamdOptions) {}

  /** Scans one message; a failure is counted in `stats` and thrown as a ClamdError with the running count. */
  async scan(data: Buffer): Promise<ScanResult> {
    this.stats.checks += 1;
    const deadline = Date.now() + this.options.timeoutMs;
    try {
      const kept = this.idle.pop();
      if (kept) {
        try {
          return await this.scanOn(kept, data, deadline);
        } catch (err) {
          if (!(err instanceof StaleSession)) throw err;
        }
      }
      return await this.scanOn(this.open(), data, deadline);
    } catch (err) {
      const counted = this.stats.failed('clamd', err);
      throw new ClamdError(counted.message, { cause: err });
    }
  }

  /** Ends the kept sessions. */
  close(): void {
    for (const s of this.idle.splice(0)) s.end();
  }

  private open(): ClamdSession {
    return new ClamdSession(connectEngine('clamd', this.options.address), (s) => {
      const at = this.idle.indexOf(s);
      if (at >= 0) this.idle.splice(at, 1);
    });
  }

  private async scanOn(session: ClamdSession, data: Buffer, deadline: number): Promise<ScanResult> {
    const remainingMs = Math.max(0, deadline - Date.now());
    const result = await session.scan(data, remainingMs, this.options.timeoutMs);
    if (this.idle.length < MAX_IDLE_SESSIONS && session.park(IDLE_MS)) this.idle.push(session);
    else session.end();
    return result;
  }
}

/** One clamd connection in IDSESSION mode, one command at a time. */
class ClamdSession {
  private buffer = '';
  private commands = 0;
  /** The number clamd prefixes the current command's answer with. */
  private expected = 0;
  /** Bytes of the current command's answer received so far. */
  private received = 0;
  private isGone = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private pending: ((err: Error | undefined, result?: ScanResult) => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly onGone: (s: ClamdSession) => void,
  ) {
    socket.setNoDelay(true);
    socket.write('zIDSESSION\0');
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('error', (err) => this.gone(`clamd: ${err.message}`));
    socket.once('close', () => this.gone('clamd closed the connection without an answer'));
  }

  scan(data: Buffer, remainingMs: number, timeoutMs: number): Promise<ScanResult> {
    this.commands += 1;
    this.received = 0;
    const id = this.commands;
    clearTimeout(this.idleTimer);
    this.socket.ref();
    return new Promise<ScanResult>((resolve, reject) => {
      if (this.isGone) return reject(new StaleSession('clamd closed a kept connection'));
      const timer = setTimeout(() => this.fail(`clamd did not answer within ${timeoutMs} ms`), remainingMs);
      this.pending = (err, result) => {
        clearTimeout(timer);
        this.pending = undefined;
        if (err) reject(err);
        else resolve(result!);
      };
      this.expected = id;
      // One write for the whole command: small separate segments meet delayed ACKs (40 ms a scan).
      this.socket.cork();
      this.socket.write('zINSTREAM\0');
      for (let at = 0; at < data.length; at += CHUNK) {
        const chunk = data.subarray(at, at + CHUNK);
        const size = Buffer.alloc(4);
        size.writeUInt32BE(chunk.length);
        this.socket.write(size);
        this.socket.write(chunk);
      }
      this.socket.write(Buffer.alloc(4)); // the zero-length chunk ends the stream
      this.socket.uncork();
    });
  }

  /** Keeps the session for the next scan; false if it cannot be kept. */
  park(idleMs: number): boolean {
    if (this.isGone) return false;
    this.socket.unref();
    this.idleTimer = setTimeout(() => this.end(), idleMs);
    this.idleTimer.unref();
    return true;
  }

  /** Ends the session politely; a clamd that does not close its side within a second is cut off. */
  end(): void {
    if (this.isGone) return;
    this.gone('session ended');
    this.socket.setTimeout(1000, () => this.socket.destroy());
    this.socket.end('zEND\0');
  }

  private read(d: Buffer): void {
    this.received += d.length;
    this.buffer += d.toString('latin1');
    if (this.buffer.length > MAX_REPLY) return this.fail('clamd: reply too long');
    const end = this.buffer.indexOf('\0');
    if (end < 0) return;
    const line = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end + 1);
    // Anything clamd says while no scan waits ("COMMAND READ TIMED OUT") ends the session.
    if (!this.pending) return this.fail(`clamd: ${line}`);
    const numbered = /^(\d+): (.*)$/.exec(line);
    if (!numbered || Number(numbered[1]) !== this.expected) return this.fail(`clamd: ${line}`);
    const parsed = parseReply(numbered[2]!);
    if (!parsed) return this.fail(`clamd: ${numbered[2]}`);
    if (this.buffer !== '') return this.fail('clamd: answer beyond the one asked for');
    this.pending(undefined, parsed);
  }

  /** The current scan fails (clamd answered wrongly or not in time) and the session is dropped. */
  private fail(why: string): void {
    this.pending?.(new ClamdError(why));
    this.gone(why);
    this.socket.destroy();
  }

  /**
   * The connection is over. A scan still waiting fails; on a kept session (not its first command)
   * that had no byte of answer yet, as a StaleSession, which is retried on a fresh connection.
   */
  private gone(why: string): void {
    clearTimeout(this.idleTimer);
    if (!this.isGone) {
      this.isGone = true;
      this.onGone(this);
    }
    const isStale = this.commands > 1 && this.received === 0;
    this.pending?.(isStale ? new StaleSession(why) : new ClamdError(why));
  }
}

/** "stream: OK" → clean; "stream: Eicar-Signature FOUND" → infected; anything else (ERROR) → undefined. */
export function parseReply(line: string): ScanResult | undefined {
  const text = line.replace(/^stream: /, '').trim();
  if (text === 'OK') return { kind: 'clean' };
  const found = /^(.+) FOUND$/.exec(text);
  return found ? { kind: 'infected', name: found[1]! } : undefined;
}
