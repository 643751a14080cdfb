/**
 * SPF record syntax (RFC 7208 §4.5 record selection, §5 mechanisms, §6 modifiers, §12 ABNF), parsed
 * to report every mistake with the token it is in, not only whether the record is valid.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type SpfQualifier = '+' | '-' | '~' | '?';

export interface SpfTerm {
  /** The token as written. */
  text: string;
  kind: 'mechanism' | 'modifier';
  qualifier: SpfQualifier;
  /** Mechanism or modifier name, lower case. */
  name: string;
  /** The part after ":" or "=", without the CIDR lengths. */
  value: string;
}

export interface SpfProblem {
  token: string;
  message: string;
  /** The token as it should probably read. */
  suggestion?: string;
}

export interface SpfRecord {
  terms: SpfTerm[];
  problems: SpfProblem[];
}

const MECHANISMS = new Set(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);
/** Mechanisms and modifiers that cost a DNS lookup (RFC 7208 §4.6.4). */
export const LOOKUP_TERMS = new Set(['include', 'a', 'mx', 'ptr', 'exists', 'redirect']);

/** §4.5: a TXT record is an SPF record when it starts with "v=spf1" followed by a space or its end. */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1(?: |$)/i.test(txt);
}

/** A TXT record that was meant to be SPF but is not selected as one (a "-spf1" or "v=spf2" prefix, a quote). */
export function looksLikeSpf(txt: string): boolean {
  return !isSpfRecord(txt) && /(?:^|\W)spf[12]\b|v\s*=\s*spf/i.test(txt);
}

export function parseSpf(txt: string): SpfRecord {
  const problems: SpfProblem[] = [];
  const terms: SpfTerm[] = [];
  if (!isSpfRecord(txt)) {
    const first = txt.trim().split(/\s+/)[0] ?? '';
    problems.push({
      token: first,
      message: `the record must start with "v=spf1" followed by a space; "${first}" is not it, so receivers ignore the whole record`,
      suggestion: 'v=spf1',
    });
    txt = txt.trim().replace(/^\S*spf\S*/i, 'v=spf1');
    if (!isSpfRecord(txt)) return { terms, problems };
  }
  if (/\t|\s{2,}|^\s|\s$/.test(txt))
    problems.push({
      token: JSON.stringify(txt.match(/\t|\s{2,}|^\s|\s$/)![0]),
      message: 'terms must be separated by single spaces, with none at the start or end',
    });
  const tokens = txt.split(/\s+/).filter(Boolean).slice(1);
  for (const token of tokens) {
    const term = parseTerm(token, problems);
    if (term) terms.push(term);
  }
  const mods = (name: string) => terms.filter((t) => t.kind === 'modifier' && t.name === name).length;
  for (const name of ['redirect', 'exp'])
    if (mods(name) > 1) problems.push({ token: name, message: `"${name}=" may appear only once (RFC 7208 §6)` });
  const allIndex = terms.findIndex((t) => t.name === 'all');
  if (allIndex >= 0 && allIndex < terms.filter((t) => t.kind === 'mechanism').length - 1) {
    problems.push({
      token: terms[allIndex]!.text,
      message: 'mechanisms after "all" are never evaluated: put "all" last',
    });
  }
  return { terms, problems };
}

function parseTerm(token: string, problems: SpfProblem[]): SpfTerm | undefined {
  // The seed's classic: "include:example.com-all" — a missing space glues "all" to the previous term.
  const glued = /^(.+?[^\s:=])([-~?+]all)$/i.exec(token);
  if (glued && !/^[-~?+]?all$/i.test(token)) {
    problems.push({
      token,
      message: `"${glued[2]}" is glued to the term before it (a missing space): "${token}" is read as one term`,
      suggestion: `${glued[1]} ${glued[2]}`,
    });
    return parseTerm(glued[1]!, problems);
  }
  const modifier = /^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$/.exec(token);
  if (modifier) {
    const name = modifier[1]!.toLowerCase();
    const value = modifier[2]!;
    if ((name === 'redirect' || name === 'exp') && !validDomainSpec(value))
      problems.push({ token, message: `"${value}" is not a domain name` });
    if (MECHANISMS.has(name))
      problems.push({
        token,
        message: `"${name}" is a mechanism: it takes ":" not "="`,
        suggestion: `${name}:${value}`,
      });
    return { text: token, kind: 'modifier', qualifier: '+', name, value };
  }
  const m = /^([-~?+]?)([A-Za-z][A-Za-z0-9]*)(?::([^/]*))?((?:\/\/?\d+)*)$/.exec(token);
  const qualifier = (m?.[1] || '+') as SpfQualifier;
  const name = (m?.[2] ?? '').toLowerCase();
  if (!m || !MECHANISMS.has(name)) {
    const hint = /^[^-~?+A-Za-z]/.test(token)
      ? 'a qualifier is one of + - ~ ?'
      : `known mechanisms: ${[...MECHANISMS].join(', ')}`;
    problems.push({ token, message: `"${token}" is not a valid mechanism (${hint})`, ...suggestFor(token) });
    return undefined;
  }
  const value = m[3] ?? '';
  const cidr = m[4] ?? '';
  const term: SpfTerm = { text: token, kind: 'mechanism', qualifier, name, value };
  const needsValue = name === 'include' || name === 'exists' || name === 'ip4' || name === 'ip6';
  if (needsValue && m[3] === undefined)
    problems.push({
      token,
      message: `"${name}" needs a value: ${name}:${name.startsWith('ip') ? 'address' : 'domain'}`,
    });
  else if (name === 'all' && (m[3] !== undefined || cidr)) problems.push({ token, message: '"all" takes no value' });
  else if (name === 'ip4' && !(isIPv4(value) && validCidr(cidr, 32)))
    problems.push({ token, message: `"${value}${cidr}" is not an IPv4 address or network` });
  else if (name === 'ip6' && !(isIPv6(value) && validCidr(cidr, 128)))
    problems.push({ token, message: `"${value}${cidr}" is not an IPv6 address or network` });
  else if (
    (name === 'include' ||
      name === 'exists' ||
      ((name === 'a' || name === 'mx' || name === 'ptr') && m[3] !== undefined)) &&
    !validDomainSpec(value)
  ) {
    problems.push({ token, message: `"${value}" is not a domain name` });
  } else if ((name === 'a' || name === 'mx') && cidr && !/^(?:\/\d{1,2})?(?:\/\/\d{1,3})?$/.test(cidr))
    problems.push({ token, message: `"${cidr}" is not a CIDR length` });
  return term;
}

function suggestFor(token: string): { suggestion?: string } {
  const m = /^([-~?+]?)(ipv?4|ipv6|ip)[:=]?(.*)$/i.exec(token);
  if (m) return { suggestion: `${m[1]}${isIPv6(m[3]!.split('/')[0]!) ? 'ip6' : 'ip4'}:${m[3]}` };
  const inc = /^([-~?+]?)includes?[=](.*)$/i.exec(token);
  if (inc) return { suggestion: `${inc[1]}include:${inc[2]}` };
  return {};
}

function validCidr(cidr: string, max: number): boolean {
  if (cidr === '') return true;
  const m = /^\/(\d{1,3})$/.exec(cidr);
  return !!m && Number(m[1]) <= max;
}

/** A domain-spec (§7.1): a domain name, possibly with macros; the last label must not be numeric. */
function validDomainSpec(value: string): boolean {
  if (value.includes('%')) return /^(?:[^%\s]|%\{[slodiphcrtv]\d*r?[-.+,/_=]*\}|%%|%_|%-)+$/i.test(value);
  const name = value.replace(/\.$/, '');
  return /^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(
    name,
  );
}
