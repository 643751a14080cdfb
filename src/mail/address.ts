/**
 * Domain names and mail addresses as the directory stores them: domains lower-case ASCII (IDN
 * converted to punycode, RFC 5891), addresses `local@domain` with a lower-cased local part, since
 * admins coming from Postfix virtual maps expect lookups to ignore case (RFC 5321 §2.4 allows it).
 */
import { domainToASCII } from 'node:url';

const MAX_DOMAIN = 253; // RFC 1035 §2.3.4
const MAX_LABEL = 63;
const MAX_LOCAL_BYTES = 64; // RFC 5321 §4.5.3.1.1
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
// RFC 5322 §3.2.3 atext, plus UTF-8 (RFC 6531 §3.3) for internationalised local parts.
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+)*$/u;

export type DomainCheck = { ok: true; domain: string } | { ok: false; reason: string };

/** Normalises a domain name; `requireDot` rejects single-label names such as "localhost". */
export function normalizeDomain(input: string, options: { requireDot?: boolean } = {}): DomainCheck {
  let text = input.trim();
  if (text.endsWith('.')) text = text.slice(0, -1);
  if (text === '') return { ok: false, reason: 'is empty' };
  if (/[\s@/\\:]/.test(text)) return { ok: false, reason: 'contains a character not allowed in a domain name' };
  const ascii = domainToASCII(text.toLowerCase());
  if (ascii === '') return { ok: false, reason: 'is not a valid domain name' };
  if (ascii.length > MAX_DOMAIN) return { ok: false, reason: `is longer than ${MAX_DOMAIN} characters` };
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length === 0) return { ok: false, reason: 'has an empty label (two dots in a row)' };
    if (label.length > MAX_LABEL) return { ok: false, reason: `has a label longer than ${MAX_LABEL} characters` };
    if (!LABEL.test(label))
      return { ok: false, reason: `has an invalid label "${label}" (letters, digits and inner hyphens only)` };
  }
  if (/^\d+$/.test(labels[labels.length - 1]!))
    return { ok: false, reason: 'looks like an IP address, not a domain name' };
  if (options.requireDot && labels.length < 2)
    return { ok: false, reason: 'needs at least two labels, such as example.com' };
  return { ok: true, domain: ascii };
}

export interface Address {
  local: string;
  domain: string;
}

export type AddressCheck = { ok: true; address: Address; text: string } | { ok: false; reason: string };

/** Normalises `local@domain`. Quoted local parts are refused: no admin creates one on purpose. */
export function normalizeAddress(input: string): AddressCheck {
  const text = input.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0) return { ok: false, reason: 'is not an address of the form user@domain' };
  const local = text.slice(0, at).normalize('NFC').toLowerCase();
  if (Buffer.byteLength(local) > MAX_LOCAL_BYTES)
    return { ok: false, reason: `has a local part longer than ${MAX_LOCAL_BYTES} bytes` };
  if (!DOT_ATOM.test(local)) return { ok: false, reason: `has an invalid local part "${local}"` };
  const domain = normalizeDomain(text.slice(at + 1), { requireDot: false });
  if (!domain.ok) return { ok: false, reason: `has a domain that ${domain.reason}` };
  return { ok: true, address: { local, domain: domain.domain }, text: `${local}@${domain.domain}` };
}

/** Splits `user+tag` into the base and the tag (plus-addressing); the tag is kept for Sieve. */
export function splitPlus(local: string, separator = '+'): { base: string; tag: string | undefined } {
  const i = local.indexOf(separator);
  if (i <= 0) return { base: local, tag: undefined };
  return { base: local.slice(0, i), tag: local.slice(i + separator.length) };
}
