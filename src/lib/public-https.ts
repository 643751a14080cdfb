/**
 * One bounded HTTPS POST to a URL a user named (a JMAP push subscription's), refusing to reach this
 * machine or the networks around it (server-side request forgery): the host is resolved once, every
 * address it has must be public unicast (ipaddr.js's "unicast" range: not loopback, private, link-local,
 * carrier-grade NAT, multicast, documentation, IPv4-mapped to any of those …), and the connection goes
 * to that checked address — a second resolution cannot point it elsewhere (DNS rebinding). Redirects
 * are not followed; the answer's body is read up to `maxBytes` and dropped.
 */
import { lookup } from 'node:dns/promises';
import https from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import ipaddr from 'ipaddr.js';

export interface PublicPost {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Extra CA certificates trusted (PEM). */
  ca?: string[] | undefined;
  /** Let loopback and private addresses through: labs and tests only. */
  allowPrivate: boolean;
  timeoutMs: number;
  maxBytes: number;
  /** Host name → addresses; the system resolver by default. */
  resolveHost?: ((host: string) => Promise<string[]>) | undefined;
}

export class RefusedDestination extends Error {}

/** Whether an address may be connected to on a user's word: public unicast only. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/** Checks a URL before it is kept: https, a host, no user name or password in it. */
export function checkPushUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return 'must begin with https://';
  if (url.username || url.password) return 'must not hold a user name or password';
  if (!url.hostname) return 'has no host';
  if (text.length > 2000) return 'is longer than 2,000 characters';
  return undefined;
}

const systemResolve = async (host: string) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The address to connect to for `url`: its host's first address, when every address it has is public
 * (or `allowPrivate`); RefusedDestination otherwise.
 */
export async function checkDestination(
  url: URL,
  options: { allowPrivate: boolean; resolveHost?: ((host: string) => Promise<string[]>) | undefined },
): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await (options.resolveHost ?? systemResolve)(host);
  } catch {
    addresses = [];
  }
  if (!addresses.length) throw new RefusedDestination(`${host} has no address`);
  const refused = addresses.find((a) => !isPublicAddress(a));
  if (refused && !options.allowPrivate)
    throw new RefusedDestination(
      refused === host
        ? `${host} is not a public address`
        : `${host} resolves to ${refused}, which is not a public address`,
    );
  return addresses[0]!;
}

export async function postPublicHttps(p: PublicPost): Promise<{ status: number }> {
  const url = new URL(p.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const address = await checkDestination(url, p);
  return new Promise((done, fail) => {
    // The whole exchange, however slowly its bytes come: `timeoutMs` bounds each silence only.
    const deadline = setTimeout(() => req.destroy(new Error(`not done within ${3 * p.timeoutMs} ms`)), 3 * p.timeoutMs);
    const resolve = (v: { status: number }) => (clearTimeout(deadline), done(v));
    const reject = (err: unknown) => (clearTimeout(deadline), fail(err));
    const req = https.request(
      {
        method: 'POST',
        host: address,
        port: url.port ? Number(url.port) : 443,
        path: `${url.pathname}${url.search}`,
        ...(isIP(host) ? {} : { servername: host }),
        headers: { ...p.headers, host: url.host, 'content-length': String(p.body.length) },
        // Extra CAs are trusted next to the system's, not instead of them.
        ca: p.ca?.length ? [...rootCertificates, ...p.ca] : undefined,
        // Always checked, whatever NODE_TLS_REJECT_UNAUTHORIZED says.
        rejectUnauthorized: true,
        timeout: p.timeoutMs,
        agent: false,
      },
      (res) => {
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > p.maxBytes) req.destroy();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('close', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${p.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(p.body);
  });
}
