/** What a command module is, and helpers every command uses. */
import type { Completion, ImapSession, StateKind } from '../session.js';
import type { Token } from '../wire.js';

export interface ImapCommand {
  name: string;
  states: StateKind[];
  /** FETCH, STORE, SEARCH, COPY (not their UID forms): no EXPUNGE may be announced after them. */
  keepsSequence?: boolean;
  run(s: ImapSession, args: Token[], isUid: boolean, tag: string): Promise<Completion>;
}

export const ANY: StateKind[] = ['notAuthenticated', 'authenticated', 'selected'];
export const AUTHED: StateKind[] = ['authenticated', 'selected'];
export const SELECTED: StateKind[] = ['selected'];

export const ok = (text: string, code?: string): Completion => ({ status: 'OK', code, text });
