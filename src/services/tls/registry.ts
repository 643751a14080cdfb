/**
 * The certificate registry every TLS listener uses. Certificates come from the certbot layout
 * (`<certbot_dir>/live/<name>/privkey.pem` + `fullchain.pem`) and from `[[tls.certificate]]`
 * entries; a self-signed one for `hostname` is made when nothing else covers it. A handshake picks
 * by SNI (exact name, then `*.parent` wildcard) and falls back to the hostname's certificate.
 * Files are polled: a changed certificate is loaded for new handshakes, open connections keep theirs,
 * and a key that does not match its certificate is refused while the old pair stays in service.
 */
import { X509Certificate, createPrivateKey, createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';
import { Coalescer } from '../../lib/coalesce.js';
import type { Logger } from '../../lib/log.js';

export const MIN_TLS_VERSION = 'TLSv1.2';

export interface CertificateSpec {
  source: 'certbot' | 'config' | 'self-signed';
  keyFile: string;
  chainFile: string;
  /** Names to serve; when absent, the certificate's own DNS names. */
  names?: readonly string[] | undefined;
}

export interface CertificateInfo {
  names: string[];
  source: CertificateSpec['source'];
  keyFile: string;
  chainFile: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

interface Loaded extends CertificateInfo {
  context: SecureContext;
  stamp: string;
}

export interface RegistryOptions {
  hostname: string;
  dataDir: string;
  certbotDir: string;
  certificates: ReadonlyArray<{ names?: readonly string[] | undefined; key: string; chain: string }>;
  reloadIntervalMs: number;
  expiryWarningMs: number;
  log: Logger;
}

export class CertificateRegistry {
  private loaded = new Map<string, Loaded>(); // by chain file
  private byName = new Map<string, Loaded>();
  private timer: NodeJS.Timeout | undefined;
  private readonly rescans = new Coalescer(() => this.rescan());
  private readonly hostname: string;

  constructor(private readonly options: RegistryOptions) {
    this.hostname = normalizeName(options.hostname);
  }

  /** Loads every certificate, makes the self-signed fallback if needed, and starts polling. */
  async start(): Promise<void> {
    await this.reload();
    if (!this.byName.has(this.hostname) && !this.wildcardFor(this.hostname)) {
      await this.ensureSelfSigned();
      await this.reload();
    }
    if (this.options.reloadIntervalMs > 0) {
      this.timer = setInterval(() => void this.reload(), this.options.reloadIntervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The context for a handshake: by SNI name, else the hostname's certificate. */
  contextFor(servername?: string): SecureContext {
    return this.lookup(servername)?.context ?? this.fallback().context;
  }

  /** For `tls.TLSSocket`/`tls.createServer` options. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    try {
      cb(null, this.contextFor(servername));
    } catch (err) {
      cb(err as Error);
    }
  };

  /** The certificate a handshake for `servername` gets, or undefined if only the fallback would match. */
  lookup(servername?: string): (CertificateInfo & { context: SecureContext }) | undefined {
    if (!servername) return undefined;
    const name = normalizeName(servername);
    return this.byName.get(name) ?? this.wildcardFor(name);
  }

  /** Every loaded certificate, for `postern cert list` and the doctor. */
  list(): CertificateInfo[] {
    return [...this.loaded.values()]
      .map(({ context: _c, stamp: _s, ...info }) => info)
      .sort((a, b) => a.names[0]!.localeCompare(b.names[0]!));
  }

  private fallback(): Loaded {
    const cert = this.byName.get(this.hostname) ?? this.wildcardFor(this.hostname) ?? this.loaded.values().next().value;
    if (!cert) throw new Error('no TLS certificate is loaded');
    return cert;
  }

  private wildcardFor(name: string): Loaded | undefined {
    const dot = name.indexOf('.');
    return dot > 0 ? this.byName.get(`*${name.slice(dot)}`) : undefined;
  }

  /** Rescans the sources; a call during a rescan gets the next one, which sees its changes. */
  reload(): Promise<void> {
    return this.rescans.run();
  }

  private async rescan(): Promise<void> {
    const specs = await this.sources();
    const next = new Map<string, Loaded>();
    for (const spec of specs) {
      const previous = this.loaded.get(spec.chainFile);
      try {
        const stamp = await fileStamp(spec);
        if (previous && previous.stamp === stamp) {
          next.set(spec.chainFile, previous);
          continue;
        }
        const cert = await loadCertificate(spec, stamp);
        next.set(spec.chainFile, cert);
        this.options.log.info(
          { names: cert.names, source: cert.source, notAfter: cert.notAfter.toISOString(), chain: cert.chainFile },
          previous ? 'certificate reloaded' : 'certificate loaded',
        );
        this.warnIfExpiring(cert);
      } catch (err) {
        const reason = (err as Error).message;
        if (previous) {
          next.set(spec.chainFile, previous);
          this.options.log.error(
            { chain: spec.chainFile, key: spec.keyFile, reason },
            'certificate not reloaded; keeping the one in service',
          );
        } else {
          this.options.log.error({ chain: spec.chainFile, key: spec.keyFile, reason }, 'certificate not loaded');
        }
      }
    }
    this.loaded = next;
    const byName = new Map<string, Loaded>();
    for (const cert of next.values()) {
      for (const name of cert.names) {
        const other = byName.get(name);
        // Two certificates for one name: serve the one that stays valid longer.
        if (
          !other ||
          (other.source === 'self-signed' && cert.source !== 'self-signed') ||
          (other.source === cert.source && cert.notAfter > other.notAfter)
        ) {
          byName.set(name, cert);
        }
      }
    }
    this.byName = byName;
  }

  private warnIfExpiring(cert: Loaded): void {
    const left = cert.notAfter.getTime() - Date.now();
    if (left < 0)
      this.options.log.error({ names: cert.names, notAfter: cert.notAfter.toISOString() }, 'certificate has expired');
    else if (left < this.options.expiryWarningMs) {
      this.options.log.warn(
        { names: cert.names, notAfter: cert.notAfter.toISOString(), daysLeft: Math.floor(left / 86_400_000) },
        'certificate expires soon',
      );
    }
  }

  /** The certificate files this registry loads from (certbot layout, config, self-signed), for the doctor. */
  async sources(): Promise<CertificateSpec[]> {
    const specs: CertificateSpec[] = [];
    const live = path.join(this.options.certbotDir, 'live');
    let entries: string[] = [];
    try {
      entries = (await readdir(live, { withFileTypes: true }))
        .filter((e) => e.isDirectory() || e.isSymbolicLink())
        .map((e) => e.name)
        .sort();
    } catch {
      // No certbot directory: nothing to load from it.
    }
    for (const name of entries) {
      const dir = path.join(live, name);
      specs.push({
        source: 'certbot',
        keyFile: path.join(dir, 'privkey.pem'),
        chainFile: path.join(dir, 'fullchain.pem'),
      });
    }
    for (const c of this.options.certificates) {
      specs.push({ source: 'config', keyFile: c.key, chainFile: c.chain, names: c.names });
    }
    const self = this.selfSignedPaths();
    if (await exists(self.chainFile)) specs.push({ source: 'self-signed', ...self });
    return specs;
  }

  private selfSignedPaths(): { keyFile: string; chainFile: string } {
    const dir = path.join(this.options.dataDir, 'tls', 'self-signed');
    return { keyFile: path.join(dir, 'privkey.pem'), chainFile: path.join(dir, 'fullchain.pem') };
  }

  private async ensureSelfSigned(): Promise<void> {
    const { keyFile, chainFile } = this.selfSignedPaths();
    const pems = await selfSignedPems([this.hostname]);
    await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    await writeAtomic(keyFile, pems.key, 0o600);
    await writeAtomic(chainFile, pems.cert, 0o644);
    this.options.log.warn(
      { hostname: this.hostname, chain: chainFile },
      'no certificate covers the hostname; using a self-signed one — clients will warn until a real certificate is installed (certbot layout or [[tls.certificate]])',
    );
  }
}

/** A self-signed P-256 certificate for `names`, valid for one year. */
export async function selfSignedPems(
  names: string[],
  options: { notAfter?: Date; notBefore?: Date } = {},
): Promise<{ key: string; cert: string }> {
  const r = await generate([{ name: 'commonName', value: names[0]! }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfterDate: options.notAfter ?? new Date(Date.now() + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { key: r.private, cert: r.cert };
}

async function loadCertificate(spec: CertificateSpec, stamp: string): Promise<Loaded> {
  const [keyPem, chainPem] = await Promise.all([readFile(spec.keyFile, 'utf8'), readFile(spec.chainFile, 'utf8')]);
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem);
  if (!first) throw new Error(`${spec.chainFile} holds no PEM certificate`);
  const leaf = new X509Certificate(first[0]);
  const key = createPrivateKey(keyPem);
  if (!leaf.checkPrivateKey(key))
    throw new Error(`the key in ${spec.keyFile} does not match the certificate in ${spec.chainFile}`);
  const names = (spec.names?.length ? [...spec.names] : certificateNames(leaf)).map(normalizeName);
  if (names.length === 0) throw new Error(`${spec.chainFile} names no DNS name; list names = [...] for it`);
  const context = createSecureContext({ key: keyPem, cert: chainPem, minVersion: MIN_TLS_VERSION });
  return {
    names,
    source: spec.source,
    keyFile: spec.keyFile,
    chainFile: spec.chainFile,
    subject: leaf.subject,
    issuer: leaf.issuer,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
    context,
    stamp,
  };
}

function certificateNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    const names = san
      .split(/,\s*/)
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    if (names.length) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject);
  return cn ? [cn[1]!] : [];
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** Changes when either file changes, including a certbot renewal that repoints the live/ symlinks. */
async function fileStamp(spec: CertificateSpec): Promise<string> {
  const parts = await Promise.all(
    [spec.keyFile, spec.chainFile].map(async (f) => {
      const s = await stat(f);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    }),
  );
  return createHash('sha256').update(parts.join('|')).digest('hex');
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Writes through a temp file and a rename, so readers see the old content or the new. */
export async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}
