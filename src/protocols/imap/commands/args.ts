/**
 * Arguments several command families read: mailbox names (modified UTF-7 unless UTF-8 was enabled),
 * flag lists (STORE, APPEND) and sequence sets resolved against the selected mailbox.
 */
import { astring, ImapSyntaxError, type Token } from '../wire.js';
import { lowerBound, mergeSet, parseSequenceSet } from '../sequence.js';
import type { Value } from '../respond.js';
import { decodeMutf7, encodeMutf7 } from '../utf7.js';
import type { ImapContext } from './types.js';

/** A mailbox name from the client: modified UTF-7 unless UTF-8 was enabled (RFC 9051 §5.1). */
export function mailboxArg(s: ImapContext, t: Token | undefined): string {
  const raw = astring(t);
  return s.isUtf8 ? raw : decodeMutf7(raw);
}

/** A mailbox name for the client, the way mailboxArg() reads it. */
export function nameValue(s: ImapContext, name: string): Value {
  return s.isUtf8 ? name : encodeMutf7(name);
}

export function parseFlags(t: Token | undefined): string[] {
  if (!t) throw new ImapSyntaxError('missing flags');
  const list = t.type === 'list' ? t.items : [t];
  return list.map((f) => {
    const v = astring(f);
    if (!/^\\?[\x21-\x7e]+$/.test(v) || /[(){%*"\]]/.test(v.replace(/^\\/, '')))
      throw new ImapSyntaxError(`invalid flag ${v.slice(0, 30)}`);
    if (v.toLowerCase() === '\\recent') throw new ImapSyntaxError('\\Recent cannot be stored');
    return v;
  });
}

/**
 * The messages a sequence set names, as (seq, uid) in ascending order. The set is merged first and
 * walked range by range (UIDs found by binary search), so its cost is what it names.
 */
export function resolveSet(s: ImapContext, t: Token | undefined, isUid: boolean): Array<{ seq: number; uid: number }> {
  const text = astring(t);
  const set = parseSequenceSet(text);
  const view = s.view;
  const uids = view.uids;
  const out: Array<{ seq: number; uid: number }> = [];
  if (isUid) {
    for (const [lo, hi] of mergeSet(set, view.maxUid)) {
      for (let i = lowerBound(uids, lo); i < uids.length && uids[i]! <= hi; i++)
        out.push({ seq: i + 1, uid: uids[i]! });
    }
  } else {
    const max = view.exists;
    if (max === 0) throw new ImapSyntaxError('the mailbox is empty');
    for (const [a, b] of set) {
      const hi = b === Infinity ? max : b;
      const lo = a === Infinity ? max : a;
      if (Math.max(lo, hi) > max && !(a === Infinity || b === Infinity))
        throw new ImapSyntaxError('sequence number beyond the last message');
    }
    for (const [lo, hi] of mergeSet(set, max)) {
      for (let seq = lo; seq <= Math.min(hi, max); seq++) out.push({ seq, uid: uids[seq - 1]! });
    }
  }
  return out;
}
