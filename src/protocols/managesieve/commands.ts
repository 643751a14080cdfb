/**
 * ManageSieve commands (RFC 5804 §2): where each may run, and the script commands, which only read
 * the logged-in user and write their answer: HAVESPACE, PUTSCRIPT, CHECKSCRIPT, LISTSCRIPTS,
 * SETACTIVE, GETSCRIPT, DELETESCRIPT and RENAMESCRIPT. The commands that change the session (STARTTLS,
 * AUTHENTICATE, UNAUTHENTICATE, LOGOUT) and CAPABILITY and NOOP are in session.ts.
 */
import type { Logger } from '../../lib/log.js';
import type { AuthedUser } from '../../services/auth/index.js';
import type { SieveScripts } from '../../services/sieve/index.js';
import { ManageSieveNo } from './errors.js';
import { encodeString, ManageSieveSyntaxError, type Token } from './parse.js';

export type StateKind = 'notAuthenticated' | 'authenticated';

/** How a command ends; NONE when it has answered already (LOGOUT, STARTTLS, a BYE). */
export interface Completion {
  status: 'OK' | 'NO' | 'NONE';
  code?: string | undefined;
  text?: string | undefined;
}

const ANY: StateKind[] = ['notAuthenticated', 'authenticated'];
const AUTHED: StateKind[] = ['authenticated'];
/** Where each command may run (RFC 5804 §2); anything else is answered NO. */
export const COMMAND_STATES: Record<string, StateKind[]> = {
  CAPABILITY: ANY,
  LOGOUT: ANY,
  NOOP: ANY,
  STARTTLS: ['notAuthenticated'],
  AUTHENTICATE: ['notAuthenticated'],
  UNAUTHENTICATE: AUTHED,
  HAVESPACE: AUTHED,
  PUTSCRIPT: AUTHED,
  LISTSCRIPTS: AUTHED,
  SETACTIVE: AUTHED,
  GETSCRIPT: AUTHED,
  DELETESCRIPT: AUTHED,
  RENAMESCRIPT: AUTHED,
  CHECKSCRIPT: AUTHED,
};

/** What a script command sees of the session. */
export interface ScriptContext {
  readonly sieve: SieveScripts;
  readonly user: AuthedUser;
  readonly log: Logger;
  /** Writes one line (CRLF added). */
  write(data: string): void;
}

/** Runs a script command; its states were checked by the session. */
export async function runScriptCommand(c: ScriptContext, name: string, args: Token[]): Promise<Completion> {
  switch (name) {
    case 'HAVESPACE': {
      // RFC 5804 §2.5
      arity(name, args, 2);
      const size = args[1]!;
      if (size.type !== 'atom' || !/^\d{1,10}$/.test(size.value))
        throw new ManageSieveSyntaxError('HAVESPACE needs a script name and a size');
      await c.sieve.haveSpace(c.user.accountId, str(args, 0), Number(size.value));
      return { status: 'OK' };
    }
    case 'PUTSCRIPT': {
      // RFC 5804 §2.6: compiled before it is stored; a broken script is refused with its line.
      arity(name, args, 2);
      await c.sieve.put(c.user.accountId, str(args, 0), str(args, 1)); // logs the name and size
      return { status: 'OK' };
    }
    case 'CHECKSCRIPT':
      // RFC 5804 §2.12
      arity(name, args, 1);
      c.sieve.check(str(args, 0));
      return { status: 'OK' };
    case 'LISTSCRIPTS': {
      // RFC 5804 §2.7: one line per script, the active one marked ACTIVE.
      arity(name, args, 0);
      const scripts = await c.sieve.list(c.user.accountId);
      for (const s of scripts) c.write(`${encodeString(s.name)}${s.isActive ? ' ACTIVE' : ''}`);
      return { status: 'OK' };
    }
    case 'SETACTIVE': {
      // RFC 5804 §2.8: the empty name deactivates every script.
      arity(name, args, 1);
      const script = str(args, 0);
      await c.sieve.setActive(c.user.accountId, script === '' ? null : script);
      return { status: 'OK' };
    }
    case 'GETSCRIPT': {
      // RFC 5804 §2.9: the script as a literal, then OK.
      arity(name, args, 1);
      const { content } = await c.sieve.get(c.user.accountId, str(args, 0));
      c.write(`{${Buffer.byteLength(content)}}\r\n${content}`);
      return { status: 'OK' };
    }
    case 'DELETESCRIPT': {
      // RFC 5804 §2.10: the active script is not deleted.
      arity(name, args, 1);
      const script = str(args, 0);
      if (!(await c.sieve.remove(c.user.accountId, script)))
        throw new ManageSieveNo('The active script cannot be deleted', 'ACTIVE');
      c.log.info({ user: c.user.address, script }, 'managesieve script deleted');
      return { status: 'OK' };
    }
    case 'RENAMESCRIPT':
      // RFC 5804 §2.11.1
      arity(name, args, 2);
      await c.sieve.rename(c.user.accountId, str(args, 0), str(args, 1));
      return { status: 'OK' };
    default:
      throw new ManageSieveSyntaxError(`Unknown command ${name}`);
  }
}

export function arity(name: string, args: Token[], min: number, max = min): void {
  if (args.length < min || args.length > max) throw new ManageSieveSyntaxError(`Wrong number of arguments for ${name}`);
}

/** Argument `i` as a string (quoted or literal); `orAtom` also takes an atom (a mechanism name sent bare). */
export function str(args: Token[], i: number, orAtom = false): string {
  const t = args[i]!;
  if (t.type !== 'string' && !orAtom) throw new ManageSieveSyntaxError(`Argument ${i + 1} must be a string`);
  return t.value;
}
