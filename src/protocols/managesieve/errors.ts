/**
 * ManageSieve's errors: ManageSieveNo (a NO with an RFC 5804 §1.3 response code, thrown by a command)
 * and the table that answers each MailError code. ManageSieve has no BAD: syntax errors are NO too.
 * A new ErrorCode fails to compile until it has a row here.
 */
import type { ErrorCode } from '../../lib/errors.js';

/** A NO with an RFC 5804 §1.3 response code, thrown by a command. */
export class ManageSieveNo extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface SieveRefusal {
  /** RFC 5804 §1.3 response code; undefined where none fits (RFC 5804 has none for a failed login). */
  code: string | undefined;
  /**
   * Fixed text for codes whose message is internal (the server failed, not the request): the client
   * sees this, the log gets the error with its stack. Without it the MailError's message, written for
   * the client by the service ("no script named x"), is sent.
   */
  text?: string;
}

const no = (code?: string): SieveRefusal => ({ code });
/** The answer to a failure of the server: an unexpected error, or a MailError whose row says so. */
export const INTERNAL_ERROR: SieveRefusal = { code: 'TRYLATER', text: 'Internal error, try again' };

/** ErrorCode → NO response (RFC 5804 §1.3 response codes). */
export const MANAGESIEVE_ERROR: Record<ErrorCode, SieveRefusal> = {
  INVALID_INPUT: no(), // an invalid script name
  NOT_FOUND: no('NONEXISTENT'), // no script of that name
  ALREADY_EXISTS: no('ALREADYEXISTS'), // RENAMESCRIPT to a name in use
  DOMAIN_NOT_FOUND: no(),
  DOMAIN_NOT_EMPTY: no(),
  ACCOUNT_NOT_FOUND: no(),
  MAILBOX_NOT_FOUND: no('NONEXISTENT'),
  MAILBOX_EXISTS: no('ALREADYEXISTS'),
  ALIAS_NOT_FOUND: no(),
  ALIAS_LOOP: no(),
  OVER_QUOTA: no('QUOTA'),
  AUTH_FAILED: no(),
  AUTH_LOCKED: no('TRYLATER'),
  ACCOUNT_DISABLED: no(),
  RELAY_DENIED: no(),
  FORBIDDEN: no(),
  SENDER_NOT_OWNED: no(),
  INVALID_ADDRESS: no(),
  MAIL_LOOP: no(),
  MESSAGE_TOO_BIG: no('QUOTA/MAXSIZE'),
  MESSAGE_MALFORMED: no(),
  TOO_MANY_SIGNATURES: no(),
  POLICY_REJECTED: no(),
  POLICY_TEMPFAIL: no('TRYLATER'),
  GREYLISTED: no('TRYLATER'),
  TEMPORARY: INTERNAL_ERROR,
  CONFIG: INTERNAL_ERROR,
  LIMIT_REACHED: no('QUOTA'),
};
