/**
 * DNS lookups for everything Postern asks (SPF, DKIM, DMARC, MX, MTA-STS): the system resolvers, or
 * the `[dns] resolvers` of the config, so tests and split-horizon setups can point elsewhere.
 * The function shape is `dns.promises.resolve`'s, which mailauth accepts as its resolver.
 */
import { Resolver } from 'node:dns/promises';

export type DnsResolve = (name: string, rrtype: string) => Promise<unknown>;

export function createResolver(
  servers: readonly string[],
  options: { timeoutMs?: number; tries?: number } = {},
): DnsResolve {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: options.tries ?? 2 });
  if (servers.length) resolver.setServers([...servers]);
  return (name, rrtype) => resolver.resolve(name, rrtype as 'TXT');
}

/** TXT records joined as DNS clients do: the strings of one record concatenated. */
export async function resolveTxt(resolve: DnsResolve, name: string): Promise<string[]> {
  try {
    const records = (await resolve(name, 'TXT')) as string[][];
    return records.map((parts) => parts.join(''));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw err;
  }
}
