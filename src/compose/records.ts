/**
 * What the DNS records to publish for a domain are derived from (the config, its listeners and DKIM
 * keys), and the per-domain doctor the admin API runs on them.
 */
import { networkInterfaces } from 'node:os';
import { parseListenAddress, type Config, type ListenerName } from '../config/schema.js';
import { mtaStsPolicy, mtaStsPolicyId } from '../mail/mta-sts-policy.js';
import { SRV_SERVICES, type RecordInputs } from '../services/doctor/records.js';
import { runDomainDoctor, type DoctorReport } from '../services/doctor/index.js';
import { isPrivateAddress } from '../services/doctor/findings.js';
import type { DnsResolve } from '../mail/dns/resolver.js';
import type { Store } from '../store/index.js';
import type { DkimKeyRecord } from '../store/index.js';

/** What `postern dns`, `postern doctor` and the admin API derive a domain's records from. */
export function recordInputs(
  config: Readonly<Config>,
  domain: string,
  dkimKeys: DkimKeyRecord[],
  publicAddresses: readonly string[],
): RecordInputs {
  const port = (name: ListenerName) => {
    const first = config.listen[name][0];
    return first ? parseListenAddress(first)?.port : undefined;
  };
  const web = port('https')
    ? [...new Set(['mta-sts', 'autoconfig', 'webmail', ...(config.acme?.subdomains ?? [])])].map(
        (s) => `${s}.${domain}`,
      )
    : [];
  return {
    domain,
    hostname: config.hostname,
    publicAddresses,
    dkimKeys,
    mtaStsId: mtaStsPolicyId(
      mtaStsPolicy({
        mode: config.http.mta_sts_mode,
        mx: [config.hostname],
        maxAgeSeconds: config.http.mta_sts_max_age / 1000,
      }),
    ),
    webNames: web.filter((n) => n !== config.hostname),
    srv: SRV_SERVICES.flatMap((s) => (port(s.listener) ? [{ service: s.service, port: port(s.listener)! }] : [])),
  };
}

/** This machine's public addresses, when [dns] public_addresses names none. */
export function detectPublicAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && !isPrivateAddress(a.address) && !a.address.startsWith('fe80'))
    .map((a) => a!.address);
}

/** The per-domain DNS doctor for the admin API: the domain's records checked through `[dns] resolvers`. */
export function domainDoctor(
  config: Readonly<Config>,
  deps: { store: Store; resolve: DnsResolve; certificateNames: () => string[][] },
): (domain: string) => Promise<DoctorReport> {
  return async (name) => {
    const domain = await deps.store.domains.get(name);
    const keys = await deps.store.dkim.list(name);
    const publicAddresses = config.dns.public_addresses.length ? config.dns.public_addresses : detectPublicAddresses();
    const records = recordInputs(config, name, keys, publicAddresses);
    const policy = mtaStsPolicy({
      mode: config.http.mta_sts_mode,
      mx: [config.hostname],
      maxAgeSeconds: config.http.mta_sts_max_age / 1000,
    });
    return runDomainDoctor(
      {
        hostname: config.hostname,
        heloName: config.outbound.helo_name || config.hostname,
        publicAddresses,
        domains: [],
        listeners: [],
        certificateFiles: [],
        certificateNames: deps.certificateNames(),
        allowPlaintextAuth: config.tls.allow_plaintext_auth,
        expiryWarningMs: config.tls.expiry_warning,
        dnsbls: [],
        timeoutMs: 5000,
        resolve: deps.resolve,
        // This server serves every hosted domain's policy itself: what it would answer is this.
        fetchPolicy: () => Promise.resolve({ status: 200, body: policy }),
      },
      { name, aliasOf: domain?.aliasOf ?? null, dkimKeys: keys, records },
    );
  };
}
