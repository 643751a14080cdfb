/**
 * Domain names as the rules compare them: lower case without a trailing dot, and the registrable
 * domain (the public suffix plus one label, "example.co.uk") from the Public Suffix List via tldts,
 * the list DMARC's organizational domain uses (RFC 7489 §3.2).
 */
import { getDomain } from 'tldts';

export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/** The registrable domain of a host name; undefined for an IP address or a bare public suffix. */
export function registrableDomain(host: string): string | undefined {
  const h = normalizeHost(host);
  if (h.length === 0 || h.length > 253) return undefined;
  return getDomain(h, { allowPrivateDomains: false }) ?? undefined;
}

/** Two host names under the same registrable domain (or equal, when neither has one). */
export function sameOrganization(a: string, b: string): boolean {
  const x = normalizeHost(a);
  const y = normalizeHost(b);
  if (x === y) return true;
  const rx = registrableDomain(x);
  return rx !== undefined && rx === registrableDomain(y);
}

/** The domain of an address (after its last @), lower case; '' when it has none. */
export function addressDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : normalizeHost(address.slice(at + 1));
}
