/**
 * Errors that cross layers carry a code from one closed union; each protocol translates codes to its
 * own replies in one table, so a new code fails to compile until every protocol has an answer for it.
 */
export type ErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'DOMAIN_NOT_FOUND'
  | 'DOMAIN_NOT_EMPTY'
  | 'ACCOUNT_NOT_FOUND'
  | 'MAILBOX_NOT_FOUND'
  | 'MAILBOX_EXISTS'
  | 'ALIAS_NOT_FOUND'
  | 'ALIAS_LOOP'
  | 'OVER_QUOTA'
  | 'AUTH_FAILED'
  | 'AUTH_LOCKED'
  | 'ACCOUNT_DISABLED'
  | 'RELAY_DENIED'
  | 'SENDER_NOT_OWNED'
  | 'INVALID_ADDRESS'
  | 'MAIL_LOOP'
  | 'MESSAGE_TOO_BIG'
  /** The message breaks RFC 5322 in a way that matters to its readers (a second From). */
  | 'MESSAGE_MALFORMED'
  /** More DKIM signatures or ARC sets than anyone verifies (a verification cost attack). */
  | 'TOO_MANY_SIGNATURES'
  | 'POLICY_REJECTED'
  /** Policy cannot decide now (a content scanner is down): try again later. */
  | 'POLICY_TEMPFAIL'
  /** Greylisting: a first attempt from an unknown (network, sender, recipient) is deferred (RFC 6647). */
  | 'GREYLISTED'
  | 'TEMPORARY'
  | 'LIMIT_REACHED'
  /** The caller is known but may not do this (a domain admin removing a domain, a read-only token writing). */
  | 'FORBIDDEN'
  | 'CONFIG';

export class MailError extends Error {
  override readonly name = 'MailError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isMailError(err: unknown, code?: ErrorCode): err is MailError {
  return err instanceof MailError && (code === undefined || err.code === code);
}
