/**
 * Sender Rewriting Scheme (the SRS0 form of libsrs2 and postsrsd), so that mail forwarded to another
 * domain passes SPF there: `SRS0=HHHHHHHH=TT=domain=local@forwarder`. HHHHHHHH is an HMAC of the rest
 * in base32 (40 bits: local parts are case-insensitive, so the hash is too, and 2^40 guesses are
 * out of reach through SMTP), TT the day it was made. Bounces to the address are accepted for 21
 * days and routed to the original sender; delivery takes them only from the null sender.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const MAX_AGE_DAYS = 21;
const DAY_MS = 86_400_000;

function stamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % 1024;
  return BASE32[day >> 5]! + BASE32[day & 31]!;
}

function stampDay(ts: string): number {
  return BASE32.indexOf(ts[0]!.toUpperCase()) * 32 + BASE32.indexOf(ts[1]!.toUpperCase());
}

/** Base32 characters of the hash. */
export const SRS_HASH_LENGTH = 8;

function hash(secret: Buffer, ts: string, domain: string, local: string, separator = '='): string {
  // Separated, so that no other split of the same characters (domain a.co + local mx, domain
  // a.com + local x) shares the hash: the domain holds no '='.
  const mac = createHmac('sha256', secret)
    .update(`${ts}${separator}${domain}${separator}${local}`.toLowerCase())
    .digest();
  let out = '';
  for (let i = 0; i < SRS_HASH_LENGTH; i++) {
    // 5 bits at a time, from the front of the MAC
    const bit = i * 5;
    const word = (mac[bit >> 3]! << 8) | mac[(bit >> 3) + 1]!;
    out += BASE32[(word >> (11 - (bit & 7))) & 31];
  }
  return out;
}

export function srsForward(sender: string, forwarderDomain: string, secret: Buffer, now = Date.now()): string {
  const at = sender.lastIndexOf('@');
  if (at <= 0) return sender;
  const local = sender.slice(0, at);
  const domain = sender.slice(at + 1);
  const ts = stamp(now);
  return `SRS0=${hash(secret, ts, domain, local)}=${ts}=${domain}=${local}@${forwarderDomain}`;
}

/** The original address of an SRS0 local part, or undefined when it is forged, damaged or expired. */
export function srsReverse(local: string, secret: Buffer, now = Date.now()): string | undefined {
  const m = /^SRS0[=+-]([A-Z2-7]{8})=([A-Z2-7]{2})=([^=]+)=(.+)$/i.exec(local);
  if (!m) return undefined;
  const [, given, ts, domain, user] = m as unknown as [string, string, string, string, string];
  const isValid = (separator: string) =>
    timingSafeEqual(
      Buffer.from(given.toUpperCase()),
      Buffer.from(hash(secret, ts.toUpperCase(), domain, user, separator)),
    );
  const then = stampDay(ts);
  if (!isValid('=') && !(now < OLD_HASHES_UNTIL && then <= OLD_HASHES_LAST_DAY && isValid(''))) return undefined;
  const today = Math.floor(now / DAY_MS) % 1024;
  if ((today - then + 1024) % 1024 > MAX_AGE_DAYS) return undefined;
  return `${user}@${domain}`;
}

/**
 * Until this time (21 days, the longest an address lives, after the hash took separators on
 * 2026-12-02), addresses made before are still reversed, so the bounces they bring back are not
 * lost; only those addresses could be re-split, and only meanwhile.
 */
const SEPARATORS_SINCE = Date.UTC(2026, 11, 2);
const OLD_HASHES_UNTIL = SEPARATORS_SINCE + (MAX_AGE_DAYS + 1) * DAY_MS;
const OLD_HASHES_LAST_DAY = Math.floor(SEPARATORS_SINCE / DAY_MS) % 1024;

export function isSrs(local: string): boolean {
  return /^SRS0[=+-]/i.test(local);
}
