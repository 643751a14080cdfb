/**
 * Writes certificates in certbot's layout, so software that reads /etc/letsencrypt (and Postern's
 * own registry) shares them: archive/<lineage>/{cert,chain,fullchain,privkey}N.pem, and
 * live/<lineage>/*.pem as relative symlinks to the newest of them. Every file is fsynced before the
 * symlinks move, and each symlink is replaced by a rename, so a reader sees the old pair or the new.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';

const FILES = ['cert', 'chain', 'fullchain', 'privkey'] as const;

export interface LineageInfo {
  lineage: string;
  names: string[];
  notBefore: Date;
  notAfter: Date;
  issuer: string;
}

/** The certificate in live/<lineage>/, or undefined when there is none (or it does not parse). */
export async function readLineage(certbotDir: string, lineage: string): Promise<LineageInfo | undefined> {
  try {
    const pem = await readFile(path.join(certbotDir, 'live', lineage, 'fullchain.pem'), 'utf8');
    const leaf = new X509Certificate(splitPem(pem)[0]!);
    const names = (leaf.subjectAltName ?? '')
      .split(/,\s*/)
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase());
    return {
      lineage,
      names,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      issuer: leaf.issuer,
    };
  } catch {
    return undefined;
  }
}

/** Writes version N+1 of the lineage and points live/ at it. `fullchain` is leaf first, then the chain. */
export async function writeLineage(
  certbotDir: string,
  lineage: string,
  pems: { key: string; fullchain: string },
): Promise<void> {
  const certs = splitPem(pems.fullchain);
  if (certs.length === 0) throw new Error('the CA returned no certificate');
  const archive = path.join(certbotDir, 'archive', lineage);
  const live = path.join(certbotDir, 'live', lineage);
  await mkdir(archive, { recursive: true, mode: 0o700 });
  await mkdir(live, { recursive: true, mode: 0o755 });
  const version = await nextVersion(archive);
  const content: Record<(typeof FILES)[number], string> = {
    cert: certs[0]!,
    chain: certs.slice(1).join(''),
    fullchain: certs.join(''),
    privkey: pems.key.endsWith('\n') ? pems.key : `${pems.key}\n`,
  };
  for (const f of FILES)
    await writeSynced(path.join(archive, `${f}${version}.pem`), content[f], f === 'privkey' ? 0o600 : 0o644);
  await fsyncDir(archive);
  // Key first: the registry refuses a pair whose key does not match, and keeps the old one meanwhile.
  for (const f of ['privkey', 'cert', 'chain', 'fullchain'] as const) {
    const link = path.join(live, `${f}.pem`);
    const tmp = `${link}.tmp-${process.pid}`;
    await unlink(tmp).catch(() => undefined);
    await symlink(path.join('..', '..', 'archive', lineage, `${f}${version}.pem`), tmp);
    await rename(tmp, link);
  }
  await fsyncDir(live);
}

export function splitPem(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

async function nextVersion(archive: string): Promise<number> {
  let max = 0;
  for (const name of await readdir(archive)) {
    const m = /^fullchain(\d+)\.pem$/.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

async function writeSynced(file: string, content: string, mode: number): Promise<void> {
  const fh = await open(file, 'w', mode);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
