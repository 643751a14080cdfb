/**
 * DKIM keys per domain and signing of outgoing mail (RFC 6376, ed25519 per RFC 8463). Private keys
 * are files in the data directory (0600); the store keeps selector, algorithm, public key and state.
 * Rotation publishes a new selector first and signs with it only once DNS shows its key.
 */
import { generateKeyPair as generateKeyPairCb } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { normalizeDomain } from '../../mail/address.js';
import { resolveTxt, type DnsResolve } from '../../mail/dns/resolver.js';
import type { DkimAlgorithm, DkimKeyRecord, Store } from '../../store/index.js';
import { dkimSignatures, type SigningKey } from './sign.js';

const generateKeyPair = promisify(generateKeyPairCb);

export interface DkimDeps {
  store: Store;
  dataDir: string;
  resolve: DnsResolve;
  log: Logger;
}

export class Dkim {
  constructor(private readonly deps: DkimDeps) {}

  list(domain?: string): Promise<DkimKeyRecord[]> {
    return this.deps.store.dkim.list(domain === undefined ? undefined : domainOrThrow(domain));
  }

  /** A new key; the default selector is "mail" + the year, as admins expect (mail2026, then mail2026b …). */
  async generate(
    input: string,
    options: {
      selector?: string | undefined;
      algorithm?: DkimAlgorithm | undefined;
      status?: 'active' | 'pending';
    } = {},
  ): Promise<DkimKeyRecord> {
    const domain = domainOrThrow(input);
    if (!(await this.deps.store.domains.get(domain)))
      throw new MailError('DOMAIN_NOT_FOUND', `domain ${domain} is not hosted`);
    const algorithm = options.algorithm ?? 'rsa2048';
    if (!['rsa2048', 'rsa4096', 'ed25519'].includes(algorithm))
      throw new MailError('INVALID_INPUT', `algorithm must be rsa2048, rsa4096 or ed25519, not "${algorithm}"`);
    const existing = await this.deps.store.dkim.list(domain);
    const selector = options.selector ?? defaultSelector(existing.map((k) => k.selector));
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(selector))
      throw new MailError('INVALID_INPUT', `selector "${selector}" is not a DNS label`);
    if (existing.some((k) => k.selector === selector.toLowerCase()))
      throw new MailError('ALREADY_EXISTS', `selector ${selector} already exists for ${domain}`);
    const { privatePem, publicKey } = await makeKey(algorithm);
    const keyFile = path.join(this.deps.dataDir, 'dkim', domain, `${selector.toLowerCase()}.${algorithm}.pem`);
    await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    await writeFile(keyFile, privatePem, { mode: 0o600, flag: 'wx' });
    const record = await this.deps.store.dkim.add({
      domain,
      selector: selector.toLowerCase(),
      algorithm,
      publicKey,
      keyFile,
      status: options.status ?? 'active',
    });
    this.deps.log.info({ domain, selector: record.selector, algorithm }, 'DKIM key generated');
    return record;
  }

  /** For `[dkim] auto_generate`: what the directory runs when a domain is added (a key unless it has one). */
  autoGenerate(options: {
    auto_generate: boolean;
    algorithm: DkimAlgorithm;
  }): ((domain: { name: string }) => Promise<void>) | undefined {
    if (!options.auto_generate) return undefined;
    return async (domain) => {
      if ((await this.list(domain.name)).length === 0)
        await this.generate(domain.name, { algorithm: options.algorithm });
    };
  }

  /**
   * Starts a rotation: a new selector, pending until its public key is seen in DNS (or at once with
   * `now`); the keys it replaces are retired then, and stay listed so their records can be removed.
   */
  async rotate(
    input: string,
    options: { now?: boolean; algorithm?: DkimAlgorithm | undefined } = {},
  ): Promise<DkimKeyRecord> {
    const domain = domainOrThrow(input);
    const current = (await this.deps.store.dkim.list(domain)).filter((k) => k.status === 'active');
    const algorithm = options.algorithm ?? current[0]?.algorithm ?? 'rsa2048';
    const key = await this.generate(domain, { algorithm, status: options.now ? 'active' : 'pending' });
    if (options.now) await this.retireOthers(key);
    else await this.promotePending(domain);
    return (await this.deps.store.dkim.list(domain)).find((k) => k.selector === key.selector)!;
  }

  /** Activates pending keys whose public key DNS already shows; returns those activated. */
  async promotePending(domain?: string): Promise<DkimKeyRecord[]> {
    const done: DkimKeyRecord[] = [];
    for (const key of (await this.deps.store.dkim.list(domain)).filter((k) => k.status === 'pending')) {
      if (!(await this.isPublished(key))) continue;
      await this.deps.store.dkim.setStatus(key.domain, key.selector, 'active');
      await this.retireOthers(key);
      this.deps.log.info({ domain: key.domain, selector: key.selector }, 'DKIM key seen in DNS: now signing with it');
      done.push({ ...key, status: 'active' });
    }
    return done;
  }

  async isPublished(key: DkimKeyRecord): Promise<boolean> {
    try {
      const records = await resolveTxt(this.deps.resolve, `${key.selector}._domainkey.${key.domain}`);
      return records.some((r) => /(?:^|;)\s*p=([^;\s]*)/.exec(r.replace(/\s+/g, ''))?.[1] === key.publicKey);
    } catch {
      return false;
    }
  }

  private async retireOthers(key: DkimKeyRecord): Promise<void> {
    const family = (a: DkimAlgorithm) => (a === 'ed25519' ? 'ed25519' : 'rsa');
    for (const other of await this.deps.store.dkim.list(key.domain)) {
      if (
        other.selector !== key.selector &&
        other.status === 'active' &&
        family(other.algorithm) === family(key.algorithm)
      ) {
        await this.deps.store.dkim.setStatus(other.domain, other.selector, 'retired');
      }
    }
  }

  /** The key that ARC-seals mail this domain forwards (RFC 8617 §5): its active RSA key, else ed25519. */
  async sealingKey(
    input: string,
  ): Promise<{ signingDomain: string; selector: string; privateKey: Buffer } | undefined> {
    const check = normalizeDomain(input);
    if (!check.ok) return undefined;
    const active = (await this.deps.store.dkim.list(check.domain)).filter((k) => k.status === 'active');
    const key = active.find((k) => k.algorithm !== 'ed25519') ?? active[0];
    return key && { signingDomain: key.domain, selector: key.selector, privateKey: await readFile(key.keyFile) };
  }

  /**
   * Signs `content` for `domain` with its active keys (ed25519 and RSA both when both exist),
   * relaxed/relaxed; returns the content with DKIM-Signature headers prepended, or as it was.
   */
  async sign(content: Buffer, input: string): Promise<Buffer> {
    const check = normalizeDomain(input);
    if (!check.ok) return content;
    const keys = (await this.deps.store.dkim.list(check.domain)).filter((k) => k.status === 'active');
    if (keys.length === 0) return content;
    const signingKeys: SigningKey[] = await Promise.all(
      keys.map(async (k) => ({
        signingDomain: k.domain,
        selector: k.selector,
        privateKey: await readFile(k.keyFile),
        algorithm: k.algorithm === 'ed25519' ? ('ed25519-sha256' as const) : ('rsa-sha256' as const),
      })),
    );
    try {
      return Buffer.concat([Buffer.from(dkimSignatures(content, signingKeys)), content]);
    } catch (err) {
      this.deps.log.error({ domain: check.domain, err: String(err) }, 'DKIM signing failed: sent unsigned');
      return content;
    }
  }
}

function defaultSelector(taken: string[]): string {
  const base = `mail${new Date().getUTCFullYear()}`;
  if (!taken.includes(base)) return base;
  for (const suffix of 'bcdefghijklmnopqrstuvwxyz') if (!taken.includes(base + suffix)) return base + suffix;
  return `${base}-${Date.now().toString(36)}`;
}

async function makeKey(algorithm: DkimAlgorithm): Promise<{ privatePem: string; publicKey: string }> {
  if (algorithm === 'ed25519') {
    const { privateKey, publicKey } = await generateKeyPair('ed25519', {
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'der' },
    });
    return { privatePem: privateKey, publicKey: publicKey.subarray(publicKey.length - 32).toString('base64') }; // RFC 8463 §4: the raw key
  }
  const bits = algorithm === 'rsa4096' ? 4096 : 2048;
  const { privateKey, publicKey } = await generateKeyPair('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  return { privatePem: privateKey, publicKey: publicKey.toString('base64') };
}

function domainOrThrow(input: string): string {
  const check = normalizeDomain(input, { requireDot: true });
  if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
  return check.domain;
}
