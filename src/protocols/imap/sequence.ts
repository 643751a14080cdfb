/** Sequence sets (RFC 9051 §9 sequence-set): "1:4,7,9:*", with "*" the largest number in use. */
import { ImapSyntaxError } from './wire.js';

export type SeqRange = [number, number]; // inclusive; Infinity stands for "*"
export const STAR = Number.POSITIVE_INFINITY;
const MAX_RANGES = 10_000;

export function parseSequenceSet(text: string): SeqRange[] {
  if (text === '$') throw new ImapSyntaxError('saved search results are not supported');
  const parts = text.split(',');
  if (parts.length > MAX_RANGES) throw new ImapSyntaxError('sequence set too long');
  return parts.map((p) => {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(p);
    if (!m) throw new ImapSyntaxError(`invalid sequence set "${text.slice(0, 50)}"`);
    const a = m[1] === '*' ? STAR : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? STAR : Number(m[2]);
    if (a === 0 || b === 0 || (a !== STAR && a > 0xffffffff) || (b !== STAR && b > 0xffffffff))
      throw new ImapSyntaxError('sequence numbers start at 1 and fit 32 bits');
    return a <= b ? [a, b] : [b, a];
  });
}

/** Whether n is in the set, with "*" meaning `max`. For one-off checks; setMatcher() for many. */
export function inSet(set: SeqRange[], n: number, max: number): boolean {
  for (const [a, b] of set) {
    const lo = a === STAR ? max : a;
    const hi = b === STAR ? max : b;
    if (n >= Math.min(lo, hi) && n <= Math.max(lo, hi)) return true;
  }
  return false;
}

/**
 * The set as sorted, disjoint, inclusive intervals with "*" as `max`: 10,000 overlapping ranges
 * become the few they cover, so walking them costs what they name, not ranges × messages.
 */
export function mergeSet(set: SeqRange[], max: number): Array<[number, number]> {
  const ranges = set
    .map(([a, b]): [number, number] => {
      const lo = a === STAR ? max : a;
      const hi = b === STAR ? max : b;
      return lo <= hi ? [lo, hi] : [hi, lo];
    })
    .sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** A membership test in O(log ranges), for testing every message of a mailbox. */
export function setMatcher(set: SeqRange[], max: number): (n: number) => boolean {
  const merged = mergeSet(set, max);
  return (n) => {
    let lo = 0;
    let hi = merged.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const [a, b] = merged[mid]!;
      if (n < a) hi = mid - 1;
      else if (n > b) lo = mid + 1;
      else return true;
    }
    return false;
  };
}

/** The index of the first element of a sorted array that is >= n. */
export function lowerBound(sorted: ArrayLike<number>, n: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Compact form of a sorted list of numbers: "1:3,7". */
export function formatSet(nums: number[]): string {
  const sorted = [...nums].sort((x, y) => x - y);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
