/**
 * What an IMAP session writes, gathered: one socket write per 64 KB or per turn of the event loop
 * instead of one per line, so FETCH 1:* of 10,000 messages is not 10,000 syscalls. Literals stream
 * from their source, a client that is slow to read is waited for, and while a response is written in
 * pieces anything else written (a BYE) waits for its end.
 */
import type { Logger } from '../../lib/log.js';
import type { Connection } from '../shared/connection.js';
import { drained } from '../shared/input.js';
import { ConnectionGone } from './errors.js';
import { encodeUntagged, encodeValues, StreamLiteral, toBuffer, type Part, type Value } from './respond.js';

/** Gathered responses are written once they reach this size, or when the event loop turns. */
const FLUSH_BYTES = 64 * 1024;

export interface OutputOptions {
  /** Bytes of responses the client may leave unread before the writer waits for it. */
  maxQueuedResponseBytes: number;
  /** Whether strings go out as UTF-8 (UTF8=ACCEPT or IMAP4rev2 enabled), asked at each write. */
  isUtf8: () => boolean;
  /** The client read what waited for it: it is not idle. */
  onDrained: () => void;
  log: Logger;
}

export class ImapOutput {
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /** What was written while a response was being written in pieces: sent once it is complete. */
  private held: Buffer[] | undefined;
  private holds = 0;

  constructor(
    private readonly conn: Connection,
    private readonly options: OutputOptions,
  ) {}

  /** The current socket: STARTTLS replaces it. */
  private get socket() {
    return this.conn.socket;
  }

  private get isUtf8(): boolean {
    return this.options.isUtf8();
  }

  private get log(): Logger {
    return this.options.log;
  }

  write(data: string | Buffer): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.held) this.held.push(b);
    else this.append(b);
  }

  private append(b: Buffer): void {
    if (this.socket.destroyed) return;
    this.out.push(b);
    this.outBytes += b.length;
    if (this.outBytes >= FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what write() gathered; before closing, STARTTLS and streaming a literal. */
  flush(): void {
    this.flushScheduled = false;
    if (this.outBytes === 0 || this.socket.destroyed) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    // A client that stops reading only stalls itself: the command loop waits for it before the next command.
    this.socket.write(data);
  }

  /** Writes an untagged response: `* ` then the values, space-separated. */
  untagged(...values: Value[]): void {
    const parts = encodeUntagged(values, this.isUtf8);
    if (parts.some((p) => p instanceof StreamLiteral)) throw new Error('a streamed literal needs send()');
    this.write(toBuffer(parts as Array<string | Buffer>));
  }

  /**
   * Like untagged(), but streams literals from their source and waits while the client is slow to
   * read, so a large FETCH holds one message at a time, not the whole answer.
   */
  async send(...values: Value[]): Promise<void> {
    this.hold();
    try {
      await this.writeParts(encodeUntagged(values, this.isUtf8));
    } finally {
      this.release();
    }
    await this.waitForReader();
  }

  /**
   * One FETCH response (RFC 9051 §7.5.2) written item by item: each item's data is made only when
   * its turn comes, and the session waits for a client that is slow to read before making the next,
   * so `FETCH 1 (BODY.PEEK[TEXT] BODY.PEEK[TEXT] …)` holds one section at a time, not all of them.
   */
  async sendFetch(seq: number, items: Iterable<Value[]>): Promise<void> {
    this.hold();
    try {
      // Items are gathered until they make FLUSH_BYTES or one streams from its source: a small
      // message is one write, as before; a response of large sections goes out one section at a time.
      let parts: Part[] = [`* ${seq} FETCH (`];
      const add = (p: Part) => {
        const last = parts.length - 1;
        if (typeof p === 'string' && typeof parts[last] === 'string')
          parts[last] += p; // text joined: one buffer per write
        else parts.push(p);
      };
      let bytes = 0;
      let isFirst = true;
      for (const item of items) {
        if (!isFirst) add(' ');
        isFirst = false;
        let streams = false;
        for (const p of encodeValues(item, this.isUtf8)) {
          add(p);
          if (p instanceof StreamLiteral) streams = true;
          else bytes += p.length;
        }
        if (!streams && bytes < FLUSH_BYTES) continue;
        await this.writeParts(parts);
        parts = [];
        bytes = 0;
        if (this.socket.destroyed) throw new ConnectionGone();
        await this.waitForReader();
      }
      add(')\r\n');
      await this.writeParts(parts);
    } finally {
      this.release();
    }
    await this.waitForReader();
  }

  /** Writes encoded parts: text gathered, large buffers as they are (no copy), streamed literals from their source. */
  private async writeParts(parts: Part[]): Promise<void> {
    let pending: Array<string | Buffer> = [];
    const gather = () => {
      if (pending.length) this.append(toBuffer(pending));
      pending = [];
    };
    for (const p of parts) {
      if (p instanceof StreamLiteral) {
        gather();
        this.flush();
        try {
          for await (const chunk of p.open()) {
            if (this.socket.destroyed) throw new ConnectionGone();
            if (!this.socket.write(chunk as Buffer)) await this.drained();
          }
        } catch (err) {
          if (err instanceof ConnectionGone) throw err;
          // The literal's length is on the wire: no response can follow a literal cut short, so the
          // connection ends (the client reconnects and fetches again).
          this.log.error({ err }, 'imap: reading a message failed in the middle of its literal; closing');
          this.socket.destroy();
          throw new ConnectionGone();
        }
      } else if (Buffer.isBuffer(p) && p.length >= FLUSH_BYTES) {
        gather();
        this.flush();
        this.socket.write(p);
      } else {
        pending.push(p);
      }
    }
    gather();
  }

  /** Responses the client has not read past the bound: flush and wait for it. */
  private async waitForReader(): Promise<void> {
    if (
      this.outBytes + this.socket.writableLength < this.options.maxQueuedResponseBytes &&
      !this.socket.writableNeedDrain
    )
      return;
    this.flush();
    await this.drained();
  }

  /** While a response is written in pieces, anything else written (a BYE) waits for its end. */
  private hold(): void {
    this.holds++;
    this.held ??= [];
  }

  private release(): void {
    if (--this.holds > 0) return;
    const held = this.held;
    this.held = undefined;
    for (const b of held ?? []) this.append(b);
  }

  /** Waits until the socket has written what it holds. */
  async drained(): Promise<void> {
    await drained(this.socket);
    this.options.onDrained(); // a client reading a long response is not idle
  }
}
