/**
 * Addresses in Sieve tests and actions: header values parsed to addresses, the address parts of
 * RFC 5228 §2.7.4 and RFC 5233, and the syntax check redirect applies.
 */
import addressparser from 'nodemailer/lib/addressparser';
import type { argsOf } from './compile.js';

/** local@domain.tld without spaces or angle brackets, at most 254 characters (RFC 5321 §4.5.3.1.3); no regex, so linear. */
export function isRedirectAddress(address: string): boolean {
  if (address.length > 254 || /[\s<>]/.test(address)) return false;
  const at = address.indexOf('@');
  if (at <= 0 || at !== address.lastIndexOf('@')) return false;
  const domain = address.slice(at + 1);
  const dot = domain.indexOf('.');
  return dot > 0 && dot < domain.length - 1;
}

export function parseAddresses(value: string): string[] {
  try {
    return addressparser(value, { flatten: true })
      .map((a) => a.address ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** RFC 5228 §2.7.4 address parts, RFC 5233 :user and :detail (separator "+"). */
export function addressParts(addresses: string[], tags: ReturnType<typeof argsOf>['tags']): string[] {
  return addresses.flatMap((addr) => {
    const at = addr.lastIndexOf('@');
    const local = at >= 0 ? addr.slice(0, at) : addr;
    const domain = at >= 0 ? addr.slice(at + 1) : '';
    if (tags.has('localpart')) return [local];
    if (tags.has('domain')) return [domain];
    const plus = local.indexOf('+');
    if (tags.has('user')) return [plus >= 0 ? local.slice(0, plus) : local];
    // RFC 5233 §4: without a separator :detail matches nothing.
    if (tags.has('detail')) return plus >= 0 ? [local.slice(plus + 1)] : [];
    return [addr];
  });
}
