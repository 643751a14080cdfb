/**
 * IMAP's errors: what commands throw (ImapBad, ImapNo, ConnectionGone) and the one table that turns a
 * MailError's code into a tagged NO or BAD with an RFC 5530 response code (RFC 9051 §7.1). A new
 * ErrorCode fails to compile until it has a row here. The session's one catch uses both; commands
 * import this file, never session.ts.
 */
import type { ErrorCode, MailError } from '../../lib/errors.js';

/** A command the client got wrong: a tagged BAD, counted towards the bad-command limit. */
export class ImapBad extends Error {}

/** A tagged NO with an optional response code (`TRYCREATE`, `READ-ONLY`, `UNKNOWN-CTE` …). */
export class ImapNo extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The client went while a command ran: the command stops, nothing more is written. */
export class ConnectionGone extends Error {
  constructor() {
    super('connection closed');
  }
}

export interface ImapRefusal {
  status: 'NO' | 'BAD';
  /** RFC 5530 response code; undefined where none fits. */
  code: string | undefined;
  /**
   * Fixed text for codes whose message is internal: the client sees this and the message goes to the
   * log only. Without it the MailError's message, written for the client by the service, is sent.
   */
  text?: string;
}

const no = (code: string | undefined, text?: string): ImapRefusal =>
  text === undefined ? { status: 'NO', code } : { status: 'NO', code, text };

/** ErrorCode → tagged response (RFC 5530 response codes; TOOBIG is RFC 4469's, as APPENDLIMIT RFC 7889 uses it). */
export const IMAP_ERROR: Record<ErrorCode, ImapRefusal> = {
  INVALID_INPUT: no('CANNOT'), // an invalid name, INBOX deleted, a mailbox moved into itself
  // Reaches IMAP only as a message file missing from the blob store: NONEXISTENT (a mailbox) would
  // mislead, and the file's name is the server's business (RFC 5530 SERVERBUG: the server's fault).
  NOT_FOUND: no('SERVERBUG', 'Message content is unavailable'),
  ALREADY_EXISTS: no('ALREADYEXISTS'),
  DOMAIN_NOT_FOUND: no('NONEXISTENT'),
  DOMAIN_NOT_EMPTY: no('CANNOT'),
  ACCOUNT_NOT_FOUND: no('NONEXISTENT'),
  MAILBOX_NOT_FOUND: no('NONEXISTENT'), // APPEND, COPY and MOVE answer TRYCREATE instead (RFC 9051 §7.1)
  MAILBOX_EXISTS: no('ALREADYEXISTS'),
  ALIAS_NOT_FOUND: no('NONEXISTENT'),
  ALIAS_LOOP: no('CANNOT'),
  OVER_QUOTA: no('OVERQUOTA'),
  AUTH_FAILED: no('AUTHENTICATIONFAILED'),
  AUTH_LOCKED: no('UNAVAILABLE'),
  // RFC 5530: AUTHENTICATIONFAILED is for a server "unwilling to elaborate"; so is the text.
  ACCOUNT_DISABLED: no('AUTHENTICATIONFAILED', 'Authentication failed'),
  RELAY_DENIED: no('NOPERM'),
  FORBIDDEN: no('NOPERM'),
  SENDER_NOT_OWNED: no('NOPERM'),
  INVALID_ADDRESS: no('CANNOT'),
  MAIL_LOOP: no('CANNOT'),
  MESSAGE_TOO_BIG: no('TOOBIG'),
  MESSAGE_MALFORMED: no('CANNOT'),
  TOO_MANY_SIGNATURES: no('CANNOT'),
  POLICY_REJECTED: no('CANNOT'),
  POLICY_TEMPFAIL: no('UNAVAILABLE', 'Temporary failure, try again later'),
  GREYLISTED: no('UNAVAILABLE', 'Temporary failure, try again later'),
  TEMPORARY: no('UNAVAILABLE', 'Temporary failure, try again later'),
  LIMIT_REACHED: no('LIMIT'),
  CONFIG: no('UNAVAILABLE', 'Server configuration problem, try again later'),
};

/** The tagged answer to a MailError: its row, with the error's message unless the row fixes the text. */
export function refusalOf(err: MailError): { status: 'NO' | 'BAD'; code: string | undefined; text: string } {
  const row = IMAP_ERROR[err.code];
  return { status: row.status, code: row.code, text: row.text ?? err.message };
}
