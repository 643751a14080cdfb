/**
 * The features the classifier sees of a message, as hashed integers: the words of its decoded text
 * (subject and text/plain and text/html parts, transfer encoding and charset decoded, tags dropped),
 * each word alone and paired with each of the next four as orthogonal sparse bigrams (OSB, as
 * rspamd and CRM114: the pair and its distance), plus a few header facts — the From domain, the
 * Subject's words, whether some header fields are present, the domains of the links in the body.
 */
import { headerValue, type HeaderField } from '../../../mail/mime/headers.js';
import { parseMessage, singleMailbox } from '../../../mail/mime/structure.js';
import { decodeWords, searchText } from '../../../mail/mime/text.js';

/** Words read per message: enough to know it, bounded for a message of megabytes of text. */
export const MAX_WORDS = 3000;
/** OSB window: each word is paired with the next WINDOW - 1 words. */
const WINDOW = 5;
const MAX_WORD = 24;

/** Header fields whose presence (or absence) says something of how a message was made. */
const PRESENCE = [
  'list-unsubscribe',
  'list-id',
  'x-mailer',
  'user-agent',
  'in-reply-to',
  'references',
  'mime-version',
  'organization',
  'x-priority',
  'precedence',
  'reply-to',
  'message-id',
  'date',
];

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
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The words of a text: letters and digits, lower case; a long run stands for its length class. */
export function words(text: string, max = MAX_WORDS): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}][\p{L}\p{N}'$€£._-]*/gu)) {
    let w = m[0].replace(/[._'-]+$/, '');
    if (w.length < 2) continue;
    if (w.length > MAX_WORD) w = `long:${w.slice(0, 3)}:${Math.min(8, Math.floor(w.length / 8))}`;
    out.push(w);
    if (out.length >= max) break;
  }
  return out;
}

/** The distinct features of a message as hashes (a feature counts once per message). */
export function features(message: Buffer): number[] {
  return [...new Set(featureStrings(message).map(featureHash))];
}

/** The features as text, for tests and for reading what a message gave. */
export function featureStrings(message: Buffer): string[] {
  const parsed = parseMessage(message);
  const text = searchText(message, parsed);
  const out = headerFeatures(parsed.headers, text.subject);
  const body = words(text.body);
  for (let i = 0; i < body.length; i++) {
    out.push(body[i]!);
    for (let k = 1; k < WINDOW && i + k < body.length; k++) out.push(`${body[i]}\u0001${k}\u0001${body[i + k]}`);
  }
  for (const d of linkDomains(text.body)) out.push(`url:${d}`);
  return out;
}

function headerFeatures(head: HeaderField[], subject: string): string[] {
  const out: string[] = [];
  const from = singleMailbox(decodeWords(headerValue(head, 'from') ?? ''));
  const domain = from?.split('@')[1]?.toLowerCase();
  out.push(domain ? `from:${domain}` : 'from:none');
  if (domain) out.push(`fromtld:${domain.slice(domain.lastIndexOf('.') + 1)}`);
  for (const w of words(subject, 50)) out.push(`subj:${w}`);
  if (/[A-Z]{4,}/.test(subject) && subject === subject.toUpperCase()) out.push('subj:ALLCAPS');
  for (const name of PRESENCE) out.push(`${headerValue(head, name) === undefined ? 'no' : 'has'}:${name}`);
  const type = (headerValue(head, 'content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
  out.push(`ctype:${type}`);
  // The words of the fields that say who sent it and how; not Received, Date or Message-ID, which are unique.
  for (const f of head) {
    if (!HEADER_WORDS.has(f.key)) continue;
    for (const w of words(decodeWords(f.value), 30)) out.push(`h:${f.key}:${w}`);
  }
  return out;
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
