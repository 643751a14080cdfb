/**
 * MTA-STS (RFC 8461): the _mta-sts TXT id says a policy exists; the policy itself is fetched over
 * HTTPS from mta-sts.DOMAIN with a validated certificate (§3.3) and cached for its max_age, refetched
 * when the id changes. mailauth parses the TXT record and the policy and matches MX names (§4.1).
 */
import { rootCertificates } from 'node:tls';
import { parsePolicy, resolvePolicy, validateMx, type MtaStsPolicy } from 'mailauth/lib/mta-sts.js';
import { getHttpsText } from '../../lib/https-text.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';

export type { MtaStsPolicy };

interface Cached {
  policy: MtaStsPolicy;
  id: string;
  expires: number;
}

const MAX_POLICY_BYTES = 64 * 1024; // §3.3
const FETCH_TIMEOUT_MS = 60_000;

export class MtaSts {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly options: { resolve: DnsResolve; port: number; extraCa: string[] }) {}

  /** The domain's policy, or undefined when it publishes none (or it cannot be had and none is cached). */
  async policy(domain: string): Promise<MtaStsPolicy | undefined> {
    const cached = this.cache.get(domain);
    let id: string | false;
    try {
      id = await resolvePolicy(domain, { resolver: this.options.resolve });
    } catch {
      // §5.1: a DNS failure keeps a cached, unexpired policy.
      return cached && cached.expires > Date.now() ? cached.policy : undefined;
    }
    if (!id) return cached && cached.expires > Date.now() ? cached.policy : undefined;
    if (cached && cached.id === id && cached.expires > Date.now()) return cached.policy;
    try {
      const policy = parsePolicy(await this.fetch(domain));
      if (!['none', 'testing', 'enforce'].includes(policy.mode) || !(policy.maxAge > 0))
        throw new Error('invalid policy');
      this.cache.set(domain, { policy, id, expires: Date.now() + Math.min(policy.maxAge, 31_557_600) * 1000 });
      return policy;
    } catch {
      return cached && cached.expires > Date.now() ? cached.policy : undefined;
    }
  }

  matches(mx: string, policy: MtaStsPolicy): boolean {
    return validateMx(mx.replace(/\.$/, ''), policy).valid;
  }

  private async fetch(domain: string): Promise<string> {
    const servername = `mta-sts.${domain}`;
    const [address] = (await this.options
      .resolve(servername, 'A')
      .catch(() => this.options.resolve(servername, 'AAAA'))) as string[];
    if (!address) throw new Error(`${servername} has no address`);
    // §3.3: no redirects; only a 200 answer of at most 64 KB.
    const res = await getHttpsText({
      host: address,
      port: this.options.port,
      servername,
      path: '/.well-known/mta-sts.txt',
      ca: this.options.extraCa.length ? [...rootCertificates, ...this.options.extraCa] : undefined,
      rejectUnauthorized: true,
      timeoutMs: FETCH_TIMEOUT_MS,
      maxBytes: MAX_POLICY_BYTES,
    });
    if (res.status !== 200) throw new Error(`policy fetch answered ${res.status}`);
    return res.body;
  }
}
