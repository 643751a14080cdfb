/**
 * POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN with an initial response
 * (RFC 5034), and the RESP-CODES / AUTH-RESP-CODE extensions (RFC 2449 §8, RFC 3206). The maildrop is
 * the INBOX; deletions are applied only at QUIT in the UPDATE state, so a dropped connection deletes
 * nothing; retrieved messages become \Seen for IMAP clients. UIDL is Dovecot's default
 * %08Xu%08Xv (UID then UIDVALIDITY, hex), so IMAP and POP3 agree and clients moving from Dovecot
 * do not download everything again.
 * Input is pulled one command at a time (PIPELINING, RFC 2449 §6.6, without unbounded read-ahead),
 * every response waits for a client that is slow to read, and RETR streams the message.
 * This file holds the connection loop, the AUTHORIZATION state, QUIT's UPDATE and the one catch; the
 * commands on the maildrop are in commands.ts, the texts a MailError is answered with in errors.ts.
 */
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { Auth, AuthedUser } from '../../services/auth/index.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { MailboxRecord, MessageSummary } from '../../store/index.js';
import type { Connection, Session } from '../shared/connection.js';
import { DotStuffer } from '../shared/dot-stuff.js';
import { IdleTimer } from '../shared/idle-timer.js';
import { drained, SessionInput } from '../shared/input.js';
import type { SessionLimits } from '../shared/limits.js';
import { LineReader, type LineEvent } from '../shared/lines.js';
import { decodeSaslPlain, isSameIdentity } from '../shared/sasl.js';
import { MAILDROP_COMMANDS, type Maildrop, type MaildropContext } from './commands.js';
import { Pop3Error, POP3_ERROR } from './errors.js';
import type { MaildropHolder, MaildropLocks } from './maildrop-locks.js';

export interface Pop3Deps {
  hostname: string;
  auth: Auth;
  mailboxes: Mailboxes;
  limits: SessionLimits & { allowPlaintextAuth: boolean };
  /** Who holds each account's maildrop, shared by every POP3 listener. */
  locks: MaildropLocks;
  log: Logger;
}

type State =
  | { kind: 'authorization'; user?: string }
  /** Holding the lock, reading the maildrop's listing. */
  | { kind: 'logging-in'; user: AuthedUser }
  | ({ kind: 'transaction' } & Maildrop)
  /** RFC 1939 §6: removing the deleted messages after QUIT; never taken over. */
  | { kind: 'update'; user: AuthedUser }
  | { kind: 'done' };

/** The states that hold the account's maildrop lock. */
function lockHolder(state: State): AuthedUser | undefined {
  return state.kind === 'logging-in' || state.kind === 'transaction' || state.kind === 'update'
    ? state.user
    : undefined;
}

const MAX_ARG_BYTES = 255; // RFC 2449 §4: arguments up to 40 characters; room for AUTH responses

export class Pop3Session implements Session, MaildropHolder {
  private state: State = { kind: 'authorization' };
  private readonly input: SessionInput<LineEvent>;
  /** Invalid commands in a row; a command answered with bad() does not reset it. */
  private badCount = 0;
  private wasBad = false;
  /** RFC 1939 §3: an inactivity autologout timer of at least 10 minutes. */
  private readonly idleTimer: IdleTimer;
  private loginTimer: NodeJS.Timeout | undefined;
  private closed!: () => void;
  private readonly done = new Promise<void>((r) => (this.closed = r));
  private readonly log: Logger;
  /** When the client last sent something or took output that had to wait for it (maildrop takeover). */
  private lastActive = Date.now();
  /** What the maildrop commands (commands.ts) see of this session. */
  private readonly maildrop: MaildropContext;

  constructor(
    private readonly conn: Connection,
    private readonly deps: Pop3Deps,
  ) {
    this.log = conn.log;
    this.maildrop = {
      mailboxes: deps.mailboxes,
      write: (line) => this.write(line),
      multiline: (status, lines) => this.multiline(status, lines),
      sendStuffed: (content) => this.sendStuffed(content),
    };
    this.idleTimer = new IdleTimer(deps.limits.idleTimeoutMs, () => {
      this.write('-ERR Autologout; idle for too long');
      this.close();
    });
    const input = deps.limits.preAuth;
    this.input = new SessionInput(new LineReader(input.maxLineBytes), input.maxBufferedBytes, () => {
      this.idleTimer.touch();
      this.lastActive = Date.now();
    });
  }

  run(): Promise<void> {
    this.input.attach(this.conn.socket);
    this.conn.socket.once('close', () => this.finish());
    this.loginTimer = setTimeout(() => {
      if (this.state.kind !== 'authorization') return;
      this.log.info({ ms: this.deps.limits.loginTimeoutMs }, 'pop3 login timeout');
      this.write('-ERR Login timeout');
      this.close();
    }, this.deps.limits.loginTimeoutMs);
    this.loginTimer.unref();
    this.write(`+OK ${this.deps.hostname} Postern POP3 ready`);
    void this.loop().catch((err: unknown) => {
      this.log.error({ err }, 'pop3 session failed');
      this.write('-ERR [SYS/TEMP] Internal error');
      this.close();
    });
    return this.done;
  }

  shutdown(): void {
    this.write('-ERR [SYS/TEMP] Server shutting down');
    this.close();
  }

  lastActivity(): number {
    return this.state.kind === 'update' ? Date.now() : this.lastActive;
  }

  /** A newer login took the maildrop over: this session ends without UPDATE, deleting nothing. */
  takenOver(): void {
    const user = lockHolder(this.state);
    if (!user || this.state.kind === 'update') return;
    this.log.info(
      { user: user.address, deletionsDropped: this.state.kind === 'transaction' ? this.state.deleted.size : 0 },
      'pop3 maildrop taken over by a newer session',
    );
    this.state = { kind: 'done' };
    this.write('-ERR [IN-USE] Another session logged in to this maildrop; nothing was deleted');
    this.close();
  }

  private finish(): void {
    this.idleTimer.stop();
    clearTimeout(this.loginTimer);
    const holder = lockHolder(this.state);
    // No UPDATE: nothing deleted. An UPDATE under way keeps the lock until its deletions are done (QUIT releases it).
    if (holder && this.state.kind !== 'update') this.deps.locks.release(holder.accountId, this);
    this.state = { kind: 'done' };
    this.closed();
  }

  /** PIPELINING (RFC 2449 §6.6): commands run one after another, in order. */
  private async loop(): Promise<void> {
    for (;;) {
      const ev = await this.input.next();
      if (!ev || this.state.kind === 'done') return;
      if (ev.kind === 'too-long') {
        this.log.info({}, 'pop3 line too long');
        this.bad('Line too long');
      } else {
        await this.command(ev.text);
      }
      if (this.conn.socket.writableLength > this.deps.limits.maxQueuedResponseBytes) await this.drained();
    }
  }

  /** The next line, for AUTH's continuation; undefined when the connection is gone. */
  private async nextLine(): Promise<string | undefined> {
    const ev = await this.input.next();
    if (!ev) return undefined;
    return ev.kind === 'line' ? ev.text : '';
  }

  private async drained(): Promise<void> {
    await drained(this.conn.socket);
    // The client is reading: not idle (a long RETR to a slow reader), and still there.
    this.idleTimer.touch();
    this.lastActive = Date.now();
  }

  /** Closes the connection; nothing more the client sent is run. */
  private close(): void {
    this.input.stop();
    this.conn.close();
  }

  private write(line: string): void {
    if (!this.conn.socket.destroyed) this.conn.socket.write(`${line}\r\n`);
  }

  /** A multi-line response (RFC 1939 §3): status line, lines, then "." alone, in one write. */
  private multiline(status: string, lines: string[]): void {
    this.write([status, ...lines.map((l) => (l.startsWith('.') ? `.${l}` : l)), '.'].join('\r\n'));
  }

  private bad(text: string): void {
    this.wasBad = true;
    this.write(`-ERR ${text}`);
    if (++this.badCount >= this.deps.limits.maxBadCommands) {
      this.log.info({}, 'pop3: too many invalid commands');
      this.write('-ERR Too many invalid commands');
      this.close();
    }
  }

  private async command(line: string): Promise<void> {
    if (this.state.kind === 'done') return;
    const m = /^([A-Za-z]{3,4})(?: (.*))?$/.exec(line);
    if (!m) return this.bad('Unknown command');
    const name = m[1]!.toUpperCase();
    const arg = m[2] ?? '';
    if (Buffer.byteLength(arg) > MAX_ARG_BYTES && name !== 'AUTH') return this.bad('Argument too long');
    this.wasBad = false;
    try {
      if (this.state.kind === 'authorization') await this.authorization(name, arg);
      else await this.transaction(name, arg);
      if (!this.wasBad) this.badCount = 0;
    } catch (err) {
      if (isMailError(err)) {
        this.log.info({ cmd: name, code: err.code, reason: err.message }, 'pop3 command refused');
        this.write(`-ERR ${POP3_ERROR[err.code]}`);
      } else {
        this.log.error({ cmd: name, err }, 'pop3 command failed');
        this.write('-ERR [SYS/TEMP] Internal error, try again');
      }
    }
  }

  private capa(): string[] {
    const caps = [
      'TOP',
      'UIDL',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      `EXPIRE NEVER`,
      'IMPLEMENTATION Postern',
    ];
    if (this.state.kind === 'authorization') {
      if (!this.conn.isTls) caps.push('STLS');
      if (this.mayLogin) caps.push('USER', 'SASL PLAIN');
    }
    return caps;
  }

  private get mayLogin(): boolean {
    return this.conn.isTls || this.deps.limits.allowPlaintextAuth;
  }

  private async authorization(name: string, arg: string): Promise<void> {
    const state = this.state as Extract<State, { kind: 'authorization' }>;
    switch (name) {
      case 'CAPA':
        return this.multiline('+OK Capability list follows', this.capa());
      case 'QUIT':
        this.write('+OK Bye');
        this.state = { kind: 'done' };
        return this.close();
      case 'NOOP':
        return this.write('+OK');
      case 'STLS': {
        if (this.conn.isTls) return this.bad('TLS is already active');
        this.write('+OK Begin TLS negotiation');
        // RFC 2595 §4: nothing read before the handshake is used after it.
        const dropped = await this.input.upgrade(async () => {
          await this.conn.startTls();
          return this.conn.socket;
        });
        if (dropped > 0) this.log.warn({ bytes: dropped }, 'pop3: discarded input pipelined after STLS');
        this.state = { kind: 'authorization' };
        return;
      }
      case 'USER':
        if (!this.mayLogin) return this.write('-ERR [AUTH] Use STLS before logging in');
        if (!arg) return this.bad('USER needs a name');
        this.state = { kind: 'authorization', user: arg };
        return this.write('+OK Send your password');
      case 'PASS':
        if (!this.mayLogin) return this.write('-ERR [AUTH] Use STLS before logging in');
        if (state.user === undefined) return this.bad('USER first');
        return this.login(state.user, arg);
      case 'AUTH': {
        if (!arg) return this.multiline('+OK Mechanisms follow', ['PLAIN']);
        const [mech, initial, extra] = arg.split(' ');
        if (mech!.toUpperCase() !== 'PLAIN') return this.write('-ERR Mechanism not supported');
        if (extra !== undefined) return this.bad('AUTH takes a mechanism and an initial response');
        if (!this.mayLogin) return this.write('-ERR [AUTH] Use STLS before logging in');
        let response = initial;
        if (response === undefined) {
          this.write('+ ');
          response = await this.nextLine();
          if (response === undefined) return;
        }
        if (response === '*') return this.write('-ERR Authentication cancelled');
        const plain = decodeSaslPlain(response === '=' ? '' : response);
        if (!plain.ok) {
          this.log.info({ reason: plain.reason }, 'pop3 AUTH refused');
          return this.bad(`Invalid PLAIN response: ${plain.reason}`);
        }
        if (!isSameIdentity(plain.value)) return this.write('-ERR [AUTH] Authorization identity must match');
        return this.login(plain.value.authcid, plain.value.password);
      }
      default:
        return this.bad(
          ['STAT', 'LIST', 'RETR', 'DELE', 'RSET', 'TOP', 'UIDL'].includes(name) ? 'Log in first' : 'Unknown command',
        );
    }
  }

  private async login(username: string, password: string): Promise<void> {
    let user: AuthedUser;
    try {
      user = await this.deps.auth.authenticate(username, password, { ip: this.conn.remoteAddress, protocol: 'pop3' });
    } catch (err) {
      this.state = { kind: 'authorization' };
      if (isMailError(err, 'AUTH_LOCKED')) return this.write('-ERR [SYS/TEMP] Too many failed logins, try again later');
      if (isMailError(err, 'AUTH_FAILED')) return this.write('-ERR [AUTH] Authentication failed');
      throw err;
    }
    if (this.state.kind === 'done') return; // the connection went while the password was checked
    // RFC 2449 §8.1.1: one session at a time holds a maildrop; a holder silent for a while is taken over.
    const lock = this.deps.locks.acquire(user.accountId, this);
    if (!lock.ok) {
      this.state = { kind: 'authorization' };
      return this.write('-ERR [IN-USE] Mailbox is locked by another POP3 session');
    }
    if (lock.tookOverAfterMs !== undefined)
      this.log.info(
        { user: user.address, silentMs: lock.tookOverAfterMs },
        'pop3 maildrop taken over from a silent session',
      );
    this.state = { kind: 'logging-in', user };
    let box: MailboxRecord;
    let messages: MessageSummary[];
    try {
      box = await this.deps.mailboxes.get(user.accountId, 'INBOX');
      messages = await this.deps.mailboxes.summaries(box.id);
    } catch (err) {
      this.deps.locks.release(user.accountId, this);
      if (this.state.kind === 'logging-in') this.state = { kind: 'authorization' };
      throw err;
    }
    // Ended meanwhile (closed, or taken over): finish() or takenOver() has dealt with the lock.
    if (this.state.kind !== 'logging-in') return;
    clearTimeout(this.loginTimer);
    this.state = { kind: 'transaction', user, box, messages, deleted: new Set() };
    this.log.info({ user: user.address, messages: messages.length }, 'pop3 login');
    this.write(`+OK Logged in, ${messages.length} messages`);
  }

  private async transaction(name: string, arg: string): Promise<void> {
    const st = this.state as Extract<State, { kind: 'transaction' }>;
    const command = MAILDROP_COMMANDS.get(name);
    try {
      if (command) return await command(this.maildrop, st, arg);
      switch (name) {
        case 'CAPA':
          return this.multiline('+OK Capability list follows', this.capa());
        case 'NOOP':
          return this.write('+OK');
        case 'QUIT':
          return await this.update(st);
        default:
          return this.bad(['USER', 'PASS', 'AUTH', 'STLS'].includes(name) ? 'Already logged in' : 'Unknown command');
      }
    } catch (err) {
      if (err instanceof Pop3Error) return this.bad(err.message);
      throw err;
    }
  }

  /**
   * QUIT in TRANSACTION: the UPDATE state (RFC 1939 §6). The deletions happen now, all together, or
   * not at all; the lock is released and the connection closed either way.
   */
  private async update(st: Maildrop): Promise<void> {
    const uids = [...st.deleted].map((n) => st.messages[n - 1]!.uid);
    this.state = { kind: 'update', user: st.user };
    try {
      await this.deps.mailboxes.expunge(st.user.accountId, st.box.id, uids);
      this.write(`+OK Bye, ${uids.length} messages deleted`);
    } catch (err) {
      this.log.error({ err, user: st.user.address }, 'pop3 UPDATE failed: nothing deleted');
      this.write('-ERR [SYS/TEMP] The deleted messages could not be removed; they are still there');
    } finally {
      this.deps.locks.release(st.user.accountId, this);
      this.state = { kind: 'done' };
      this.close();
    }
  }

  /** RFC 1939 §3: lines starting with "." get another "."; the response ends with "." alone. Streamed. */
  private async sendStuffed(content: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const stuffer = new DotStuffer();
    const socket = this.conn.socket;
    for await (const chunk of content) {
      if (socket.destroyed) return;
      if (!socket.write(stuffer.push(chunk))) await this.drained();
    }
    socket.write(stuffer.end());
  }
}
