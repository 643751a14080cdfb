/** SMTP replies with enhanced status codes (RFC 3463), one per error code, each with its reason. */
import type { ErrorCode } from '../../lib/errors.js';

export interface Reply {
  code: number;
  enhanced: string;
  text: string;
}

const reply = (code: number, enhanced: string, text: string): Reply => ({ code, enhanced, text });

// A new ErrorCode without a reply here fails to compile.
export const SMTP_REPLY: Record<ErrorCode, Reply> = {
  INVALID_INPUT: reply(501, '5.5.4', 'Invalid arguments'),
  NOT_FOUND: reply(550, '5.1.1', 'No such user'),
  ALREADY_EXISTS: reply(451, '4.3.0', 'Temporary failure'),
  DOMAIN_NOT_FOUND: reply(554, '5.7.1', 'Relay access denied'),
  DOMAIN_NOT_EMPTY: reply(451, '4.3.0', 'Temporary failure'),
  ACCOUNT_NOT_FOUND: reply(550, '5.1.1', 'No such user here'),
  MAILBOX_NOT_FOUND: reply(550, '5.1.1', 'No such user here'),
  MAILBOX_EXISTS: reply(451, '4.3.0', 'Temporary failure'),
  ALIAS_NOT_FOUND: reply(550, '5.1.1', 'No such user here'),
  ALIAS_LOOP: reply(554, '5.4.6', 'Alias loop'),
  OVER_QUOTA: reply(552, '5.2.2', 'Mailbox full'), // RFC 3463 §3.3
  AUTH_FAILED: reply(535, '5.7.8', 'Authentication credentials invalid'), // RFC 4954 §6
  AUTH_LOCKED: reply(454, '4.7.0', 'Too many failed logins, try again later'), // RFC 4954 §6
  ACCOUNT_DISABLED: reply(550, '5.2.1', 'Mailbox disabled'),
  RELAY_DENIED: reply(554, '5.7.1', 'Relay access denied'),
  FORBIDDEN: reply(550, '5.7.1', 'Permission denied'),
  SENDER_NOT_OWNED: reply(553, '5.7.1', 'Sender address not owned by the authenticated user'),
  INVALID_ADDRESS: reply(553, '5.1.3', 'Bad address syntax'),
  MAIL_LOOP: reply(554, '5.4.6', 'Mail loop detected'), // RFC 3463 §3.5
  MESSAGE_TOO_BIG: reply(552, '5.3.4', 'Message too big'),
  MESSAGE_MALFORMED: reply(550, '5.6.0', 'Message refused'), // RFC 3463 §3.7
  TOO_MANY_SIGNATURES: reply(550, '5.7.7', 'Message refused'), // RFC 3463 §3.8: message integrity failure
  POLICY_REJECTED: reply(550, '5.7.1', 'Message refused by policy'), // RFC 7372 §3.1
  POLICY_TEMPFAIL: reply(451, '4.7.1', 'Message deferred by policy, try again later'), // RFC 3463 §3.8
  GREYLISTED: reply(451, '4.7.1', 'Greylisted, try again later'), // RFC 6647 §2.1, as postgrey
  TEMPORARY: reply(451, '4.3.0', 'Temporary failure, try again later'),
  LIMIT_REACHED: reply(452, '4.5.3', 'Limit reached'),
  CONFIG: reply(451, '4.3.5', 'Server configuration problem'),
};

/**
 * An Error smtp-server sends as `code enhanced text`. The detail may carry what the client sent (an
 * address, a header): RFC 5321 §4.2 reply text is printable US-ASCII, so anything else becomes '?'.
 */
export class SmtpReplyError extends Error {
  readonly responseCode: number;
  constructor(r: Reply, detail?: string) {
    const safe = detail?.replace(/[^\x20-\x7e]/g, '?');
    super(`${r.enhanced} ${safe ? `${r.text}: ${safe}` : r.text}`);
    this.responseCode = r.code;
  }
}

export function smtpError(code: ErrorCode, detail?: string): SmtpReplyError {
  return new SmtpReplyError(SMTP_REPLY[code], detail);
}
