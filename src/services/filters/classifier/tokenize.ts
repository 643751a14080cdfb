/**
 * The features the classifier sees of a message, as hashed integers:
 * - the words of its decoded text (subject, text/plain and text/html parts, transfer encoding and
 *   charset decoded, tags dropped), each word alone and paired with each of the next four as
 *   orthogonal sparse bigrams (OSB, as rspamd and CRM114: the pair and its distance);
 * - how it was made, as SpamAssassin's Bayes tokenizer reads it: the header fields present, the
 *   words of the fields that say who sent it and with what, the shape of its Message-ID, each part's
 *   type, charset and encoding, the tags of its HTML and the hosts its links and images point to.
 * A pair is hashed from its words' hashes, not from a string, so a message costs one hash per word.
 */
import { headerValue, type HeaderField } from '../../../mail/mime/headers.js';
import { parseMessage, singleMailbox, type BodyPart } from '../../../mail/mime/structure.js';
import { decodeBody, decodeWords, htmlToText } from '../../../mail/mime/text.js';

/** Words read per message: enough to know it, bounded for a message of megabytes of text. */
export const MAX_WORDS = 3000;
/** OSB window: each word is paired with the next WINDOW - 1 words. */
const WINDOW = 5;
const MAX_WORD = 24;
/** Bytes of a text part read for words and tags. */
const MAX_PART_TEXT = 256 * 1024;
/** Leaf parts looked at. */
const MAX_PARTS = 50;

/** Header fields whose words are features (prefixed with the field name). */
const HEADER_WORDS = new Set([
  'from',
  'reply-to',
  'to',
  'cc',
  'x-mailer',
  'user-agent',
  'content-type',
  'list-id',
  'return-path',
  'sender',
  'organization',
  'x-priority',
  'importance',
]);

/** A 53-bit hash of a string (cyrb53), exact as a JavaScript number and as a SQLite INTEGER. */
export function featureHash(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  return finish(h1, h2);
}

/** The hash of the pair (a, distance, b), from the 53-bit hashes of a and b. */
export function pairHash(a: number, distance: number, b: number): number {
  const aLo = a >>> 0;
  const aHi = Math.floor(a / 4294967296);
  let h1 = Math.imul(aLo ^ 0x9e3779b9, 2654435761) ^ Math.imul((b >>> 0) ^ distance, 1597334677);
  let h2 = Math.imul(aHi ^ 0x85ebca6b, 1597334677) ^ Math.imul(Math.floor(b / 4294967296) + distance, 2654435761);
  h1 = Math.imul(h1 ^ (h1 >>> 15), 2246822507);
  h2 = Math.imul(h2 ^ (h2 >>> 15), 3266489909);
  return finish(h1, h2);
}

function finish(h1: number, h2: number): number {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The words of a text: runs of letters and digits (Unicode's L and N), with ' $ € £ . _ - inside
 * them, lower case, the trailing . _ ' - dropped; a long run stands for its length class. Scanned
 * code by code (ASCII decided by a table, the rest by the Unicode regex): the tokenizer's hot loop.
 */
export function words(text: string, max = MAX_WORDS): string[] {
  const out: string[] = [];
  const lower = text.toLowerCase();
  const n = lower.length;
  let i = 0;
  while (i < n && out.length < max) {
    // The start of a word: a letter or digit.
    let step = charKind(lower, i);
    if (step.kind !== WORD) {
      i += step.width;
      continue;
    }
    if (isIdeographic(lower.charCodeAt(i))) {
      i = ideographPairs(lower, i, out, max);
      continue;
    }
    const start = i;
    let end = i + step.width; // after the last letter, digit or currency sign
    i = end;
    while (i < n) {
      step = charKind(lower, i);
      if (step.kind === OTHER || isIdeographic(lower.charCodeAt(i))) break;
      i += step.width;
      if (step.kind !== TRAILING) end = i;
    }
    if (end - start < 2) continue;
    let w = lower.slice(start, end);
    if (w.length > MAX_WORD) w = `long:${w.slice(0, 3)}:${Math.min(8, Math.floor(w.length / 8))}`;
    out.push(w);
  }
  return out;
}

/** Chinese characters and Japanese kana (of the Basic Multilingual Plane), written without spaces between words. */
function isIdeographic(c: number): boolean {
  return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff);
}

/**
 * A run of Chinese or Japanese characters as words: each character with the next (overlapping
 * pairs, as search engines cut such text, since where its words end is not written), a lone
 * character alone. Returns where the run ends.
 */
function ideographPairs(text: string, i: number, out: string[], max: number): number {
  const start = i;
  while (i < text.length && isIdeographic(text.charCodeAt(i))) i++;
  if (i - start === 1) out.push(text[start]!);
  for (let k = start; k + 1 < i && out.length < max; k++) out.push(text.slice(k, k + 2));
  return i;
}

/** A letter or digit; a sign kept inside and at the end of a word ($ € £); one kept only inside (' . _ -); anything else. */
const WORD = 0;
const SIGN = 1;
const TRAILING = 2;
const OTHER = 3;
const ASCII_KIND = new Uint8Array(128).fill(OTHER);
for (let c = 0; c < 128; c++) if (/[a-z0-9]/i.test(String.fromCharCode(c))) ASCII_KIND[c] = WORD;
ASCII_KIND['$'.charCodeAt(0)] = SIGN;
for (const c of "'._-") ASCII_KIND[c.charCodeAt(0)] = TRAILING;
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;
const step = { kind: OTHER, width: 1 };

/** The kind of the character at `i` and its width in UTF-16 code units (one shared object: read it at once). */
function charKind(text: string, i: number): { kind: number; width: number } {
  const c = text.charCodeAt(i);
  if (c < 128) {
    step.kind = ASCII_KIND[c]!;
    step.width = 1;
    return step;
  }
  const cp = text.codePointAt(i)!;
  step.width = cp > 0xffff ? 2 : 1;
  step.kind = c === 0x20ac || c === 0xa3 ? SIGN : LETTER_OR_DIGIT.test(String.fromCodePoint(cp)) ? WORD : OTHER;
  return step;
}

/** What a message gives: single features as text, and the body's words in order (for the pairs). */
interface Parts {
  singles: string[];
  body: string[];
}

/**
 * The distinct features of a message as hashes (a feature counts once per message). Words are
 * numbered by first appearance so that a pair seen again is known by a small integer, and only
 * distinct pairs are hashed: mail repeats itself, and this is the tokenizer's hot loop.
 */
export function features(message: Buffer): number[] {
  const { singles, body } = read(message);
  const out = new Set<number>();
  for (const s of singles) out.add(featureHash(s));
  const ids = new Map<string, number>();
  const hashes: number[] = [];
  const seq = body.map((w) => {
    let id = ids.get(w);
    if (id === undefined) {
      ids.set(w, (id = hashes.length));
      hashes.push(featureHash(w));
    }
    return id;
  });
  for (const h of hashes) out.add(h);
  const n = hashes.length;
  const pairs = pairSet(seq.length * (WINDOW - 1));
  for (let i = 0; i < seq.length; i++) {
    const a = seq[i]!;
    for (let k = 1; k < WINDOW && i + k < seq.length; k++) {
      const b = seq[i + k]!;
      // Below 3,000 × 5 × 3,000, plus one: a small positive integer.
      if (pairs.add((a * WINDOW + k) * n + b + 1)) out.add(pairHash(hashes[a]!, k, hashes[b]!));
    }
  }
  return [...out];
}

/**
 * A set of small positive integers for one message's pairs: open addressing over an Int32Array at
 * most half full, several times faster than a Set here. `add` tells whether the key is new.
 */
function pairSet(capacity: number): { add(key: number): boolean } {
  let size = 64;
  while (size < capacity * 2) size *= 2;
  const slots = new Int32Array(size);
  const mask = size - 1;
  return {
    add(key: number): boolean {
      let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
      for (;;) {
        const at = slots[i]!;
        if (at === key) return false;
        if (at === 0) {
          slots[i] = key;
          return true;
        }
        i = (i + 1) & mask;
      }
    },
  };
}

/** The single features and body words as text, for tests and for reading what a message gave. */
export function featureStrings(message: Buffer): string[] {
  const { singles, body } = read(message);
  return [...singles, ...body];
}

function read(message: Buffer): Parts {
  const parsed = parseMessage(message);
  const singles = headerFeatures(parsed.headers);
  const texts: string[] = [decodeWords(headerValue(parsed.headers, 'subject') ?? '')];
  const leaves: BodyPart[] = [];
  const walk = (part: BodyPart) => {
    if (leaves.length >= MAX_PARTS) return;
    if (part.children.length) part.children.forEach(walk);
    else leaves.push(part);
  };
  walk(parsed.structure);
  const hosts = new Set<string>();
  for (const part of leaves) {
    const type = `${part.type}/${part.subtype}`;
    singles.push(`part:${type}`, `enc:${type}:${part.encoding}`);
    if (part.params.charset) singles.push(`charset:${part.params.charset.toLowerCase()}`);
    const name = part.disposition?.params.filename ?? part.params.name;
    if (name) singles.push(`ext:${/\.([a-z0-9]{1,8})$/i.exec(name)?.[1]?.toLowerCase() ?? 'none'}`);
    if (part.type !== 'text' || part.disposition?.type === 'attachment') continue;
    const raw = message.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + MAX_PART_TEXT));
    const text = decodeBody(raw, part.encoding, part.params.charset ?? 'us-ascii');
    if (part.subtype === 'html') {
      singles.push(...htmlFeatures(text, hosts));
      texts.push(htmlToText(text));
    } else {
      for (const h of linkDomains(text)) hosts.add(h);
      texts.push(text);
    }
  }
  for (const h of hosts) singles.push(`url:${h}`);
  return { singles, body: words(texts.join('\n')) };
}

function headerFeatures(head: HeaderField[]): string[] {
  const out: string[] = [];
  const from = singleMailbox(decodeWords(headerValue(head, 'from') ?? ''));
  const domain = from?.split('@')[1]?.toLowerCase();
  out.push(domain ? `from:${domain}` : 'from:none');
  if (domain) out.push(`fromtld:${domain.slice(domain.lastIndexOf('.') + 1)}`);
  const subject = decodeWords(headerValue(head, 'subject') ?? '');
  for (const w of words(subject, 50)) out.push(`subj:${w}`);
  if (/[A-Z]{4,}/.test(subject) && subject === subject.toUpperCase()) out.push('subj:ALLCAPS');
  // Which fields are there at all (a mailer's fingerprint), and which of the usual ones are not.
  const names = new Set(head.slice(0, 100).map((f) => f.key));
  for (const name of names) out.push(`has:${name}`);
  for (const name of ['message-id', 'date', 'mime-version', 'to']) if (!names.has(name)) out.push(`no:${name}`);
  const type = (headerValue(head, 'content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
  out.push(`ctype:${type}`);
  const mid = headerValue(head, 'message-id');
  if (mid) out.push(`mid:${messageIdShape(mid)}`);
  // The words of the fields that say who sent it and how; not Received, Date or Message-ID, which are unique.
  for (const f of head.slice(0, 100)) {
    if (!HEADER_WORDS.has(f.key)) continue;
    for (const w of words(decodeWords(f.value), 30)) out.push(`h:${f.key}:${w}`);
  }
  return out;
}

/** A Message-ID's local part as character classes and its domain: "<A1B2.c3@host.example>" → "A9A9.a9@host.example". */
function messageIdShape(mid: string): string {
  const m = /<?([^@>]*)@?([^>]*)>?/.exec(mid.trim());
  const local = (m?.[1] ?? '')
    .slice(0, 40)
    .replace(/[a-z]+/g, 'a')
    .replace(/[A-Z]+/g, 'A')
    .replace(/[0-9]+/g, '9');
  return `${local}@${(m?.[2] ?? '').toLowerCase().slice(0, 60)}`;
}

/** The tags an HTML part uses, some telling attributes, and the hosts its links and images point to. */
function htmlFeatures(html: string, hosts: Set<string>): string[] {
  const out = new Set<string>();
  let tags = 0;
  for (const m of html.matchAll(/<([a-z][a-z0-9]{0,9})\b([^>]{0,500})/gi)) {
    if (++tags > 2000) break;
    const tag = m[1]!.toLowerCase();
    out.add(`tag:${tag}`);
    const attrs = m[2]!.toLowerCase();
    for (const a of attrs.matchAll(/\b(bgcolor|color|size|face|align|width|height|border|style|src|href|alt)\s*=/g))
      out.add(`attr:${tag}:${a[1]}`);
  }
  for (const h of linkDomains(html)) hosts.add(h);
  return [...out];
}

/** The host names of http(s) links in a text, lower case, without "www.". */
export function linkDomains(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/https?:\/\/([A-Za-z0-9.-]{1,253})/gi)) {
    out.add(
      m[1]!
        .toLowerCase()
        .replace(/^www\./, '')
        .replace(/\.$/, ''),
    );
    if (out.size >= 50) break;
  }
  return [...out];
}
