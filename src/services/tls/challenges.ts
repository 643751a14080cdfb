/**
 * ACME challenge responses, kept as files under <data_dir>/acme/challenges so that whichever process
 * places an order (the server's renewal loop or `postern cert issue`) is answered by the running
 * server's HTTP and HTTPS listeners — like certbot's webroot.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MIN_TLS_VERSION, writeAtomic } from './registry.js';

/** RFC 8555 §8.3: a token is base64url; anything else is not ours. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const NAME = /^[a-z0-9.-]{1,253}$/;

export class ChallengeStore {
  private readonly http: string;
  private readonly alpn: string;

  constructor(dataDir: string) {
    this.http = path.join(dataDir, 'acme', 'challenges', 'http-01');
    this.alpn = path.join(dataDir, 'acme', 'challenges', 'tls-alpn-01');
  }

  async putHttp(token: string, keyAuthorization: string): Promise<void> {
    if (!TOKEN.test(token)) throw new Error(`ACME token ${JSON.stringify(token)} is not base64url`);
    await writeInto(this.http, token, keyAuthorization);
  }

  /** RFC 8555 §8.3: the key authorization served at /.well-known/acme-challenge/<token>. */
  async getHttp(token: string): Promise<string | undefined> {
    if (!TOKEN.test(token)) return undefined;
    return readFile(path.join(this.http, token), 'utf8').catch(() => undefined);
  }

  async removeHttp(token: string): Promise<void> {
    if (TOKEN.test(token)) await unlink(path.join(this.http, token)).catch(() => undefined);
  }

  async putAlpn(name: string, pems: { key: string; cert: string }): Promise<void> {
    await writeInto(this.alpn, checkName(name), `${pems.key.trim()}\n${pems.cert.trim()}\n`);
  }

  /** RFC 8737 §3: the self-signed certificate with the acmeIdentifier extension for `name`. */
  async alpnContext(name: string): Promise<SecureContext | undefined> {
    const n = name.toLowerCase();
    if (!NAME.test(n)) return undefined;
    const pem = await readFile(path.join(this.alpn, n), 'utf8').catch(() => undefined);
    if (!pem) return undefined;
    return createSecureContext({ key: pem, cert: pem, minVersion: MIN_TLS_VERSION });
  }

  async removeAlpn(name: string): Promise<void> {
    await unlink(path.join(this.alpn, checkName(name))).catch(() => undefined);
  }
}

function checkName(name: string): string {
  const n = name.toLowerCase();
  if (!NAME.test(n)) throw new Error(`${JSON.stringify(name)} is not a DNS name`);
  return n;
}

async function writeInto(dir: string, name: string, content: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(path.join(dir, name), content, 0o600);
}
