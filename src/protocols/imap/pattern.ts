/**
 * LIST patterns (RFC 9051 §6.3.9): "*" matches any characters, "%" any but the hierarchy separator.
 * Matched as a set of pattern positions advanced one name character at a time, the positions held
 * as bits (Glushkov/Shift-And style): O(name × pattern / 32) for any pattern, where a regular
 * expression built from the pattern backtracks exponentially on "*a*a*a*a*b".
 */

export type PatternMatcher = (name: string) => boolean;

import { MAX_MAILBOX_NAME } from '../../mail/mailbox-name.js';

export function compilePattern(pattern: string, separator: string, isCaseInsensitive: boolean): PatternMatcher {
  const text = isCaseInsensitive ? pattern.toLowerCase() : pattern;
  // Runs of wildcards collapse: "**" and "%*" are "*", "%%" is "%".
  const tokens: string[] = [];
  for (const ch of text) {
    const last = tokens[tokens.length - 1];
    if ((ch === '*' || ch === '%') && (last === '*' || last === '%')) {
      if (ch === '*') tokens[tokens.length - 1] = '*';
      continue;
    }
    tokens.push(ch);
  }
  // Each literal character matches one of the name's: more of them than a name may have never match.
  if (tokens.filter((t) => t !== '*' && t !== '%').length > MAX_MAILBOX_NAME) return () => false;
  const fold = (name: string) => (isCaseInsensitive ? name.toLowerCase() : name);
  if (!tokens.includes('*') && !tokens.includes('%')) return (name) => fold(name) === text;

  const m = tokens.length;
  const words = ((m + 1) >>> 5) + 1;
  const star = new Uint32Array(words);
  const pct = new Uint32Array(words);
  const literal = new Map<string, Uint32Array>();
  tokens.forEach((t, i) => {
    const bit = 1 << (i & 31);
    if (t === '*') star[i >>> 5]! |= bit;
    else if (t === '%') pct[i >>> 5]! |= bit;
    else {
      let mask = literal.get(t);
      if (!mask) literal.set(t, (mask = new Uint32Array(words)));
      mask[i >>> 5]! |= bit;
    }
  });
  const wild = star.map((w, i) => w | pct[i]!);
  const none = new Uint32Array(words);
  const acceptWord = m >>> 5;
  const acceptBit = 1 << (m & 31);

  /** Positions reachable without consuming a character: past a wildcard that matches nothing. */
  const close = (s: Uint32Array) => {
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const moved = ((s[w]! & wild[w]!) << 1) | carry;
      carry = (s[w]! & wild[w]!) >>> 31;
      s[w]! |= moved;
    }
  };

  return (name: string) => {
    let cur = new Uint32Array(words);
    let next = new Uint32Array(words);
    cur[0] = 1;
    close(cur);
    for (const ch of fold(name)) {
      const lit = literal.get(ch) ?? none;
      const isSeparator = ch === separator;
      let carry = 0;
      let any = 0;
      for (let w = 0; w < words; w++) {
        const advanced = cur[w]! & lit[w]!;
        const stays = (cur[w]! & star[w]!) | (isSeparator ? 0 : cur[w]! & pct[w]!);
        next[w] = ((advanced << 1) | carry | stays) >>> 0;
        carry = advanced >>> 31;
        any |= next[w]!;
      }
      if (any === 0) return false;
      close(next);
      [cur, next] = [next, cur];
    }
    return (cur[acceptWord]! & acceptBit) !== 0;
  };
}
