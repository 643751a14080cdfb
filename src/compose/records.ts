/** What the DNS records to publish for a domain are derived from: the config, its listeners and DKIM keys. */
import { parseListenAddress, type Config, type ListenerName } from '../config/schema.js';
import { mtaStsPolicy, mtaStsPolicyId } from '../mail/mta-sts-policy.js';
import { SRV_SERVICES, type RecordInputs } from '../services/doctor/records.js';
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
    ? [...new Set(['mta-sts', 'autoconfig', ...(config.acme?.subdomains ?? [])])].map((s) => `${s}.${domain}`)
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
