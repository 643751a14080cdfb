/**
 * The connecting client: does its address have a name (PTR) that leads back to it (forward-confirmed
 * reverse DNS), and is its HELO/EHLO name (RFC 5321 §4.1.1.1: the client's fully-qualified domain
 * name, or an address literal when it has none) a real name that is not ours?
 *
 * A loopback client (127.0.0.0/8, ::1) is this host: a local submission agent, a webmail or a
 * content filter re-injecting mail. Its address has no meaningful PTR and "localhost" is its true
 * name, so none of these rules apply to it; DNS blocklists still do (dnsbl.ts).
 */
import net from 'node:net';
import type { FilterSymbol } from '../types.js';
import { normalizeHost } from './domains.js';
import type { Lookup } from './lookup.js';

export interface ClientFacts {
  ip: string;
  helo: string;
  /** Our own host name ([hostname]). */
  hostname: string;
  /** Whether a name is one of our hosted domains (or an alias of one). */
  isHosted: (name: string) => Promise<boolean>;
}

export function isLoopback(ip: string): boolean {
  const v4 = unmapped(ip);
  return v4.startsWith('127.') || ip === '::1';
}

/** An IPv4-mapped IPv6 address (::ffff:192.0.2.1) as the IPv4 address it is. */
export function unmapped(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip;
}

export async function clientSymbols(facts: ClientFacts, lookup: Lookup): Promise<FilterSymbol[]> {
  const ip = unmapped(facts.ip);
  if (net.isIP(ip) === 0 || isLoopback(ip)) return [];
  const [rdns, helo] = await Promise.all([reverseSymbols(ip, lookup), heloSymbols(facts, lookup)]);
  return [...rdns, ...helo];
}

/**
 * SpamAssassin's RDNS_NONE (1.274) when the address has no PTR; FCRDNS_FAIL when no name it has
 * resolves back to it, weighed as RDNS_NONE (a name that does not confirm is no better; rspamd's
 * HFILTER_HOSTNAME_UNKNOWN gives either case 2.5). A lookup that failed adds nothing.
 */
async function reverseSymbols(ip: string, lookup: Lookup): Promise<FilterSymbol[]> {
  const names = await lookup(reverseName(ip), 'PTR');
  if (names === undefined) return [];
  if (names.length === 0) return [{ name: 'RDNS_NONE', score: 1.274, why: `${ip} has no reverse DNS (PTR) name` }];
  const rrtype = net.isIPv6(ip) ? 'AAAA' : 'A';
  const want = canonical(ip);
  let failed = false;
  for (const name of names.slice(0, 5)) {
    const addresses = await lookup(name, rrtype);
    if (addresses === undefined) failed = true;
    else if (addresses.some((a) => canonical(a) === want)) return [];
  }
  if (failed) return [];
  return [
    {
      name: 'FCRDNS_FAIL',
      score: 1.274,
      why: `the reverse DNS name of ${ip} (${names[0]}) does not resolve back to it`,
    },
  ];
}

/**
 * HELO_BARE_IP as SpamAssassin's FSL_HELO_BARE_IP_1 (1.426): an address, bare or as a literal, where a
 * name belongs; HELO_NOT_FQDN as rspamd's HFILTER_HELO_NOT_FQDN (2.0); HELO_FORGED_US when the client
 * claims our own name or a domain we host, as SpamAssassin's RCVD_FAKE_HELO_DOTCOM (2.389); HELO_NORES
 * as rspamd's HFILTER_HELO_NORES_A_OR_MX (0.3) when the name has no address.
 */
async function heloSymbols(facts: ClientFacts, lookup: Lookup): Promise<FilterSymbol[]> {
  const helo = normalizeHost(facts.helo);
  const literal = /^\[(?:ipv6:)?([0-9a-f:.]+)\]$/i.exec(helo)?.[1];
  if (net.isIP(helo) || (literal && net.isIP(literal)))
    return [{ name: 'HELO_BARE_IP', score: 1.426, why: `the client greeted with an address (${facts.helo}), no name` }];
  if (
    !/^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))+$/.test(helo) ||
    /\.\d+$/.test(helo)
  )
    return [
      {
        name: 'HELO_NOT_FQDN',
        score: 2,
        why: `the client's greeting name "${facts.helo.slice(0, 100)}" is not a domain name`,
      },
    ];
  if (helo === normalizeHost(facts.hostname) || (await facts.isHosted(helo)))
    return [{ name: 'HELO_FORGED_US', score: 2.389, why: `the client greeted with our own name (${helo})` }];
  const [a, aaaa] = await Promise.all([lookup(helo, 'A'), lookup(helo, 'AAAA')]);
  if (a?.length === 0 && aaaa?.length === 0)
    return [{ name: 'HELO_NORES', score: 0.3, why: `the client's greeting name ${helo} has no address` }];
  return [];
}

/** The in-addr.arpa / ip6.arpa name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(ip: string): string {
  return `${reversedLabels(ip)}.${net.isIPv6(ip) ? 'ip6' : 'in-addr'}.arpa`;
}

/** IPv4 octets or IPv6 nibbles in reverse order, dot-separated: the key DNS blocklists use too. */
export function reversedLabels(ip: string): string {
  if (net.isIPv4(ip)) return ip.split('.').reverse().join('.');
  return [...expandIpv6(ip).replace(/:/g, '')].reverse().join('.');
}

/** An IPv6 address written out in full: eight groups of four hex digits. */
export function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...middle, ...right].map((g) => g.padStart(4, '0')).join(':');
}

function canonical(ip: string): string {
  const v4 = unmapped(ip);
  return net.isIPv6(v4) ? expandIpv6(v4) : v4;
}
