/**
 * Where mail for an address goes: domain aliases map to their domain, then an alias (expanded
 * recursively, loop-safe, to a depth limit), then an account, then the address without its +tag,
 * then the domain's catch-all. The tag of a plus-address is kept for Sieve.
 */
import { normalizeAddress, splitPlus } from '../../mail/address.js';
import { isSrs, srsReverse } from '../../mail/srs.js';
import type { AccountRecord, Store } from '../../store/index.js';

export const MAX_ALIAS_DEPTH = 10;

export type Destination =
  | { kind: 'local'; account: AccountRecord; address: string; tag: string | undefined }
  | { kind: 'remote'; address: string };

export type Resolution =
  | { kind: 'invalid'; reason: string }
  | { kind: 'not-hosted'; domain: string }
  | { kind: 'unknown'; address: string }
  | { kind: 'disabled'; address: string }
  /** An SRS address of ours, written to by anything but a bounce: it takes only bounces. */
  | { kind: 'bounce-only'; address: string }
  | { kind: 'ok'; address: string; destinations: Destination[] };

/**
 * `sender` is the envelope sender ('' for the null sender). SRS addresses are reversed only for
 * bounces: anything else sent to one would make Postern relay it, SPF-aligned and sealed, anywhere.
 */
export async function resolveRecipient(
  store: Store,
  input: string,
  options: { srsSecret?: Buffer; sender?: string } = {},
): Promise<Resolution> {
  const check = normalizeAddress(input);
  if (!check.ok) return { kind: 'invalid', reason: check.reason };
  const hosted = await hostedDomain(store, check.address.domain);
  if (!hosted) return { kind: 'not-hosted', domain: check.address.domain };
  const address = `${check.address.local}@${hosted}`;
  if (options.srsSecret && isSrs(check.address.local)) {
    // A bounce of mail we forwarded: back to the original sender, if the address is genuine.
    const original = srsReverse(check.address.local, options.srsSecret);
    if (!original) return { kind: 'unknown', address };
    if (options.sender !== '') return { kind: 'bounce-only', address };
    return { kind: 'ok', address, destinations: [{ kind: 'remote', address: original }] };
  }
  const out: Destination[] = [];
  const seen = new Set<string>();
  let disabled = false;

  const expand = async (addr: string, depth: number, tag: string | undefined): Promise<boolean> => {
    if (seen.has(addr) || depth > MAX_ALIAS_DEPTH) return true; // a loop or too deep: this branch ends here
    seen.add(addr);
    const at = addr.lastIndexOf('@');
    const local = addr.slice(0, at);
    const domain = await hostedDomain(store, addr.slice(at + 1));
    if (!domain) {
      out.push({ kind: 'remote', address: addr });
      return true;
    }
    const full = `${local}@${domain}`;
    const direct = await lookup(full, depth, tag);
    if (direct) return true;
    const { base, tag: plusTag } = splitPlus(local);
    if (plusTag !== undefined && (await lookup(`${base}@${domain}`, depth, tag ?? plusTag))) return true;
    const catchAll = await store.aliases.get(`@${domain}`);
    if (catchAll) {
      for (const d of catchAll.destinations) await expand(d, depth + 1, tag ?? plusTag);
      return true;
    }
    return false;
  };

  const lookup = async (addr: string, depth: number, tag: string | undefined): Promise<boolean> => {
    const alias = await store.aliases.get(addr);
    if (alias) {
      for (const d of alias.destinations) await expand(d, depth + 1, tag);
      return true;
    }
    const account = await store.accounts.get(addr);
    if (!account) return false;
    if (!account.isEnabled) {
      disabled = true;
      return true;
    }
    if (!out.some((d) => d.kind === 'local' && d.account.id === account.id))
      out.push({ kind: 'local', account, address: addr, tag });
    return true;
  };

  const found = await expand(address, 0, undefined);
  if (!found) return { kind: 'unknown', address };
  if (out.length === 0) return disabled ? { kind: 'disabled', address } : { kind: 'unknown', address };
  // One copy per remote address, however many aliases lead there.
  const unique = out.filter(
    (d, i) => d.kind === 'local' || out.findIndex((e) => e.kind === 'remote' && e.address === d.address) === i,
  );
  return { kind: 'ok', address, destinations: unique };
}

/** The hosted domain that receives mail for `name`, already normalised: itself, or the target of a domain alias. */
export async function hostedDomain(store: Store, name: string): Promise<string | undefined> {
  const record = await store.domains.get(name);
  return record ? (record.aliasOf ?? record.name) : undefined;
}

/**
 * Addresses an account may send as: its own, plus-addresses of it, aliases that deliver to it directly,
 * and the same names in domains aliased to its domain. A catch-all does not make every address its own.
 */
export async function ownsAddress(store: Store, accountAddress: string, input: string): Promise<boolean> {
  const check = normalizeAddress(input);
  if (!check.ok) return false;
  const hosted = await hostedDomain(store, check.address.domain);
  if (!hosted) return false;
  const { base } = splitPlus(check.address.local);
  for (const candidate of new Set([`${check.address.local}@${hosted}`, `${base}@${hosted}`])) {
    if (candidate === accountAddress) return true;
    const alias = await store.aliases.get(candidate);
    if (alias?.destinations.includes(accountAddress)) return true;
  }
  return false;
}
