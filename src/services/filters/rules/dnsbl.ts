/**
 * DNS blocklists (RFC 5782) asked through the configured resolvers: the client address (DNSBL, kind
 * "ip"), the envelope sender's and From's domains (RHSBL, "domain") and the registrable domains of the
 * http(s) links in the text (URIBL, "uri"). A listing is an A record in 127.0.0.0/8 (§2.1); an answer
 * in 127.255.255.0/24 is the list refusing the query (Spamhaus's "query via public resolver" and
 * "excessive queries" codes) and is no listing — the admin is told that their resolver is blocked.
 */
import net from 'node:net';
import type { FilterSymbol } from '../types.js';
import { registrableDomain } from './domains.js';
import { reversedLabels, unmapped } from './client.js';
import type { Lookup } from './lookup.js';

export interface Blocklist {
  zone: string;
  kind: 'ip' | 'domain' | 'uri';
  score: number;
}

/** Links looked up per message per URIBL. */
export const MAX_URI_LOOKUPS = 20;

export interface BlocklistTargets {
  ip: string;
  /** Envelope sender and From domains. */
  domains: string[];
  /** The text of the message's text parts, where links are found. */
  text: string;
}

export type Refused = (zone: string, name: string, answer: string) => void;

export async function blocklistSymbols(
  lists: readonly Blocklist[],
  targets: BlocklistTargets,
  lookup: Lookup,
  onRefused: Refused,
): Promise<FilterSymbol[]> {
  if (lists.length === 0) return [];
  const uris = lists.some((l) => l.kind === 'uri') ? linkDomains(targets.text, MAX_URI_LOOKUPS) : [];
  const domains = [...new Set(targets.domains.map((d) => registrableDomain(d) ?? '').filter(Boolean))];
  const found = await Promise.all(
    lists.map(async (list) => {
      const keys = list.kind === 'ip' ? ipKeys(targets.ip) : list.kind === 'domain' ? domains : uris;
      const listed = await Promise.all(keys.map((key) => query(list.zone, key, lookup, onRefused)));
      const hits = keys.filter((_, i) => listed[i]);
      return hits.length ? [symbolFor(list, hits)] : [];
    }),
  );
  return found.flat();
}

/** The one key of the client address: reversed IPv4 octets or IPv6 nibbles (RFC 5782 §2.1, §2.4). */
function ipKeys(ip: string): string[] {
  const address = unmapped(ip);
  return net.isIP(address) ? [reversedLabels(address)] : [];
}

async function query(zone: string, key: string, lookup: Lookup, onRefused: Refused): Promise<boolean> {
  const name = `${key}.${zone}`;
  if (name.length > 253) return false;
  const answers = await lookup(name, 'A');
  if (!answers) return false;
  const refusal = answers.find((a) => a.startsWith('127.255.255.'));
  if (refusal) {
    onRefused(zone, name, refusal);
    return false;
  }
  return answers.some((a) => net.isIPv4(a) && a.startsWith('127.'));
}

function symbolFor(list: Blocklist, hits: string[]): FilterSymbol {
  const prefix = list.kind === 'ip' ? 'RBL' : list.kind === 'domain' ? 'RHSBL' : 'URIBL';
  const what =
    list.kind === 'ip'
      ? 'the client address is'
      : `${hits.slice(0, 3).join(', ')}${hits.length > 3 ? ' …' : ''} ${hits.length > 1 ? 'are' : 'is'}`;
  return { name: symbolName(prefix, list.zone), score: list.score, why: `${what} listed in ${list.zone}` };
}

/** "zen.spamhaus.org" → RBL_ZEN_SPAMHAUS_ORG. */
export function symbolName(prefix: string, zone: string): string {
  return `${prefix}_${zone
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')}`;
}

/**
 * The registrable domains of http(s) links in text, in order of appearance, at most `max`. The host
 * is read up to the first character that cannot be in one; IP-address hosts are left to DNSBLs.
 */
export function linkDomains(text: string, max: number): string[] {
  const out = new Set<string>();
  const pattern = /https?:\/\/([^\s/?#"'<>()[\]\\]{1,300})/gi;
  for (let m = pattern.exec(text); m && out.size < max; m = pattern.exec(text)) {
    let host = m[1]!;
    host = host.slice(host.lastIndexOf('@') + 1).replace(/:\d*$/, '');
    if (net.isIP(host)) continue;
    const domain = registrableDomain(host);
    if (domain) out.add(domain);
  }
  return [...out];
}
