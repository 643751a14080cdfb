/**
 * What a command module is, what it sees of the session (ImapContext, which ImapSession implements),
 * the session state union and helpers every command uses. Commands import this file, never
 * session.ts, so the registry and the session do not import each other.
 */
import type { Logger } from '../../../lib/log.js';
import type { Auth, AuthedUser } from '../../../services/auth/index.js';
import type { Mailboxes } from '../../../services/mailboxes/index.js';
import type { Connection } from '../../shared/connection.js';
import type { Value } from '../respond.js';
import type { SelectedMailbox } from '../selected.js';
import type { UidSnapshots } from '../uid-snapshots.js';
import type { Token } from '../wire.js';

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

/** The services a command uses; the session's dependencies include them. */
export interface CommandDeps {
  auth: Auth;
  mailboxes: Mailboxes;
  /** UID lists shared by the sessions that have the same mailbox selected. */
  uidSnapshots: UidSnapshots;
}

/**
 * The session as a command sees it. Commands read the state; only the session assigns it, through
 * login(), select(), unselect() and logout().
 */
export interface ImapContext {
  readonly deps: CommandDeps;
  readonly conn: Connection;
  readonly log: Logger;
  readonly state: ImapState;
  /** Extensions the client turned on with ENABLE (RFC 5161). */
  readonly enabled: Set<string>;
  readonly isUtf8: boolean;
  readonly isRev2: boolean;
  /** Whether the connection is gone: a long command checks it between messages and stops. */
  readonly isClosed: boolean;
  readonly mayLogin: boolean;
  /** The logged-in user; a BAD when there is none. */
  readonly user: AuthedUser;
  /** The selected mailbox; a BAD when there is none. */
  readonly view: SelectedMailbox;
  capabilities(): string[];
  login(user: AuthedUser): void;
  select(view: SelectedMailbox): void;
  unselect(): void;
  logout(): void;
  close(): void;
  startTls(): Promise<void>;
  /** The next client line, for a command that reads one (an AUTHENTICATE response, IDLE's DONE). */
  nextLine(): Promise<string>;
  write(data: string | Buffer): void;
  untagged(...values: Value[]): void;
  /** Like untagged(), but streams literals and waits for a client that is slow to read. */
  send(...values: Value[]): Promise<void>;
  /** One FETCH response, written item by item. */
  sendFetch(seq: number, items: Iterable<Value[]>): Promise<void>;
  complete(tag: string, c: Completion): void;
  flagsOf(uid: number, flags: string[]): string[];
  defineFlags(flags: Iterable<string>): void;
  announce(allowExpunge: boolean): Promise<void>;
}

export interface ImapCommand {
  name: string;
  states: StateKind[];
  /** FETCH, STORE, SEARCH, COPY (not their UID forms): no EXPUNGE may be announced after them. */
  keepsSequence?: boolean;
  run(s: ImapContext, args: Token[], isUid: boolean, tag: string): Promise<Completion>;
}

export const ANY: StateKind[] = ['notAuthenticated', 'authenticated', 'selected'];
export const AUTHED: StateKind[] = ['authenticated', 'selected'];
export const SELECTED: StateKind[] = ['selected'];

/** Messages a long command answers between turns of the event loop, so that other sessions run meanwhile. */
export const YIELD_EVERY = 1000;

export const ok = (text: string, code?: string): Completion => ({ status: 'OK', code, text });
