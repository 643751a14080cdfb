/**
 * Reading commands off a socket for a session that runs one command at a time. The session pulls
 * the next command when it is ready for it; bytes the client sent ahead (pipelining) wait unparsed,
 * and once more than `maxBufferedBytes` of them wait the socket is no longer read, so a client that
 * floods commands holds a bounded amount of memory and only stalls itself.
 *
 * STARTTLS: `upgrade()` drops whatever was read ahead of the command before the handshake, so no
 * plaintext a man in the middle added after STARTTLS is ever taken as a command inside the TLS
 * session (the CVE-2011-0411 class; RFC 3207 §4.2, RFC 2595 §3.1, RFC 9051 §6.2.1).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** An incremental command parser: fed bytes, asked for one event at a time. */
export interface FrameParser<E> {
  push(chunk: Buffer): void;
  /** The next complete event, or undefined until more bytes arrive. */
  next(): E | undefined;
  /** Drops unparsed input and any partly read command; returns how many bytes were dropped. */
  discard(): number;
  /** Bytes pushed and not yet parsed. */
  readonly bufferedBytes: number;
}

export class SessionInput<E> {
  private socket: Socket | TLSSocket | undefined;
  private waiter: ((ev: E | undefined) => void) | undefined;
  private isPaused = false;
  private isClosed = false;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onClose = (): void => this.close();

  constructor(
    private readonly parser: FrameParser<E>,
    private maxBufferedBytes: number,
    private readonly onActivity: () => void = () => {},
  ) {}

  attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.once('close', this.onClose);
    if (this.isPaused) {
      this.isPaused = false;
      socket.resume();
    }
    this.updateFlow();
  }

  /** After login: a larger read-ahead (the parser's own limits are set by the session). */
  setMaxBufferedBytes(maxBufferedBytes: number): void {
    this.maxBufferedBytes = maxBufferedBytes;
    this.updateFlow();
  }

  /**
   * The next event, in order; undefined once the connection is closed. Only one caller waits at a
   * time: the session's command loop, or a command reading a continuation line (AUTHENTICATE, IDLE).
   */
  next(): Promise<E | undefined> {
    const ev = this.isClosed ? undefined : this.parser.next();
    if (ev !== undefined || this.isClosed) {
      this.updateFlow();
      return Promise.resolve(ev);
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.updateFlow();
    });
  }

  /**
   * STARTTLS/STLS: stops reading the plain socket, drops what was read ahead, runs the handshake,
   * and reads the TLS socket after it. Returns how many plaintext bytes were dropped.
   */
  async upgrade(startTls: () => Promise<Socket | TLSSocket>): Promise<number> {
    const socket = this.socket;
    if (socket) {
      socket.off('data', this.onData);
      socket.off('close', this.onClose);
      socket.pause();
    }
    const dropped = this.parser.discard();
    this.isPaused = false;
    const secure = await startTls();
    this.attach(secure);
    return dropped;
  }

  /** Stops reading for good (the session is over, or input it will not read came in): next() answers undefined from now on. */
  stop(): void {
    this.socket?.off('data', this.onData);
    this.socket?.pause();
    this.isPaused = true;
    this.close();
  }

  private receive(chunk: Buffer): void {
    this.onActivity();
    this.parser.push(chunk);
    if (this.waiter) {
      const ev = this.parser.next();
      if (ev !== undefined) {
        const w = this.waiter;
        this.waiter = undefined;
        w(ev);
      }
    }
    this.updateFlow();
  }

  private close(): void {
    this.isClosed = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  /** Reading stops while nobody waits and more than the bound is read ahead; it resumes once it is taken. */
  private updateFlow(): void {
    const socket = this.socket;
    if (!socket || this.isClosed) return;
    const isFull = this.waiter === undefined && this.parser.bufferedBytes > this.maxBufferedBytes;
    if (isFull && !this.isPaused) {
      this.isPaused = true;
      socket.pause();
    } else if (!isFull && this.isPaused) {
      this.isPaused = false;
      socket.resume();
    }
  }
}

/** Resolves once the socket has written what it holds (or is closed): how a session waits for a slow reader. */
export function drained(socket: Socket | TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writableNeedDrain) return resolve();
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
