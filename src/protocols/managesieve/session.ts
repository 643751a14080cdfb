/**
 * ManageSieve (RFC 5804): Sieve script upload, listing, activation and checking for one account at a
 * time, with STARTTLS and AUTHENTICATE PLAIN. Commands are read through parse.ts and run one at a
 * time, in order (pipelining); the one catch turns errors into NO with RFC 5804 §1.3 response codes
 * (errors.ts). ManageSieve has no BAD: syntax errors are NO too, and enough of them in a row end the
 * connection. The script commands are in commands.ts; this file holds the connection loop and the
 * commands that change the session.
 */
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { SieveError } from '../../mail/sieve/compile.js';
import type { Auth, AuthedUser } from '../../services/auth/index.js';
import { SieveQuotaError, type SieveScripts } from '../../services/sieve/index.js';
import type { Connection, Session } from '../shared/connection.js';
import { IdleTimer } from '../shared/idle-timer.js';
import { drained } from '../shared/input.js';
import type { SessionLimits } from '../shared/limits.js';
import { decodeSaslPlain, isSameIdentity } from '../shared/sasl.js';
import { arity, COMMAND_STATES, runScriptCommand, str, type Completion, type ScriptContext } from './commands.js';
import { INTERNAL_ERROR, MANAGESIEVE_ERROR, ManageSieveNo } from './errors.js';
import {
  CommandReader,
  encodeString,
  ManageSieveSyntaxError,
  type ReaderEvent,
  type ReaderLimits,
  type Token,
} from './parse.js';

export interface ManageSieveDeps {
  hostname: string;
  auth: Auth;
  sieve: SieveScripts;
  limits: SessionLimits & { allowPlaintextAuth: boolean };
}

type State = { kind: 'notAuthenticated' } | { kind: 'authenticated'; user: AuthedUser } | { kind: 'logout' };

/** Commands read ahead of the one running before the socket stops being read. */
const MAX_PENDING_COMMANDS = 32;
/** Oversized input (a too-large script literal, an overlong line) read and dropped before giving up. */
const MAX_SKIP_BYTES = 1 << 20;

export class ManageSieveSession implements Session {
  private state: State = { kind: 'notAuthenticated' };
  private reader: CommandReader;
  private pending: ReaderEvent[] = [];
  private waiter: ((ev: ReaderEvent | undefined) => void) | undefined;
  /** Reading paused because commands pile up; resumed when they are run. */
  private isBackedUp = false;
  /** Reading stopped for good: oversized input that will not be read, or the session is over. */
  private isReadStopped = false;
  private badCount = 0;
  private loginTimer: NodeJS.Timeout | undefined;
  /** RFC 5804 §2: the server may drop an idle client; Dovecot's managesieve does after 30 minutes. */
  private readonly idleTimer: IdleTimer;
  private closed!: () => void;
  private readonly done = new Promise<void>((r) => (this.closed = r));
  private readonly log: Logger;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(
    private readonly conn: Connection,
    private readonly deps: ManageSieveDeps,
  ) {
    this.log = conn.log;
    this.reader = this.newReader();
    this.idleTimer = new IdleTimer(deps.limits.idleTimeoutMs, () => {
      this.log.info({}, 'managesieve idle timeout');
      this.bye('BYE "Autologout"');
    });
  }

  run(): Promise<void> {
    this.loginTimer = setTimeout(() => {
      if (this.state.kind !== 'notAuthenticated') return;
      this.log.info({ ms: this.deps.limits.loginTimeoutMs }, 'managesieve login timeout');
      this.bye('BYE "Login timeout"');
    }, this.deps.limits.loginTimeoutMs);
    this.loginTimer.unref();
    this.attach();
    this.write(`${this.capabilityLines()}OK ${encodeString(`${this.deps.hostname} Postern ManageSieve ready`)}`);
    void this.loop().catch((err: unknown) => {
      this.log.error({ err }, 'managesieve session failed');
      this.bye('BYE (TRYLATER) "Internal error"');
    });
    return this.done;
  }

  shutdown(): void {
    this.bye('BYE (TRYLATER) "Server shutting down"');
  }

  private newReader(): CommandReader {
    return new CommandReader(this.readerLimits());
  }

  /** Before login a client sends only small commands: scripts (and the memory they take) come after. */
  private readerLimits(): ReaderLimits {
    const isAuthenticated = this.state.kind === 'authenticated';
    const l = isAuthenticated ? this.deps.limits.authenticated : this.deps.limits.preAuth;
    return {
      maxLineBytes: l.maxLineBytes,
      maxLiteralBytes: l.maxLiteralBytes,
      maxCommandBytes: l.maxCommandBytes,
      maxSkipBytes: isAuthenticated ? MAX_SKIP_BYTES : l.maxCommandBytes * 2,
    };
  }

  private attach(): void {
    const socket = this.conn.socket;
    socket.on('data', this.onData);
    socket.once('close', () => this.finish());
  }

  private finish(): void {
    this.idleTimer.stop();
    clearTimeout(this.loginTimer);
    this.state = { kind: 'logout' };
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
    this.closed();
  }

  private receive(chunk: Buffer): void {
    if (this.state.kind === 'logout') return;
    this.idleTimer.touch();
    for (const ev of this.reader.push(chunk)) {
      if (ev.kind === 'fatal') {
        // Not another byte of it is read: the BYE follows the commands before it.
        this.isReadStopped = true;
        this.conn.socket.pause();
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(ev);
      } else {
        this.pending.push(ev);
      }
    }
    if (this.pending.length >= MAX_PENDING_COMMANDS && !this.isBackedUp) {
      this.isBackedUp = true;
      this.conn.socket.pause();
    }
  }

  /** The next command (or SASL response) read, in order; undefined once the connection is gone. */
  private next(): Promise<ReaderEvent | undefined> {
    const ev = this.pending.shift();
    if (this.isBackedUp && this.pending.length < MAX_PENDING_COMMANDS / 2) {
      this.isBackedUp = false;
      if (!this.isReadStopped) this.conn.socket.resume();
    }
    if (ev) return Promise.resolve(ev);
    if (this.state.kind === 'logout') return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private async loop(): Promise<void> {
    for (;;) {
      const ev = await this.next();
      if (!ev || this.state.kind === 'logout') return;
      await this.handle(ev);
      // A client that does not read its answers only stalls itself.
      if (this.conn.socket.writableNeedDrain) await this.drained();
    }
  }

  private drained(): Promise<void> {
    return drained(this.conn.socket);
  }

  private async handle(ev: ReaderEvent): Promise<void> {
    switch (ev.kind) {
      case 'fatal':
        this.log.info({ reason: ev.reason }, 'managesieve input refused');
        return this.bye(`BYE ${encodeString(ev.reason)}`);
      case 'invalid':
        return this.bad(ev.reason);
      case 'too-big':
        this.log.info({ size: ev.size }, 'managesieve literal too large');
        return this.respond({ status: 'NO', code: 'QUOTA/MAXSIZE', text: `Literal of ${ev.size} bytes is too large` });
      case 'command':
        return this.execute(ev.tokens);
    }
  }

  private write(data: string): void {
    if (!this.conn.socket.destroyed) this.conn.socket.write(`${data}\r\n`);
  }

  private respond(c: Completion): void {
    if (c.status === 'NONE') return;
    this.write(`${c.status}${c.code ? ` (${c.code})` : ''}${c.text !== undefined ? ` ${encodeString(c.text)}` : ''}`);
  }

  /** Says goodbye and closes: nothing more is read or run. */
  private bye(line: string): void {
    if (this.state.kind === 'logout') return;
    this.write(line);
    this.state = { kind: 'logout' };
    this.pending = [];
    this.conn.close(); // what still arrives is dropped by receive()
  }

  private bad(text: string): void {
    this.respond({ status: 'NO', text });
    if (++this.badCount >= this.deps.limits.maxBadCommands) {
      this.log.info({ count: this.badCount }, 'managesieve: too many invalid commands');
      this.bye('BYE "Too many invalid commands"');
    }
  }

  private async execute(tokens: Token[]): Promise<void> {
    const started = Date.now();
    let name = '';
    try {
      const first = tokens[0];
      if (!first || first.type !== 'atom') throw new ManageSieveSyntaxError('Expected a command name');
      name = first.value.toUpperCase();
      const states = COMMAND_STATES[name];
      if (!states) {
        name = '';
        throw new ManageSieveSyntaxError(`Unknown command ${first.value.slice(0, 30)}`);
      }
      if (this.state.kind === 'logout') return;
      if (!states.includes(this.state.kind)) {
        throw new ManageSieveSyntaxError(
          this.state.kind === 'notAuthenticated'
            ? `${name} needs authentication first`
            : `${name} is not valid after authentication`,
        );
      }
      const result = await this.command(name, tokens.slice(1));
      this.badCount = 0;
      this.respond(result);
      this.log.debug(
        { cmd: name, result: result.status.toLowerCase(), code: result.code, ms: Date.now() - started },
        'managesieve command',
      );
    } catch (err) {
      const no = (code: string | undefined, text: string, logged: Record<string, unknown> = { reason: text }) => {
        this.badCount = 0;
        this.respond({ status: 'NO', code, text });
        this.log.info({ cmd: name, result: 'no', code, ...logged, ms: Date.now() - started }, 'managesieve command');
      };
      if (err instanceof ManageSieveSyntaxError) {
        this.log.debug({ cmd: name || undefined, reason: err.message }, 'managesieve invalid command');
        this.bad(err.message);
      } else if (err instanceof ManageSieveNo) {
        no(err.code, err.message);
      } else if (err instanceof SieveError) {
        // RFC 5804 §2.6: a script that does not compile is refused with a human-readable reason.
        no(undefined, `line ${err.line}: ${err.message}`, { scriptLine: err.line }); // the message quotes the script: not logged
      } else if (err instanceof SieveQuotaError) {
        no(err.quota === 'maxsize' ? 'QUOTA/MAXSIZE' : 'QUOTA/MAXSCRIPTS', err.message);
      } else if (isMailError(err) && MANAGESIEVE_ERROR[err.code].text === undefined) {
        no(MANAGESIEVE_ERROR[err.code].code, err.message);
      } else {
        // A failure, not a refusal: the message is for the log only.
        const row = isMailError(err) ? MANAGESIEVE_ERROR[err.code] : INTERNAL_ERROR;
        this.log.error({ cmd: name, err }, 'managesieve command failed');
        this.respond({ status: 'NO', code: row.code, text: row.text });
      }
    }
  }

  private async command(name: string, args: Token[]): Promise<Completion> {
    switch (name) {
      case 'CAPABILITY':
        arity(name, args, 0);
        this.write(this.capabilityLines().slice(0, -2));
        return { status: 'OK', text: 'Capability completed' };
      case 'NOOP': {
        // RFC 5804 §2.15: the optional string comes back in a TAG response code.
        arity(name, args, 0, 1);
        if (args.length === 0) return { status: 'OK', text: 'Done' };
        return { status: 'OK', code: `TAG ${encodeString(str(args, 0))}`, text: 'Done' };
      }
      case 'LOGOUT':
        // RFC 5804 §2.3: OK, then the server closes the connection.
        arity(name, args, 0);
        this.bye('OK "Logout completed"');
        return { status: 'NONE' };
      case 'STARTTLS':
        arity(name, args, 0);
        return this.startTls();
      case 'AUTHENTICATE':
        arity(name, args, 1, 2);
        return this.authenticate(str(args, 0, true), args.length > 1 ? str(args, 1) : undefined);
      case 'UNAUTHENTICATE':
        // RFC 5804 §2.14.1: back to the non-authenticated state; TLS stays.
        arity(name, args, 0);
        this.log.info({ user: this.user.address }, 'managesieve unauthenticate');
        this.state = { kind: 'notAuthenticated' };
        this.reader.setLimits(this.readerLimits());
        return { status: 'OK' };
      default:
        return runScriptCommand(this.scriptContext(), name, args);
    }
  }

  /** What the script commands (commands.ts) see of this session; they run only after login. */
  private scriptContext(): ScriptContext {
    return { sieve: this.deps.sieve, user: this.user, log: this.log, write: (data) => this.write(data) };
  }

  private get user(): AuthedUser {
    if (this.state.kind !== 'authenticated') throw new Error('not authenticated');
    return this.state.user;
  }

  private get mayLogin(): boolean {
    return this.conn.isTls || this.deps.limits.allowPlaintextAuth;
  }

  /** RFC 5804 §1.7: the capability response, each line ending in CRLF, without the final OK. */
  private capabilityLines(): string {
    const caps: Array<[string, string?]> = [
      ['IMPLEMENTATION', 'Postern'],
      ['SIEVE', this.deps.sieve.extensions().join(' ')],
      // §1.7: SASL may be empty only while STARTTLS is offered.
      ['SASL', this.mayLogin ? 'PLAIN' : ''],
    ];
    if (!this.conn.isTls) caps.push(['STARTTLS']);
    caps.push(['MAXREDIRECTS', String(this.deps.sieve.limits.maxRedirects)]);
    if (this.state.kind === 'authenticated') caps.push(['OWNER', this.state.user.address]);
    caps.push(['UNAUTHENTICATE'], ['VERSION', '1.0']);
    return caps.map(([k, v]) => `${encodeString(k)}${v === undefined ? '' : ` ${encodeString(v)}`}\r\n`).join('');
  }

  private async startTls(): Promise<Completion> {
    if (this.conn.isTls) throw new ManageSieveNo('TLS is already active');
    this.write('OK "Begin TLS negotiation now"');
    const plain = this.conn.socket;
    plain.off('data', this.onData);
    plain.pause();
    // RFC 5804 §2.2: nothing the client sent before the handshake is used after it.
    this.pending = [];
    this.isBackedUp = false;
    this.reader = this.newReader();
    try {
      await this.conn.startTls();
    } catch (err) {
      this.log.info({ reason: (err as Error).message }, 'managesieve STARTTLS failed');
      this.state = { kind: 'logout' };
      this.conn.close();
      return { status: 'NONE' };
    }
    if (this.state.kind === 'logout') return { status: 'NONE' };
    this.attach();
    // RFC 5804 §2.2: after the handshake the server sends the capabilities again, unasked.
    this.write(`${this.capabilityLines()}OK "TLS negotiation successful"`);
    return { status: 'NONE' };
  }

  /** AUTHENTICATE "PLAIN" (RFC 5804 §2.1, RFC 4616), with or without an initial response. */
  private async authenticate(mechanism: string, initial: string | undefined): Promise<Completion> {
    if (mechanism.toUpperCase() !== 'PLAIN')
      throw new ManageSieveNo(`Mechanism ${mechanism.slice(0, 30)} is not supported`);
    if (!this.mayLogin) throw new ManageSieveNo('Use STARTTLS before authenticating', 'ENCRYPT-NEEDED');
    let response = initial;
    if (response === undefined) {
      this.write('""'); // PLAIN's challenge is empty
      const ev = await this.next();
      if (!ev) return { status: 'NONE' };
      if (ev.kind === 'fatal') {
        await this.handle(ev);
        return { status: 'NONE' };
      }
      const t = ev.kind === 'command' && ev.tokens.length === 1 ? ev.tokens[0]! : undefined;
      if (!t || (t.type === 'atom' && t.value !== '*')) throw new ManageSieveNo('Invalid SASL response');
      response = t.value;
    }
    if (response === '*') throw new ManageSieveNo('Authentication cancelled');
    const plain = decodeSaslPlain(response);
    if (!plain.ok) {
      this.log.info({ reason: plain.reason }, 'managesieve AUTHENTICATE refused');
      throw new ManageSieveNo(`Invalid SASL response: ${plain.reason}`);
    }
    if (!isSameIdentity(plain.value)) throw new ManageSieveNo('Authorization identity must match');
    const { authcid, password } = plain.value;
    let user: AuthedUser;
    try {
      user = await this.deps.auth.authenticate(authcid, password, {
        ip: this.conn.remoteAddress,
        protocol: 'managesieve',
      });
    } catch (err) {
      if (isMailError(err, 'AUTH_LOCKED'))
        throw new ManageSieveNo('Too many failed logins, try again later', 'TRYLATER');
      if (isMailError(err, 'AUTH_FAILED') || isMailError(err, 'ACCOUNT_DISABLED'))
        throw new ManageSieveNo('Authentication failed');
      throw err;
    }
    if (this.state.kind === 'logout') return { status: 'NONE' };
    this.state = { kind: 'authenticated', user };
    this.reader.setLimits(this.readerLimits());
    clearTimeout(this.loginTimer);
    this.log.info({ user: user.address }, 'managesieve login');
    return { status: 'OK', text: 'Logged in' };
  }
}
