/**
 * IMAP session (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1): reads frames through wire.ts, runs one
 * command at a time in order, writes through respond.ts, and holds the one catch that turns errors
 * into BAD / NO. The state is a union that carries its data; only this file assigns it.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isMailError, type ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { Auth, AuthedUser } from '../../services/auth/index.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { ChangeFeed } from '../../store/index.js';
import type { Connection, Session } from '../shared/connection.js';
import { IdleTimer } from '../shared/idle-timer.js';
import { COMMANDS } from './commands/index.js';
import { atom, encodeUntagged, StreamLiteral, toBuffer, type Value } from './respond.js';
import { SelectedMailbox } from './selected.js';
import type { UidSnapshots } from './uid-snapshots.js';
import { FrameReader, ImapSyntaxError, tokenize, type Token, type WireLimits } from './wire.js';

export interface ImapDeps {
  hostname: string;
  auth: Auth;
  mailboxes: Mailboxes;
  changes: ChangeFeed;
  /** UID lists shared by the sessions that have the same mailbox selected. */
  uidSnapshots: UidSnapshots;
  limits: WireLimits & { allowPlaintextAuth: boolean; idleTimeoutMs: number; maxBadCommands: number };
  log: Logger;
}

export type ImapState =
  | { kind: 'notAuthenticated' }
  | { kind: 'authenticated'; user: AuthedUser }
  | { kind: 'selected'; user: AuthedUser; view: SelectedMailbox }
  | { kind: 'logout' };

export type StateKind = ImapState['kind'];

export interface Completion {
  /** NONE: the command already sent its tagged response (LOGOUT, STARTTLS). */
  status: 'OK' | 'NO' | 'BAD' | 'NONE';
  code?: string | undefined;
  text: string;
}

export class ImapBad extends Error {}
export class ImapNo extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

/** Gathered responses are written once they reach this size, or when the event loop turns. */
const FLUSH_BYTES = 64 * 1024;

/** ErrorCode → IMAP response code (RFC 5530). */
const RESPONSE_CODE: Partial<Record<ErrorCode, string>> = {
  MAILBOX_NOT_FOUND: 'NONEXISTENT', MAILBOX_EXISTS: 'ALREADYEXISTS', OVER_QUOTA: 'OVERQUOTA', AUTH_FAILED: 'AUTHENTICATIONFAILED',
  AUTH_LOCKED: 'UNAVAILABLE', INVALID_INPUT: 'CANNOT', TEMPORARY: 'UNAVAILABLE',
};

export class ImapSession implements Session {
  state: ImapState = { kind: 'notAuthenticated' };
  readonly enabled = new Set<string>();
  private reader: FrameReader;
  private queue: Array<() => Promise<void>> = [];
  private isRunning = false;
  private badCount = 0;
  private unsubscribe: (() => void) | undefined;
  /** RFC 9051 §5.4: the autologout timer is at least 30 minutes, IDLE included. */
  private readonly idleTimer: IdleTimer;
  private closed!: () => void;
  private readonly done = new Promise<void>((r) => (this.closed = r));
  /** Set while a command waits for a client line (IDLE's DONE, an AUTHENTICATE response). */
  private lineWaiter: ((line: string) => void) | undefined;
  readonly log: Logger;

  constructor(readonly conn: Connection, readonly deps: ImapDeps) {
    this.reader = new FrameReader(deps.limits);
    this.log = conn.log;
    this.idleTimer = new IdleTimer(deps.limits.idleTimeoutMs, () => {
      this.write('* BYE Autologout; idle for too long\r\n');
      this.close();
    });
  }

  get socket(): Socket | TLSSocket {
    return this.conn.socket;
  }

  get isUtf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  get isRev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  run(): Promise<void> {
    this.attach();
    this.socket.once('close', () => this.finish());
    this.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.deps.hostname} Postern IMAP ready\r\n`);
    return this.done;
  }

  shutdown(): void {
    this.write('* BYE Server shutting down\r\n');
    this.close();
  }

  private finish(): void {
    this.unsubscribe?.();
    this.idleTimer.stop();
    this.state = { kind: 'logout' };
    this.closed();
  }

  private attach(): void {
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    this.idleTimer.touch();
    for (const ev of this.reader.push(chunk)) {
      switch (ev.kind) {
        case 'continue':
          this.write('+ Ready for literal data\r\n');
          break;
        case 'reject-literal':
          this.write(`${ev.tag} NO [TOOBIG] Literal of ${ev.size} bytes is too large\r\n`);
          break;
        case 'too-long':
          this.bad(ev.tag, 'Line too long');
          break;
        case 'fatal':
          this.write(`* BYE ${ev.reason}\r\n`);
          this.close();
          return;
        case 'frame':
          if (this.lineWaiter && ev.segments.length === 1 && typeof ev.segments[0] === 'string') {
            const w = this.lineWaiter;
            this.lineWaiter = undefined;
            w(ev.segments[0]);
            break;
          }
          this.enqueue(ev.segments);
          break;
      }
    }
  }

  private enqueue(segments: Array<string | Buffer>): void {
    this.queue.push(() => this.execute(segments));
    if (!this.isRunning) void this.drain();
  }

  private async drain(): Promise<void> {
    this.isRunning = true;
    while (this.queue.length && this.state.kind !== 'logout') {
      await this.queue.shift()!();
    }
    this.isRunning = false;
  }

  private async execute(segments: Array<string | Buffer>): Promise<void> {
    let tag = '*';
    let name = '';
    const started = Date.now();
    try {
      // The tag first, so that a command broken further on still gets a tagged BAD.
      const lead = typeof segments[0] === 'string' ? /^([^\s(){%*"\\\]+]+) /.exec(segments[0]) : null;
      if (lead) tag = lead[1]!;
      const parsed = tokenize(segments);
      tag = parsed.tag;
      const [first, ...args] = parsed.tokens;
      if (!first || first.type !== 'atom') throw new ImapSyntaxError('missing command');
      name = first.value.toUpperCase();
      let isUid = false;
      let tokens: Token[] = args;
      if (name === 'UID') {
        const sub = args[0];
        if (!sub || sub.type !== 'atom') throw new ImapSyntaxError('UID needs a command');
        name = sub.value.toUpperCase();
        isUid = true;
        tokens = args.slice(1);
        if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE'].includes(name)) throw new ImapSyntaxError(`UID ${name} is not a command`);
      }
      const command = COMMANDS.get(name);
      if (!command) throw new ImapSyntaxError(`unknown command ${name.slice(0, 30)}`);
      if (!command.states.includes(this.state.kind)) {
        throw new ImapBad(this.state.kind === 'notAuthenticated' ? `${name} needs authentication first` : `${name} is not valid in this state`);
      }
      const result = await command.run(this, tokens, isUid, tag);
      if (this.state.kind === 'selected') await this.announce(!command.keepsSequence || isUid);
      this.complete(tag, result);
      this.badCount = 0;
      this.log.debug({ cmd: name, uid: isUid || undefined, result: result.status, ms: Date.now() - started }, 'imap command');
    } catch (err) {
      if (err instanceof ImapSyntaxError || err instanceof ImapBad) {
        this.bad(tag, err.message);
      } else if (err instanceof ImapNo) {
        this.complete(tag, { status: 'NO', code: err.code, text: err.message });
      } else if (isMailError(err)) {
        this.log.info({ cmd: name, code: err.code, reason: err.message }, 'imap command refused');
        this.complete(tag, { status: 'NO', code: RESPONSE_CODE[err.code], text: err.message });
      } else {
        this.log.error({ cmd: name, err }, 'imap command failed');
        this.complete(tag, { status: 'NO', code: 'SERVERBUG', text: 'Internal error, try again' });
      }
    }
  }

  private bad(tag: string, text: string): void {
    this.write(`${tag} BAD ${sanitize(text)}\r\n`);
    if (++this.badCount >= this.deps.limits.maxBadCommands) {
      this.write('* BYE Too many invalid commands\r\n');
      this.close();
    }
  }

  complete(tag: string, c: Completion): void {
    if (c.status === 'NONE') return;
    this.write(`${tag} ${c.status} ${c.code ? `[${c.code}] ` : ''}${sanitize(c.text)}\r\n`);
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
    let pending: Array<string | Buffer> = [];
    try {
      for (const p of encodeUntagged(values, this.isUtf8)) {
        if (!(p instanceof StreamLiteral)) {
          pending.push(p);
          continue;
        }
        this.append(toBuffer(pending));
        pending = [];
        this.flush();
        // Nothing else may reach the socket inside this response (a "+" continuation, a BAD): write() holds it.
        this.held ??= [];
        for await (const chunk of p.open()) {
          if (this.socket.destroyed) return;
          if (!this.socket.write(chunk as Buffer)) await this.drained();
        }
      }
      this.append(toBuffer(pending));
    } finally {
      const held = this.held;
      this.held = undefined;
      for (const b of held ?? []) this.append(b);
    }
    if (this.socket.writableNeedDrain) await this.drained();
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /**
   * Responses are gathered and written together: one socket write per 64 KB or per turn of the
   * event loop instead of one per line, so FETCH 1:* of 10,000 messages is not 10,000 syscalls.
   */
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /** What was written while send() streamed a literal: sent once that response is complete. */
  private held: Buffer[] | undefined;

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
    // A client that stops reading only stalls itself: stop reading its commands until it drains.
    if (!this.socket.write(data)) {
      this.socket.pause();
      this.socket.once('drain', () => this.socket.resume());
    }
  }

  /** Flushes and closes (BYE, LOGOUT, too many errors). */
  close(): void {
    this.flush();
    this.conn.close();
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN',
      'LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE', 'ESEARCH', 'MULTIAPPEND', 'BINARY', 'UTF8=ACCEPT', 'STATUS=SIZE'];
    if (this.state.kind === 'notAuthenticated') {
      if (!this.conn.isTls) caps.push('STARTTLS');
      if (!this.conn.isTls && !this.deps.limits.allowPlaintextAuth) caps.push('LOGINDISABLED');
      else caps.push('AUTH=PLAIN');
    }
    return caps;
  }

  get mayLogin(): boolean {
    return this.conn.isTls || this.deps.limits.allowPlaintextAuth;
  }

  /** Waits for the next client line (AUTHENTICATE continuation, IDLE's DONE). */
  nextLine(): Promise<string> {
    return new Promise((resolve) => (this.lineWaiter = resolve));
  }

  /** STARTTLS: no plaintext read after the command may be used (RFC 9051 §6.2.1). */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.reader = new FrameReader(this.deps.limits);
    this.socket.pause();
    this.flush();
    await this.conn.startTls();
    this.attach();
  }

  login(user: AuthedUser): void {
    this.state = { kind: 'authenticated', user };
    this.unsubscribe = this.deps.changes.subscribe(user.accountId, (event) => {
      if (this.state.kind === 'selected') this.state.view.apply(event);
    });
    this.log.info({ user: user.address }, 'imap login');
  }

  select(view: SelectedMailbox): void {
    const user = this.user;
    this.state = { kind: 'selected', user, view };
  }

  unselect(): void {
    this.state = { kind: 'authenticated', user: this.user };
  }

  logout(): void {
    this.state = { kind: 'logout' };
  }

  get user(): AuthedUser {
    if (this.state.kind !== 'authenticated' && this.state.kind !== 'selected') throw new ImapBad('not authenticated');
    return this.state.user;
  }

  get view(): SelectedMailbox {
    if (this.state.kind !== 'selected') throw new ImapBad('no mailbox selected');
    return this.state.view;
  }

  /** Tells the client of other sessions' changes; expunges only where RFC 9051 §7.5.1 allows. */
  async announce(allowExpunge: boolean): Promise<void> {
    if (this.state.kind !== 'selected') return;
    const view = this.state.view;
    if (!view.hasPending) return;
    const { expungedSeqs, flagUids, hasNew } = view.take(allowExpunge);
    for (const seq of expungedSeqs) this.untagged(seq, atom('EXPUNGE'));
    if (hasNew) {
      const fresh = await this.deps.mailboxes.messagesAfter(view.mailbox.id, view.maxUid);
      const before = view.exists;
      view.addUids(fresh.map((m) => m.uid));
      if (view.exists !== before) this.untagged(view.exists, atom('EXISTS'));
    }
    if (flagUids.length) {
      for (const m of await this.deps.mailboxes.messagesByUid(view.mailbox.id, flagUids)) {
        const seq = view.seqOf(m.uid);
        if (seq) this.untagged(seq, atom('FETCH'), [atom('UID'), m.uid, atom('FLAGS'), m.flags.map(atom)]);
      }
    }
  }
}

function sanitize(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 500);
}
