/**
 * Who a client is, for counting: an IPv4 address, or the IPv6 prefix it belongs to. One IPv6 site is
 * usually given a whole /64 (RFC 6177), so a host can take a new address per connection: limits and
 * lockouts keyed on the full address would count each of them apart.
 */
import { isIP, isIPv6 } from 'node:net';

/** "198.51.100.7", or "2001:db8:1:2::/64" for any address in that /64 (the prefix length is configurable). */
export function sourceKey(ip: string, ipv6Prefix = 64): string {
  const plain = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  if (!isIPv6(plain)) return plain;
  const groups = expandIpv6(plain);
  if (!groups) return plain;
  const bits = Math.max(0, Math.min(128, ipv6Prefix));
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    out.push(keep === 0 ? 0 : groups[i]! & (0xffff << (16 - keep)) & 0xffff);
  }
  return `${out.map((g) => g.toString(16)).join(':')}/${bits}`;
}

/** The eight 16-bit groups of an IPv6 address ("::" expanded, an embedded IPv4 tail converted). */
function expandIpv6(ip: string): number[] | undefined {
  let text = ip.split('%')[0]!;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...tail].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** Whether a host name or address stays on this machine: localhost, 127.0.0.0/8, ::1 (or ::ffff:127.x), in any spelling. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const g = isIP(h) === 6 ? expandIpv6(h) : undefined;
  if (!g) return false;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  return (zeros(7) && g[7] === 1) || (zeros(5) && g[5] === 0xffff && g[6]! >> 8 === 127);
}
