/**
 * Sieve match types and comparators (RFC 5228 §2.7, RFC 4790, RFC 5231 relational): the collations
 * i;octet, i;ascii-casemap and i;ascii-numeric, the relational operators, and :matches wildcards.
 */
import { MAX_RUN_COST, SieveRuntimeError, type RunBudget } from './runtime.js';

export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** RFC 4790 comparators: negative, 0 or positive. */
export function compare(comparator: string, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') {
    // RFC 4790 §9.1: the leading digits as a number; a string without any is positive infinity.
    // Compared as digit strings (leading zeros dropped, then length, then digits): no BigInt of a megabyte of digits.
    const num = (s: string) => {
      const m = /^[0-9]+/.exec(s);
      return m ? m[0].replace(/^0+(?=\d)/, '') : undefined;
    };
    const x = num(a);
    const y = num(b);
    if (x === undefined) return y === undefined ? 0 : 1;
    if (y === undefined) return -1;
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = comparator === 'i;octet' ? a : asciiLower(a);
  const y = comparator === 'i;octet' ? b : asciiLower(b);
  const bx = Buffer.from(x);
  const by = Buffer.from(y);
  return Buffer.compare(bx, by);
}

export function relation(rel: string, cmp: number): boolean {
  switch (rel.toLowerCase()) {
    case 'gt':
      return cmp > 0;
    case 'ge':
      return cmp >= 0;
    case 'lt':
      return cmp < 0;
    case 'le':
      return cmp <= 0;
    case 'eq':
      return cmp === 0;
    default:
      return cmp !== 0;
  }
}

/**
 * RFC 5228 §2.7.1 :matches: "*" any sequence, "?" one character, "\" quotes the next. Each "*"
 * takes the shortest match that lets the rest match (RFC 5229 §3.2): on a mismatch only the last
 * "*" seen grows, which finds a match whenever one exists, in at most pattern × value steps.
 */
export function wildcardMatch(
  pattern: string,
  value: string,
  caseless: boolean,
  budget: RunBudget = { left: MAX_RUN_COST },
): string[] | undefined {
  const p: Array<{ kind: 'char'; c: string } | { kind: 'any' } | { kind: 'one' }> = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) p.push({ kind: 'char', c: pattern[++i]! });
    else if (c === '*') p.push({ kind: 'any' });
    else if (c === '?') p.push({ kind: 'one' });
    else p.push({ kind: 'char', c });
  }
  const v = [...value];
  const eq = (x: string, y: string) => x === y || (caseless && asciiLower(x) === asciiLower(y));
  const spans: Array<[number, number]> = new Array<[number, number]>(p.length);
  let pi = 0;
  let vi = 0;
  let star = -1;
  let starEnd = 0;
  budget.left -= v.length;
  while (vi < v.length) {
    if (--budget.left < 0) throw new SieveRuntimeError('the script needs too much work for this message');
    const tok = p[pi];
    if (tok?.kind === 'char' && eq(tok.c, v[vi]!)) {
      pi++;
      vi++;
    } else if (tok?.kind === 'one') {
      spans[pi++] = [vi, ++vi];
    } else if (tok?.kind === 'any') {
      star = pi;
      starEnd = vi;
      spans[pi++] = [vi, vi];
    } else if (star >= 0) {
      starEnd++;
      spans[star] = [spans[star]![0], starEnd];
      pi = star + 1;
      vi = starEnd;
    } else {
      return undefined;
    }
  }
  while (p[pi]?.kind === 'any') spans[pi++] = [v.length, v.length];
  if (pi < p.length) return undefined;
  const captures = p.flatMap((t, k) => (t.kind === 'char' ? [] : [v.slice(spans[k]![0], spans[k]![1]).join('')]));
  return [value, ...captures];
}
