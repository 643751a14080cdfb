/**
 * Sieve (RFC 5228) checking: the parsed script's `require`s, commands, tests, tagged and positional
 * arguments are checked against the extensions Postern implements, so a script is refused when it is
 * stored, with the line of its first error, rather than failing at delivery.
 */
import { parseScript, SieveError, type Arg, type Command, type Test } from './parse.js';
import { DATE_PARTS, parseZone } from './dates.js';

export { SieveError } from './parse.js';

/** RFC 5804 §1.7 SIEVE capability: what `require` accepts. */
export const SIEVE_EXTENSIONS = [
  'fileinto',
  'reject',
  'ereject',
  'envelope',
  'encoded-character',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
  'comparator-i;ascii-numeric',
  'imap4flags',
  'copy',
  'vacation',
  'subaddress',
  'relational',
  'body',
  'variables',
  'mailbox',
  'spamtest',
  'spamtestplus',
  'virustest',
  'date',
] as const;

export interface CompiledScript {
  commands: Command[];
  /** The capabilities the script requires (RFC 5228 §3.2); "spamtestplus" brings "spamtest". */
  requires: Set<string>;
  /** The script can send mail elsewhere: delivery ARC-seals what such a script may redirect. */
  usesRedirect: boolean;
}

export type { Arg, Command, Test };

export function compileScript(text: string): CompiledScript {
  const commands = parseScript(text);
  const requires = new Set<string>();
  const state = { usesRedirect: false, requires };
  checkBlock(commands, state, true);
  return { commands, requires, usesRedirect: state.usesRedirect };
}

type ArgType = 'string' | 'strings' | 'number';
type TagSpec = true | ArgType;

interface Spec {
  /** Capability needed (RFC 5228 §3.2: using an extension without `require` is an error). */
  ext?: string;
  tags?: Record<string, TagSpec>;
  /** Tags needing a capability of their own. */
  tagExt?: Record<string, string>;
  /** Groups of tags of which at most one may be given. */
  exclusive?: string[][];
  positional: ArgType[];
  /** Leading positional arguments that may be left out (hasflag's variable list, setflag's variable name). */
  optional?: number;
  tests?: 'none' | 'one' | 'list';
}

const COMPARATOR = { comparator: 'string' } as const;
const MATCH = { is: true, contains: true, matches: true, value: 'string', count: 'string' } as const;
const MATCH_EXT = { value: 'relational', count: 'relational' };
const MATCH_GROUP = ['is', 'contains', 'matches', 'value', 'count'];
const ADDRESS_PART = { all: true, localpart: true, domain: true, user: true, detail: true } as const;
const ADDRESS_PART_EXT = { user: 'subaddress', detail: 'subaddress' };
const ADDRESS_GROUP = ['all', 'localpart', 'domain', 'user', 'detail'];

const COMMANDS: Record<string, Spec> = {
  // RFC 5228 §4
  keep: { positional: [], tags: { flags: 'strings' }, tagExt: { flags: 'imap4flags' } },
  discard: { positional: [] },
  stop: { positional: [] },
  redirect: { positional: ['string'], tags: { copy: true }, tagExt: { copy: 'copy' } },
  fileinto: {
    ext: 'fileinto',
    positional: ['string'],
    tags: { copy: true, flags: 'strings', create: true },
    tagExt: { copy: 'copy', flags: 'imap4flags', create: 'mailbox' },
  },
  // RFC 5429
  reject: { ext: 'reject', positional: ['string'] },
  ereject: { ext: 'ereject', positional: ['string'] },
  // RFC 5230 §4
  vacation: {
    ext: 'vacation',
    positional: ['string'],
    tags: { days: 'number', subject: 'string', from: 'string', addresses: 'strings', mime: true, handle: 'string' },
  },
  // RFC 5232 §3
  setflag: { ext: 'imap4flags', positional: ['string', 'strings'], optional: 1 },
  addflag: { ext: 'imap4flags', positional: ['string', 'strings'], optional: 1 },
  removeflag: { ext: 'imap4flags', positional: ['string', 'strings'], optional: 1 },
  // RFC 5229 §4
  set: {
    ext: 'variables',
    positional: ['string', 'string'],
    tags: { lower: true, upper: true, lowerfirst: true, upperfirst: true, quotewildcard: true, length: true },
    exclusive: [
      ['lower', 'upper'],
      ['lowerfirst', 'upperfirst'],
    ],
  },
};

const TESTS: Record<string, Spec> = {
  // RFC 5228 §5
  address: {
    positional: ['strings', 'strings'],
    tags: { ...COMPARATOR, ...MATCH, ...ADDRESS_PART },
    tagExt: { ...MATCH_EXT, ...ADDRESS_PART_EXT },
    exclusive: [MATCH_GROUP, ADDRESS_GROUP],
  },
  envelope: {
    ext: 'envelope',
    positional: ['strings', 'strings'],
    tags: { ...COMPARATOR, ...MATCH, ...ADDRESS_PART },
    tagExt: { ...MATCH_EXT, ...ADDRESS_PART_EXT },
    exclusive: [MATCH_GROUP, ADDRESS_GROUP],
  },
  header: {
    positional: ['strings', 'strings'],
    tags: { ...COMPARATOR, ...MATCH },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP],
  },
  exists: { positional: ['strings'] },
  size: { positional: [], tags: { over: 'number', under: 'number' }, exclusive: [['over', 'under']] },
  true: { positional: [] },
  false: { positional: [] },
  not: { positional: [], tests: 'one' },
  allof: { positional: [], tests: 'list' },
  anyof: { positional: [], tests: 'list' },
  // RFC 5173 §4
  body: {
    ext: 'body',
    positional: ['strings'],
    tags: { ...COMPARATOR, ...MATCH, raw: true, content: 'strings', text: true },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP, ['raw', 'content', 'text']],
  },
  // RFC 5229 §5
  string: {
    ext: 'variables',
    positional: ['strings', 'strings'],
    tags: { ...COMPARATOR, ...MATCH },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP],
  },
  // RFC 5232 §4
  hasflag: {
    ext: 'imap4flags',
    positional: ['strings', 'strings'],
    optional: 1,
    tags: { ...COMPARATOR, ...MATCH },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP],
  },
  // RFC 5490 §3.1
  mailboxexists: { ext: 'mailbox', positional: ['strings'] },
  // RFC 5235 §3.1, §3.2 (:percent needs spamtestplus), §3.3
  spamtest: {
    ext: 'spamtest',
    positional: ['string'],
    tags: { percent: true, ...COMPARATOR, ...MATCH },
    tagExt: { percent: 'spamtestplus', ...MATCH_EXT },
    exclusive: [MATCH_GROUP],
  },
  // RFC 5260 §4, §5
  date: {
    ext: 'date',
    positional: ['string', 'string', 'strings'],
    tags: { zone: 'string', originalzone: true, ...COMPARATOR, ...MATCH },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP, ['zone', 'originalzone']],
  },
  currentdate: {
    ext: 'date',
    positional: ['string', 'strings'],
    tags: { zone: 'string', ...COMPARATOR, ...MATCH },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP],
  },
  virustest: {
    ext: 'virustest',
    positional: ['string'],
    tags: { ...COMPARATOR, ...MATCH },
    tagExt: MATCH_EXT,
    exclusive: [MATCH_GROUP],
  },
};

/** RFC 5231 §4: the relational operators. */
export const RELATIONS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];
const COMPARATORS: Record<string, string | undefined> = {
  'i;octet': undefined,
  'i;ascii-casemap': undefined,
  'i;ascii-numeric': 'comparator-i;ascii-numeric',
};

/** Tagged and positional arguments of a command or test after checking. */
export interface Normalized {
  tags: Map<string, true | string | number | string[]>;
  positional: Array<string | number | string[]>;
}

const normalized = new WeakMap<Test, Normalized>();

/** The checked arguments of a command or test of a compiled script. */
export function argsOf(node: Test): Normalized {
  const n = normalized.get(node);
  if (!n) throw new Error(`sieve: ${node.name} was not compiled`);
  return n;
}

interface State {
  requires: Set<string>;
  usesRedirect: boolean;
}

function checkBlock(commands: Command[], state: State, topLevel: boolean): void {
  let mayRequire = topLevel;
  let previous: string | undefined;
  for (const c of commands) {
    if (c.name === 'require') {
      // RFC 5228 §3.2: require only at the start of the script.
      if (!mayRequire) throw new SieveError(c.line, 'require must come before any other command');
      if (
        c.block ||
        c.tests.length ||
        c.args.length !== 1 ||
        (c.args[0]!.kind !== 'string' && c.args[0]!.kind !== 'strings')
      ) {
        throw new SieveError(c.line, 'require takes one string list of capability names');
      }
      const names =
        c.args[0]!.kind === 'string' ? [c.args[0]!.value] : (c.args[0] as Extract<Arg, { kind: 'strings' }>).values;
      for (const name of names) {
        if (!(SIEVE_EXTENSIONS as readonly string[]).includes(name))
          throw new SieveError(c.line, `unsupported extension "${name}"`);
        state.requires.add(name);
        // RFC 5235 §3.2: "spamtestplus" implies "spamtest".
        if (name === 'spamtestplus') state.requires.add('spamtest');
      }
      previous = c.name;
      continue;
    }
    mayRequire = false;
    if (c.name === 'if' || c.name === 'elsif' || c.name === 'else') {
      if (c.name !== 'if' && previous !== 'if' && previous !== 'elsif')
        throw new SieveError(c.line, `${c.name} without a preceding if`);
      if (!c.block) throw new SieveError(c.line, `${c.name} needs a block`);
      if (c.args.length) throw new SieveError(c.line, `${c.name} takes no arguments`);
      if (c.name === 'else' ? c.tests.length !== 0 : c.tests.length !== 1)
        throw new SieveError(c.line, c.name === 'else' ? 'else takes no test' : `${c.name} needs exactly one test`);
      for (const t of c.tests) checkTest(t, state);
      checkBlock(c.block, state, false);
      previous = c.name;
      continue;
    }
    const spec = COMMANDS[c.name];
    if (!spec) throw new SieveError(c.line, `unknown command "${c.name}"`);
    if (c.block) throw new SieveError(c.line, `${c.name} takes no block`);
    if (c.tests.length)
      throw new SieveError(
        c.tests[0]!.line,
        `unexpected "${c.tests[0]!.name}" after the arguments of ${c.name} (missing ";"?)`,
      );
    if (c.name === 'redirect') state.usesRedirect = true;
    checkArgs(c, spec, state, 'command');
    previous = c.name;
  }
}

function checkTest(t: Test, state: State): void {
  const spec = TESTS[t.name];
  if (!spec) throw new SieveError(t.line, `unknown test "${t.name}"`);
  const want = spec.tests ?? 'none';
  if (want === 'none' && t.tests.length) throw new SieveError(t.line, `${t.name} takes no test`);
  if (want === 'one' && t.tests.length !== 1) throw new SieveError(t.line, `${t.name} needs exactly one test`);
  if (want === 'list' && t.tests.length === 0) throw new SieveError(t.line, `${t.name} needs a list of tests`);
  for (const sub of t.tests) checkTest(sub, state);
  checkArgs(t, spec, state, 'test');
  if (t.name === 'size' && !argsOf(t).tags.has('over') && !argsOf(t).tags.has('under'))
    throw new SieveError(t.line, 'size needs :over or :under');
}

function checkArgs(node: Test, spec: Spec, state: State, what: 'command' | 'test'): void {
  if (spec.ext && !state.requires.has(spec.ext))
    throw new SieveError(node.line, `${what} "${node.name}" needs require "${spec.ext}"`);
  const tags = new Map<string, true | string | number | string[]>();
  const positional: Array<string | number | string[]> = [];
  const args = node.args;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a.kind !== 'tag') break;
    const tagSpec = spec.tags?.[a.name];
    if (tagSpec === undefined) throw new SieveError(a.line, `${node.name} has no tag :${a.name}`);
    const ext = spec.tagExt?.[a.name];
    if (ext && !state.requires.has(ext)) throw new SieveError(a.line, `:${a.name} needs require "${ext}"`);
    if (tags.has(a.name)) throw new SieveError(a.line, `:${a.name} given twice`);
    if (tagSpec === true) {
      tags.set(a.name, true);
      continue;
    }
    const value = args[++i];
    if (!value || value.kind === 'tag')
      throw new SieveError(a.line, `:${a.name} needs a ${tagSpec === 'number' ? 'number' : 'string'} argument`);
    tags.set(a.name, argValue(value, tagSpec, `:${a.name}`));
  }
  for (const group of spec.exclusive ?? []) {
    const given = group.filter((g) => tags.has(g));
    if (given.length > 1)
      throw new SieveError(node.line, `${node.name}: :${given[0]} and :${given[1]} cannot be used together`);
  }
  const rest = args.slice(i);
  const tagAfter = rest.find((a) => a.kind === 'tag');
  if (tagAfter)
    throw new SieveError(
      tagAfter.line,
      `tag :${(tagAfter as { name: string }).name} must come before the positional arguments of ${node.name}`,
    );
  const min = spec.positional.length - (spec.optional ?? 0);
  if (rest.length < min || rest.length > spec.positional.length) {
    throw new SieveError(
      node.line,
      `${node.name} takes ${min === spec.positional.length ? min : `${min} or ${spec.positional.length}`} argument${spec.positional.length === 1 ? '' : 's'} besides tags`,
    );
  }
  const types = spec.positional.slice(spec.positional.length - rest.length);
  rest.forEach((a, k) => positional.push(argValue(a, types[k]!, `argument ${k + 1} of ${node.name}`)));
  if (state.requires.has('encoded-character')) decodeEncoded(tags, positional, node.line);
  checkValues(node, tags, positional, state);
  normalized.set(node, { tags, positional });
}

function argValue(a: Arg, type: ArgType, what: string): string | number | string[] {
  if (type === 'number') {
    if (a.kind !== 'number') throw new SieveError(a.line, `${what} must be a number`);
    return a.value;
  }
  if (type === 'string') {
    if (a.kind !== 'string') throw new SieveError(a.line, `${what} must be a string`);
    return a.value;
  }
  if (a.kind === 'string') return [a.value];
  if (a.kind !== 'strings') throw new SieveError(a.line, `${what} must be a string list`);
  return a.values;
}

function checkValues(node: Test, tags: Normalized['tags'], positional: Normalized['positional'], state: State): void {
  const comparator = tags.get('comparator');
  if (typeof comparator === 'string') {
    if (!(comparator in COMPARATORS)) throw new SieveError(node.line, `unknown comparator "${comparator}"`);
    const ext = COMPARATORS[comparator];
    if (ext && !state.requires.has(ext))
      throw new SieveError(node.line, `comparator "${comparator}" needs require "${ext}"`);
  }
  for (const rel of ['value', 'count']) {
    const r = tags.get(rel);
    if (typeof r === 'string' && !RELATIONS.includes(r.toLowerCase()))
      throw new SieveError(node.line, `unknown relation "${r}"; use one of ${RELATIONS.join(', ')}`);
  }
  if (node.name === 'date' || node.name === 'currentdate') checkDateArgs(node, tags, positional, state);
  if (node.name === 'header' || node.name === 'address' || node.name === 'exists') {
    for (const h of positional[0] as string[]) {
      if (!state.requires.has('variables') || !h.includes('${')) {
        // RFC 5228 §2.4.2.2: header names are printable characters other than ":".
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(h)) throw new SieveError(node.line, `invalid header name "${h}"`);
      }
    }
  }
  if (node.name === 'envelope') {
    for (const part of positional[0] as string[]) {
      if (!['from', 'to', 'auth'].includes(part.toLowerCase()))
        throw new SieveError(node.line, `envelope part "${part}" is not from, to or auth`);
    }
  }
  if (node.name === 'set' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(positional[0] as string))
    throw new SieveError(node.line, `invalid variable name "${String(positional[0])}"`);
  if (node.name === 'vacation') {
    const from = tags.get('from');
    if (typeof from === 'string' && !from.includes('${') && !/@/.test(from))
      throw new SieveError(node.line, `vacation :from "${from}" is not an address`);
  }
}

/** RFC 5228 §2.4.2.4: ${hex:…} and ${unicode:…} in strings, when "encoded-character" is required. */
function decodeEncoded(tags: Normalized['tags'], positional: Normalized['positional'], line: number): void {
  const decode = (s: string): string =>
    s.replace(/\$\{(hex|unicode):([\s0-9A-Fa-f]*)\}/gi, (whole, kind: string, digits: string) => {
      const units = digits.trim().split(/\s+/).filter(Boolean);
      if (kind.toLowerCase() === 'hex') return Buffer.from(units.map((u) => parseInt(u, 16))).toString('utf8');
      return units
        .map((u) => {
          const cp = parseInt(u, 16);
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            throw new SieveError(line, `invalid Unicode character ${u} in ${whole}`);
          return String.fromCodePoint(cp);
        })
        .join('');
    });
  const map = (v: true | string | number | string[]) =>
    typeof v === 'string' ? decode(v) : Array.isArray(v) ? v.map(decode) : v;
  for (const [k, v] of tags) tags.set(k, map(v));
  positional.forEach((v, k) => (positional[k] = map(v) as string | number | string[]));
}

/** RFC 5260 §4.1, §4.2: a zone is "+hhmm" or "-hhmm", a date-part one of DATE_PARTS (unless made by variables). */
function checkDateArgs(node: Test, tags: Normalized['tags'], positional: Normalized['positional'], state: State): void {
  const literal = (v: string) => !state.requires.has('variables') || !v.includes('${');
  const zone = tags.get('zone');
  if (typeof zone === 'string' && literal(zone) && parseZone(zone) === undefined)
    throw new SieveError(node.line, `invalid time zone "${zone}": use +hhmm or -hhmm`);
  const part = positional[node.name === 'date' ? 1 : 0] as string;
  if (literal(part) && !(DATE_PARTS as readonly string[]).includes(part.toLowerCase()))
    throw new SieveError(node.line, `unknown date-part "${part}"; use one of ${DATE_PARTS.join(', ')}`);
}
