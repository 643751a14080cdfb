/**
 * MTA-STS (RFC 8461): the _mta-sts TXT id says a policy exists; the policy itself is fetched over
 * HTTPS from mta-sts.DOMAIN with a validated certificate (§3.3) and cached for its max_age, refetched
 * when the id changes. mailauth parses the TXT record and the policy and matches MX names (§4.1).
 */
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { parsePolicy, resolvePolicy, validateMx, type MtaStsPolicy } from 'mailauth/lib/mta-sts.js';
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
      if (!['none', 'testing', 'enforce'].includes(policy.mode) || !(policy.maxAge > 0)) throw new Error('invalid policy');
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
    const [address] = (await this.options.resolve(servername, 'A').catch(() => this.options.resolve(servername, 'AAAA'))) as string[];
    if (!address) throw new Error(`${servername} has no address`);
    return new Promise((resolve, reject) => {
      const req = https.get(
        {
          host: address, port: this.options.port, servername, path: '/.well-known/mta-sts.txt', headers: { host: servername },
          ca: this.options.extraCa.length ? [...rootCertificates, ...this.options.extraCa] : undefined,
          rejectUnauthorized: true, timeout: FETCH_TIMEOUT_MS, agent: false,
        },
        (res) => {
          // §3.3: no redirects; only 200 with text/plain.
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new Error(`policy fetch answered ${res.statusCode}`));
          }
          let size = 0;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_POLICY_BYTES) req.destroy(new Error('policy too large'));
            else chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('policy fetch timed out')));
      req.on('error', reject);
    });
  }
}
