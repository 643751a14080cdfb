/**
 * IMAP session (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1): pulls frames through wire.ts, runs one
 * command at a time in order (commands/ through the registry), writes through output.ts, and holds
 * the one catch that turns errors into BAD / NO (errors.ts has the table). The state is a union that
 * carries its data; only this file assigns it.
 * Input is bounded per state (protocols/shared/limits.ts): before login a command is at most a few
 * KB and must come within the login timeout; commands pipelined ahead of the running one wait
 * unparsed, and the socket is not read while more than a bound of them wait.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { AuthedUser } from '../../services/auth/index.js';
import type { ChangeFeed } from '../../store/index.js';
import type { Connection, Session } from '../shared/connection.js';
import { IdleTimer } from '../shared/idle-timer.js';
import { SessionInput } from '../shared/input.js';
import type { SessionLimits } from '../shared/limits.js';
import { capabilities } from './capabilities.js';
import { COMMANDS } from './commands/index.js';
import type { CommandDeps, Completion, ImapContext, ImapState } from './commands/types.js';
import { ConnectionGone, ImapBad, ImapNo, refusalOf } from './errors.js';
import { flagsValue } from './fetch.js';
import { ImapOutput } from './output.js';
import { atom, type Value } from './respond.js';
import { type SelectedMailbox } from './selected.js';
import { FrameReader, ImapSyntaxError, tokenize, type Token, type WireEvent } from './wire.js';

export interface ImapDeps extends CommandDeps {
  hostname: string;
  changes: ChangeFeed;
  limits: SessionLimits & { allowPlaintextAuth: boolean };
  log: Logger;
}

export class ImapSession implements Session, ImapContext {
  state: ImapState = { kind: 'notAuthenticated' };
  readonly enabled = new Set<string>();
  private readonly reader: FrameReader;
  private readonly input: SessionInput<WireEvent>;
  private readonly output: ImapOutput;
  private badCount = 0;
  private unsubscribe: (() => void) | undefined;
  /** RFC 9051 §5.4: the autologout timer is at least 30 minutes, IDLE included. */
  private readonly idleTimer: IdleTimer;
  /** Closes a connection that has not logged in within the login timeout, however busy it keeps. */
  private loginTimer: NodeJS.Timeout | undefined;
  private closed!: () => void;
  private readonly done = new Promise<void>((r) => (this.closed = r));
  readonly log: Logger;

  constructor(
    readonly conn: Connection,
    readonly deps: ImapDeps,
  ) {
    const limits = deps.limits;
    this.reader = new FrameReader(limits.preAuth);
    this.log = conn.log;
    this.output = new ImapOutput(conn, {
      maxQueuedResponseBytes: limits.maxQueuedResponseBytes,
      isUtf8: () => this.isUtf8,
      onDrained: () => this.idleTimer.touch(),
      log: this.log,
    });
    this.idleTimer = new IdleTimer(limits.idleTimeoutMs, () => {
      this.write('* BYE Autologout; idle for too long\r\n');
      this.close();
    });
    this.input = new SessionInput(this.reader, limits.preAuth.maxBufferedBytes, () => this.idleTimer.touch());
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
    this.input.attach(this.socket);
    this.socket.once('close', () => this.finish());
    this.loginTimer = setTimeout(() => {
      if (this.state.kind !== 'notAuthenticated') return;
      this.log.info({ ms: this.deps.limits.loginTimeoutMs }, 'imap login timeout');
      this.write('* BYE Login timeout\r\n');
      this.close();
    }, this.deps.limits.loginTimeoutMs);
    this.loginTimer.unref();
    this.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.deps.hostname} Postern IMAP ready\r\n`);
    void this.loop().catch((err: unknown) => {
      this.log.error({ err }, 'imap session failed');
      this.write('* BYE Internal error\r\n');
      this.close();
    });
    return this.done;
  }

  shutdown(): void {
    this.write('* BYE Server shutting down\r\n');
    this.close();
  }

  /** Whether the connection is gone: a long command checks it between messages and stops. */
  get isClosed(): boolean {
    return this.ended || this.socket.destroyed;
  }

  private ended = false;

  private finish(): void {
    this.ended = true;
    this.unsubscribe?.();
    this.idleTimer.stop();
    clearTimeout(this.loginTimer);
    this.state = { kind: 'logout' };
    this.closed();
  }

  /** One command at a time, in order; a client that does not read its answers stalls only itself. */
  private async loop(): Promise<void> {
    for (;;) {
      const ev = await this.input.next();
      if (!ev || this.state.kind === 'logout') return;
      switch (ev.kind) {
        case 'continue':
          this.write('+ Ready for literal data\r\n');
          break;
        case 'reject-literal':
          this.write(`${ev.tag} NO [TOOBIG] Literal of ${ev.size} bytes is too large\r\n`);
          this.log.info({ size: ev.size, state: this.state.kind }, 'imap literal refused: too large');
          break;
        case 'too-long':
          this.log.info({ state: this.state.kind }, 'imap line too long');
          this.bad(ev.tag, 'Line too long');
          break;
        case 'fatal':
          this.log.info({ reason: ev.reason, state: this.state.kind }, 'imap input refused');
          this.write(`* BYE ${ev.reason}\r\n`);
          this.close();
          return;
        case 'frame':
          await this.execute(ev.segments);
          if (this.isClosed) return;
          break;
      }
      if (this.socket.writableLength > this.deps.limits.maxQueuedResponseBytes) await this.drained();
    }
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
        if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE'].includes(name))
          throw new ImapSyntaxError(`UID ${name} is not a command`);
      }
      const command = COMMANDS.get(name);
      if (!command) throw new ImapSyntaxError(`unknown command ${name.slice(0, 30)}`);
      if (!command.states.includes(this.state.kind)) {
        throw new ImapBad(
          this.state.kind === 'notAuthenticated'
            ? `${name} needs authentication first`
            : `${name} is not valid in this state`,
        );
      }
      const result = await command.run(this, tokens, isUid, tag);
      if (this.state.kind === 'selected') await this.announce(!command.keepsSequence || isUid);
      this.complete(tag, result);
      this.badCount = 0;
      this.log.debug(
        { cmd: name, uid: isUid || undefined, result: result.status, ms: Date.now() - started },
        'imap command',
      );
    } catch (err) {
      if (err instanceof ConnectionGone) {
        this.log.debug({ cmd: name, ms: Date.now() - started }, 'imap command stopped: the client went');
      } else if (err instanceof ImapSyntaxError || err instanceof ImapBad) {
        this.bad(tag, err.message);
      } else if (err instanceof ImapNo) {
        this.complete(tag, { status: 'NO', code: err.code, text: err.message });
      } else if (isMailError(err)) {
        this.log.info({ cmd: name, code: err.code, reason: err.message.slice(0, 200) }, 'imap command refused');
        const refusal = refusalOf(err);
        if (refusal.status === 'BAD') this.bad(tag, refusal.text);
        else this.complete(tag, refusal);
      } else {
        this.log.error({ cmd: name, err }, 'imap command failed');
        this.complete(tag, { status: 'NO', code: 'SERVERBUG', text: 'Internal error, try again' });
      }
    }
  }

  private bad(tag: string, text: string): void {
    this.write(`${tag} BAD ${sanitize(text)}\r\n`);
    if (++this.badCount >= this.deps.limits.maxBadCommands) {
      this.log.info({ state: this.state.kind }, 'imap: too many invalid commands');
      this.write('* BYE Too many invalid commands\r\n');
      this.close();
    }
  }

  complete(tag: string, c: Completion): void {
    if (c.status === 'NONE') return;
    this.write(`${tag} ${c.status} ${c.code ? `[${c.code}] ` : ''}${sanitize(c.text)}\r\n`);
  }

  write(data: string | Buffer): void {
    this.output.write(data);
  }

  /** Writes an untagged response: `* ` then the values, space-separated. */
  untagged(...values: Value[]): void {
    this.output.untagged(...values);
  }

  /** Like untagged(), but streams literals and waits for a client that is slow to read. */
  send(...values: Value[]): Promise<void> {
    return this.output.send(...values);
  }

  /** One FETCH response written item by item (output.ts). */
  sendFetch(seq: number, items: Iterable<Value[]>): Promise<void> {
    return this.output.sendFetch(seq, items);
  }

  /** Sends what write() gathered; before closing and STARTTLS. */
  flush(): void {
    this.output.flush();
  }

  private drained(): Promise<void> {
    return this.output.drained();
  }

  /** Flushes and closes (BYE, LOGOUT, too many errors); nothing more the client sent is run. */
  close(): void {
    this.input.stop();
    this.flush();
    this.conn.close();
  }

  capabilities(): string[] {
    return capabilities(this.state.kind, this.conn.isTls, this.deps.limits.allowPlaintextAuth);
  }

  get mayLogin(): boolean {
    return this.conn.isTls || this.deps.limits.allowPlaintextAuth;
  }

  /**
   * The next client line, for a command that reads one (an AUTHENTICATE response, IDLE's DONE). A
   * line that is not one plain line (a literal, an overlong line) is a syntax error of that command.
   */
  async nextLine(): Promise<string> {
    for (;;) {
      const ev = await this.input.next();
      if (!ev) throw new ImapBad('connection closed');
      if (ev.kind === 'frame' && ev.segments.length === 1 && typeof ev.segments[0] === 'string') return ev.segments[0];
      if (ev.kind === 'continue') {
        this.write('+ Ready for literal data\r\n');
        continue;
      }
      if (ev.kind === 'fatal') {
        this.write(`* BYE ${ev.reason}\r\n`);
        this.close();
        throw new ImapBad('connection closed');
      }
      throw new ImapSyntaxError('expected one line');
    }
  }

  /**
   * STARTTLS: the tagged OK is on the wire; whatever the client sent after the command is dropped
   * unread (RFC 9051 §6.2.1, CVE-2011-0411), then the handshake runs and reading resumes over TLS.
   */
  async startTls(): Promise<void> {
    this.flush();
    const dropped = await this.input.upgrade(async () => {
      await this.conn.startTls();
      return this.socket;
    });
    if (dropped > 0) this.log.warn({ bytes: dropped }, 'imap: discarded input pipelined after STARTTLS');
  }

  login(user: AuthedUser): void {
    if (this.ended) return; // the client went while its password was checked: nothing to subscribe
    this.state = { kind: 'authenticated', user };
    clearTimeout(this.loginTimer);
    this.reader.setLimits(this.deps.limits.authenticated);
    this.input.setMaxBufferedBytes(this.deps.limits.authenticated.maxBufferedBytes);
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

  /** The flags a response shows for a message: its own, and \Recent where this session has it (IMAP4rev1 only, RFC 3501 §2.3.2). */
  flagsOf(uid: number, flags: string[]): string[] {
    if (this.isRev2 || this.state.kind !== 'selected' || !this.state.view.recent.has(uid)) return flags;
    return [...flags, '\\Recent'];
  }

  /** Before a response shows a flag the client was not told of: FLAGS and PERMANENTFLAGS again (RFC 9051 §7.3.5). */
  defineFlags(flags: Iterable<string>): void {
    if (this.state.kind !== 'selected') return;
    const view = this.state.view;
    if (!view.learnFlags(flags)) return;
    this.untagged(atom('FLAGS'), flagsValue(view.flagList()));
    if (!view.isReadOnly)
      this.untagged(atom(`OK [PERMANENTFLAGS (${[...view.flagList(), '\\*'].join(' ')})] Flags permitted`));
  }

  /**
   * Tells the client of other sessions' changes; expunges only where RFC 9051 §7.5.1 allows. One
   * announcement runs at a time and calls made meanwhile fold into one more: a COPY of 10,000
   * messages is 10,000 change events, and each must not start its own store query.
   */
  announce(allowExpunge: boolean): Promise<void> {
    if (this.queuedAnnounce) {
      this.queuedAnnounce.allowExpunge &&= allowExpunge; // expunges wait for a point where all callers allow them
      return this.announceTail;
    }
    const queued = { allowExpunge };
    this.queuedAnnounce = queued;
    this.announceTail = this.announceTail
      .then(() => {
        this.queuedAnnounce = undefined;
        return this.announceNow(queued.allowExpunge);
      })
      .catch((err: unknown) => this.log.error({ err }, 'imap: announcing changes failed'));
    return this.announceTail;
  }

  private announceTail: Promise<void> = Promise.resolve();
  private queuedAnnounce: { allowExpunge: boolean } | undefined;

  private async announceNow(allowExpunge: boolean): Promise<void> {
    if (this.state.kind !== 'selected') return;
    const view = this.state.view;
    if (!view.hasPending) return;
    const { expungedSeqs, flagUids, hasNew } = view.take(allowExpunge);
    for (const seq of expungedSeqs) this.untagged(seq, atom('EXPUNGE'));
    if (hasNew) {
      const fresh = await this.deps.mailboxes.messagesAfter(view.mailbox.id, view.maxUid);
      const before = view.exists;
      view.addUids(fresh.map((m) => m.uid));
      if (view.exists !== before) {
        this.untagged(view.exists, atom('EXISTS'));
        // RFC 3501 §2.3.2: new messages are \Recent to the one session that claims them first.
        if (!view.isReadOnly) {
          const from = await this.deps.mailboxes.claimRecent(view.mailbox.id, view.maxUid);
          for (const m of fresh) if (m.uid >= from) view.recent.add(m.uid);
        }
        if (!this.isRev2) this.untagged(view.recent.size, atom('RECENT'));
      }
    }
    if (flagUids.length) {
      for (const m of await this.deps.mailboxes.messagesByUid(view.mailbox.id, flagUids)) {
        const seq = view.seqOf(m.uid);
        if (!seq) continue;
        this.defineFlags(m.flags);
        this.untagged(seq, atom('FETCH'), [
          atom('UID'),
          m.uid,
          atom('FLAGS'),
          flagsValue(this.flagsOf(m.uid, m.flags)),
        ]);
      }
    }
  }
}

function sanitize(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 500);
}
