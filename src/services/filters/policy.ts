/**
 * What the verdict means for each recipient: the thresholds of the recipient's domain ([filter.domains]
 * over the server-wide ones) and the allow and block lists of its account and domain turn one spam
 * score into a disposition per recipient — inbox, Junk, quarantine or refusal.
 *
 * A block-list entry matches the envelope sender or a From address. An allow-list entry matches the
 * same addresses but only where sender authentication vouches for them (SPF pass for the envelope
 * sender's domain, DMARC pass or a valid DKIM signature for From's), as SpamAssassin's whitelist_auth:
 * a spammer cannot get past it by forging a friend's address. Without sender authentication (LMTP
 * behind another MTA) the address alone decides.
 */
import type { FilterListEntry } from '../../store/index.js';
import type { AuthFacts } from './types.js';

export type Disposition = 'inbox' | 'junk' | 'quarantine' | 'reject';

export interface Thresholds {
  junkScore: number;
  quarantineScore?: number | undefined;
  rejectScore: number;
  /** False: the domain's mail is only virus-scanned. */
  spamScoring: boolean;
}

export interface PolicySettings extends Thresholds {
  /** Per recipient domain, over the server-wide values. */
  domains?: Readonly<Record<string, { [K in keyof Thresholds]?: Thresholds[K] | undefined }>> | undefined;
}

export interface RecipientDisposition {
  address: string;
  disposition: Disposition;
  why: string;
}

export function thresholdsFor(settings: PolicySettings, address: string): Thresholds {
  const domain = domainOf(address);
  const own = settings.domains?.[domain] ?? {};
  return {
    junkScore: own.junkScore ?? settings.junkScore,
    quarantineScore: own.quarantineScore ?? settings.quarantineScore,
    rejectScore: own.rejectScore ?? settings.rejectScore,
    spamScoring: own.spamScoring ?? settings.spamScoring,
  };
}

/** The disposition a score leads to under a recipient's thresholds. */
export function byScore(score: number | undefined, t: Thresholds): Disposition {
  if (score === undefined || !t.spamScoring) return 'inbox';
  if (score >= t.rejectScore) return 'reject';
  if (t.quarantineScore !== undefined && score >= t.quarantineScore) return 'quarantine';
  return score >= t.junkScore ? 'junk' : 'inbox';
}

export interface Sender {
  mailFrom: string;
  fromAddresses: readonly string[];
  auth: AuthFacts | undefined;
}

/**
 * The first matching entry of the recipient's lists: its account's entries before its domain's, and
 * within a scope a block before an allow.
 */
export function listed(
  entries: readonly FilterListEntry[],
  recipient: { address: string; account?: string | undefined },
  sender: Sender,
): FilterListEntry | undefined {
  const scopes = [recipient.account?.toLowerCase(), domainOf(recipient.address)].filter((s): s is string => !!s);
  for (const scope of scopes) {
    const own = entries.filter((e) => e.scope === scope);
    const block = own.find((e) => e.kind === 'block' && senderAddresses(sender).some((a) => matches(e.entry, a)));
    if (block) return block;
    const allow = own.find((e) => e.kind === 'allow' && vouchedAddresses(sender).some((a) => matches(e.entry, a)));
    if (allow) return allow;
  }
  return undefined;
}

/** An entry is an address (exact) or a domain, written "example.org" or "@example.org" (and its subdomains). */
export function matches(entry: string, address: string): boolean {
  const e = entry.toLowerCase();
  const a = address.toLowerCase();
  if (e.includes('@') && !e.startsWith('@')) return e === a;
  const domain = e.replace(/^@/, '');
  const own = domainOf(a);
  return own === domain || own.endsWith(`.${domain}`);
}

function senderAddresses(s: Sender): string[] {
  return [s.mailFrom, ...s.fromAddresses].filter((a) => a.includes('@'));
}

/** The sender addresses sender authentication vouches for (all of them when it did not run). */
function vouchedAddresses(s: Sender): string[] {
  const { auth } = s;
  if (!auth) return senderAddresses(s);
  const out: string[] = [];
  if (auth.spf === 'pass' && s.mailFrom.includes('@')) out.push(s.mailFrom);
  for (const a of s.fromAddresses) {
    const domain = domainOf(a);
    const dkim = auth.dkim.some(
      (d) =>
        d.result === 'pass' && (d.domain.toLowerCase() === domain || domain.endsWith(`.${d.domain.toLowerCase()}`)),
    );
    if (auth.dmarc === 'pass' || dkim) out.push(a);
  }
  return out;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
