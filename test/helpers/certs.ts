import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { selfSignedPems } from '../../src/services/tls/registry.js';

/** Writes a certbot-style live/<dir>/ pair for `names` and returns the PEMs. */
export async function writeCertbotCert(certbotDir: string, dir: string, names: string[], options: { notAfter?: Date } = {}): Promise<{ key: string; cert: string }> {
  const pems = await selfSignedPems(names, options);
  const live = path.join(certbotDir, 'live', dir);
  mkdirSync(live, { recursive: true });
  writeFileSync(path.join(live, 'privkey.pem'), pems.key);
  writeFileSync(path.join(live, 'fullchain.pem'), pems.cert);
  return pems;
}
