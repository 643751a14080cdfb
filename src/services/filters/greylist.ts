/**
 * Greylisting (RFC 6647), as postgrey does it: the first attempt of an unknown triplet — the client's
 * network (IPv4 /24, IPv6 by [limits] ipv6_prefix), the envelope sender and the recipient — is
 * deferred with 451 4.7.1 at RCPT TO; a retry after `delay` and within `retry_window` passes, and the
 * triplet passes from then on. A network whose triplets passed `auto_allow_after` times is not
 * greylisted any more (postgrey's --auto-whitelist-clients). Only strangers on port 25 are greylisted.
 */
import { isIPv6 } from 'node:net';
import { sourceKey } from '../../lib/ip.js';
import type { Logger } from '../../lib/log.js';
import type { Store } from '../../store/index.js';

export interface GreylistSettings {
  delayMs: number;
  retryWindowMs: number;
  /** 0: never. */
  autoAllowAfter: number;
  ipv6Prefix: number;
}

export type GreylistAnswer = { pass: true; why: string } | { pass: false; retryInSeconds: number };

export class Greylist {
  constructor(
    private readonly deps: {
      store: Pick<Store, 'greylist'>;
      settings: GreylistSettings;
      log: Logger;
      now?: () => Date;
    },
  ) {}

  async check(ip: string, sender: string, recipient: string): Promise<GreylistAnswer> {
    const { store, settings } = this.deps;
    const now = this.deps.now?.() ?? new Date();
    const network = clientNetwork(ip, settings.ipv6Prefix);
    if (settings.autoAllowAfter > 0 && (await store.greylist.clientPasses(network)) >= settings.autoAllowAfter)
      return { pass: true, why: 'client network passed before' };
    const key = `${network} ${normaliseSender(sender)} ${recipient.toLowerCase()}`;
    const t = await store.greylist.triplet(key);
    if (t && t.passes > 0) {
      await store.greylist.putTriplet(key, { ...t, lastSeen: now, passes: t.passes + 1 });
      return { pass: true, why: 'triplet passed before' };
    }
    const waited = t ? now.getTime() - t.firstSeen.getTime() : 0;
    if (!t || waited > settings.retryWindowMs) {
      await store.greylist.putTriplet(key, { firstSeen: now, lastSeen: now, passes: 0 });
      return { pass: false, retryInSeconds: Math.ceil(settings.delayMs / 1000) };
    }
    if (waited < settings.delayMs) {
      await store.greylist.putTriplet(key, { ...t, lastSeen: now });
      return { pass: false, retryInSeconds: Math.ceil((settings.delayMs - waited) / 1000) };
    }
    await store.greylist.putTriplet(key, { ...t, lastSeen: now, passes: 1 });
    await store.greylist.addClientPass(network, now);
    return { pass: true, why: `retried after ${Math.round(waited / 1000)} s` };
  }
}

/** IPv4: its /24; IPv6: its prefix (a host may use any address of its /64). */
export function clientNetwork(ip: string, ipv6Prefix: number): string {
  const key = sourceKey(ip, ipv6Prefix);
  if (isIPv6(key.split('/')[0]!)) return key;
  const octets = key.split('.');
  return octets.length === 4 ? `${octets.slice(0, 3).join('.')}.0/24` : key;
}

/**
 * As postgrey: case folded, a "+extension" dropped and digit runs in the local part made one "#", so
 * that VERP and bounce-tracking senders (list-bounces+1234@…) keep one triplet across messages.
 */
export function normaliseSender(sender: string): string {
  const s = sender.toLowerCase();
  const at = s.lastIndexOf('@');
  if (at < 0) return s;
  const local = s.slice(0, at).replace(/\+.*$/, '').replace(/\d+/g, '#');
  return `${local}${s.slice(at)}`;
}
