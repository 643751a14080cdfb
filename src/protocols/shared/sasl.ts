/**
 * SASL PLAIN (RFC 4616) for every protocol that carries it (IMAP AUTHENTICATE, POP3 AUTH, ManageSieve
 * AUTHENTICATE): one strict decoder, so that a response one protocol refuses is refused by all.
 * SMTP AUTH is decoded by smtp-server and reaches the auth service with the same bounds checked there.
 */
import { isUtf8 } from 'node:buffer';

/** RFC 4616 §2: authzid and authcid are at most 255 octets; no password Postern stores is over 1,024 bytes. */
export const MAX_SASL_NAME_BYTES = 255;
export const MAX_SASL_PASSWORD_BYTES = 1024;
/** The base64 of the longest valid message: authzid NUL authcid NUL passwd. */
export const MAX_SASL_PLAIN_BASE64 = Math.ceil((MAX_SASL_NAME_BYTES * 2 + 2 + MAX_SASL_PASSWORD_BYTES) / 3) * 4;

export interface SaslPlain {
  /** The identity to act as; '' when the client sent none (it is then the authcid). */
  authzid: string;
  authcid: string;
  password: string;
}

export type SaslPlainResult = { ok: true; value: SaslPlain } | { ok: false; reason: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a client response: canonical base64 (RFC 4648 §4, padded, no whitespace), then
 * `[authzid] NUL authcid NUL passwd` (RFC 4616 §2) with each part valid UTF-8, no NUL inside a part,
 * a non-empty authcid and password, and each part within its length bound.
 */
export function decodeSaslPlain(response: string): SaslPlainResult {
  if (response.length > MAX_SASL_PLAIN_BASE64) return { ok: false, reason: 'PLAIN response too long' };
  if (!BASE64.test(response)) return { ok: false, reason: 'invalid base64 in PLAIN response' };
  const bytes = Buffer.from(response, 'base64');
  const first = bytes.indexOf(0);
  const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
  if (first < 0 || second < 0 || bytes.indexOf(0, second + 1) >= 0)
    return { ok: false, reason: 'PLAIN response must be authzid NUL authcid NUL password' };
  const parts = [bytes.subarray(0, first), bytes.subarray(first + 1, second), bytes.subarray(second + 1)] as const;
  if (parts[0].length > MAX_SASL_NAME_BYTES || parts[1].length > MAX_SASL_NAME_BYTES)
    return { ok: false, reason: 'user name too long' };
  if (parts[2].length > MAX_SASL_PASSWORD_BYTES) return { ok: false, reason: 'password too long' };
  if (parts[1].length === 0 || parts[2].length === 0) return { ok: false, reason: 'empty user name or password' };
  if (!parts.every((p) => p.length === 0 || isUtf8(p))) return { ok: false, reason: 'PLAIN response is not UTF-8' };
  const [authzid, authcid, password] = parts.map((p) => p.toString('utf8')) as [string, string, string];
  return { ok: true, value: { authzid, authcid, password } };
}

/** Whether the authorization identity is the authenticated one: Postern does not let users act as others. */
export function isSameIdentity(p: SaslPlain): boolean {
  return p.authzid === '' || p.authzid.toLowerCase() === p.authcid.toLowerCase();
}
