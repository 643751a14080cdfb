/**
 * POP3's errors: Pop3Error (a command the client got wrong, answered -ERR and counted as a bad command)
 * and the table of fixed texts a MailError is answered with. The MailError's own message is for the
 * log only: it may name internal things (paths, ids, hosts), so the client never sees it.
 */
import type { ErrorCode } from '../../lib/errors.js';

/** A command the client got wrong; its message is written for the client. */
export class Pop3Error extends Error {}

/**
 * ErrorCode → what the client is told (RFC 2449 §8, RFC 3206 response codes); never the internal
 * message. A new ErrorCode fails to compile until it has a row here.
 */
export const POP3_ERROR: Record<ErrorCode, string> = {
  INVALID_INPUT: 'Invalid request',
  NOT_FOUND: 'No such message',
  ALREADY_EXISTS: 'Already exists',
  DOMAIN_NOT_FOUND: '[AUTH] Authentication failed',
  DOMAIN_NOT_EMPTY: 'Invalid request',
  ACCOUNT_NOT_FOUND: '[AUTH] Authentication failed',
  MAILBOX_NOT_FOUND: '[SYS/PERM] The maildrop does not exist',
  MAILBOX_EXISTS: 'Already exists',
  ALIAS_NOT_FOUND: 'Invalid request',
  ALIAS_LOOP: 'Invalid request',
  OVER_QUOTA: '[SYS/PERM] Mailbox is full',
  AUTH_FAILED: '[AUTH] Authentication failed',
  AUTH_LOCKED: '[SYS/TEMP] Too many failed logins, try again later',
  ACCOUNT_DISABLED: '[AUTH] Authentication failed',
  RELAY_DENIED: 'Invalid request',
  FORBIDDEN: 'Permission denied',
  SENDER_NOT_OWNED: 'Invalid request',
  INVALID_ADDRESS: 'Invalid request',
  MAIL_LOOP: 'Invalid request',
  MESSAGE_TOO_BIG: 'Message too large',
  MESSAGE_MALFORMED: 'Invalid request',
  TOO_MANY_SIGNATURES: 'Invalid request',
  POLICY_REJECTED: 'Refused by policy',
  POLICY_TEMPFAIL: '[SYS/TEMP] Temporary failure, try again',
  GREYLISTED: '[SYS/TEMP] Temporary failure, try again',
  TEMPORARY: '[SYS/TEMP] Temporary failure, try again',
  CONFIG: '[SYS/TEMP] Temporary failure, try again',
  LIMIT_REACHED: '[SYS/PERM] Limit reached',
};
