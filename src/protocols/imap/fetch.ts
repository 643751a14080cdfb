/**
 * FETCH (RFC 9051 §6.4.5, §7.5.2): data items parsed from tokens, answered from the structure stored
 * at delivery (ENVELOPE, BODYSTRUCTURE never re-parse), sections cut by byte offsets, BINARY decoded.
 */
import { decode as decodeQp } from 'libqp';
import { envelopeFields, type EnvelopeField } from '../../mail/mime/imap-envelope.js';
import type { BodyPart, Envelope } from '../../mail/mime/structure.js';
import { atom, Concat, Literal, type Value } from './respond.js';
import { ImapSyntaxError, type Token } from './wire.js';

export interface SectionSpec {
  path: number[];
  /** '' (the part's body / whole message), HEADER, TEXT, MIME, HEADER.FIELDS, HEADER.FIELDS.NOT */
  kind: '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';
  fields: string[];
}

export type FetchItem =
  | { kind: 'FLAGS' | 'UID' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'MODSEQ' }
  | { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'BODY[]'; name: string; peek: boolean; section: SectionSpec; partial?: [number, number] | undefined }
  | { kind: 'BINARY[]'; name: string; peek: boolean; section: SectionSpec; partial?: [number, number] | undefined }
  | { kind: 'BINARY.SIZE'; name: string; section: SectionSpec };

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE = new Set([
  'FLAGS',
  'UID',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'MODSEQ',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
]);

export function parseFetchItems(t: Token | undefined): FetchItem[] {
  if (!t) throw new ImapSyntaxError('missing fetch items');
  if (t.type === 'atom' && MACROS[t.value.toUpperCase()])
    return MACROS[t.value.toUpperCase()]!.map((k) => ({ kind: k }) as FetchItem);
  const list = t.type === 'list' ? t.items : [t];
  if (list.length === 0) throw new ImapSyntaxError('empty fetch item list');
  return list.map((item) => {
    if (item.type !== 'atom') throw new ImapSyntaxError('invalid fetch item');
    return parseItem(item.value);
  });
}

function parseItem(raw: string): FetchItem {
  const upper = raw.toUpperCase();
  if (SIMPLE.has(upper)) return { kind: upper } as FetchItem;
  const m = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$/i.exec(raw);
  if (!m) throw new ImapSyntaxError(`unknown fetch item ${raw.slice(0, 40)}`);
  const name = m[1]!.toUpperCase();
  const section = parseSection(m[2]!, name.startsWith('BINARY'));
  const partial: [number, number] | undefined = m[3] !== undefined ? [Number(m[3]), Number(m[4])] : undefined;
  if (partial && partial[1] === 0) throw new ImapSyntaxError('partial length must be positive');
  const label = `${name.replace('.PEEK', '')}[${m[2]!.toUpperCase()}]`;
  if (name === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', name: label, section };
  if (name.startsWith('BINARY'))
    return { kind: 'BINARY[]', name: label, peek: name.endsWith('PEEK'), section, partial };
  return { kind: 'BODY[]', name: label, peek: name.endsWith('PEEK'), section, partial };
}

function parseSection(text: string, isBinary: boolean): SectionSpec {
  const m = /^((?:\d+\.)*\d+)?(?:\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME))?(?:\s*\(([^)]*)\))?$/i.exec(
    text.trim(),
  );
  if (!m) throw new ImapSyntaxError(`invalid section ${text.slice(0, 40)}`);
  const path = m[1] ? m[1].split('.').map(Number) : [];
  if (path.some((n) => n === 0)) throw new ImapSyntaxError('part numbers start at 1');
  const kind = (m[2]?.toUpperCase() ?? '') as SectionSpec['kind'];
  if (kind === 'MIME' && path.length === 0) throw new ImapSyntaxError('MIME needs a part number');
  if (isBinary && kind !== '') throw new ImapSyntaxError('BINARY takes part numbers only');
  const isFields = kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT';
  if (isFields !== (m[3] !== undefined)) throw new ImapSyntaxError('HEADER.FIELDS needs a field list');
  const fields = m[3]
    ? m[3]
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((f) => f.replace(/^"|"$/g, '').toLowerCase())
    : [];
  if (isFields && fields.length === 0) throw new ImapSyntaxError('empty field list');
  return { path, kind, fields };
}

/** The message as served and its structure with offsets shifted to match. */
export interface FetchSource {
  content: Buffer;
  root: BodyPart;
  /** BINARY parts decoded for this response, so a part asked for twice (or by two paths) is decoded once. */
  decoded?: Map<BodyPart, Buffer | 'unknown-cte'>;
  /** BINARY[] of the whole message (its header and decoded body), made once for this response. */
  wholeDecoded?: Buffer | 'unknown-cte';
  /** Header blocks split into fields for this response, by start offset: HEADER.FIELDS items share them. */
  headers?: Map<number, HeaderLine[]>;
}

/** One header field as received: its lower-case name and its lines (continuations included). */
interface HeaderLine {
  name: string;
  text: string;
}

export function shift(part: BodyPart, by: number): BodyPart {
  if (by === 0) return part;
  return {
    ...part,
    headerStart: part.headerStart + by,
    bodyStart: part.bodyStart + by,
    end: part.end + by,
    children: part.children.map((c) => shift(c, by)),
  };
}

/**
 * The part a path names (RFC 9051 §6.4.5 section numbering), or undefined: each number picks a part
 * of the message it applies to (a child of a multipart; 1 is the body itself of a message that is
 * not multipart), and a number after a message/rfc822 part applies to the message it encloses.
 */
function findPart(root: BodyPart, path: number[]): BodyPart | undefined {
  let part: BodyPart | undefined = root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    if (!part) return undefined;
    if (i > 0 && isMessage(part)) part = part.children[0];
    if (!part) return undefined;
    if (part.type === 'multipart') part = part.children[n - 1];
    else if (n !== 1) return undefined;
  }
  return part;
}

const isMessage = (p: BodyPart) =>
  p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global') && p.children.length > 0;

export function sectionBytes(src: FetchSource, s: SectionSpec): Buffer | null {
  const c = src.content;
  if (s.path.length === 0) {
    if (s.kind === '') return c;
    return headerOrText(src, src.root, s);
  }
  const part = findPart(src.root, s.path);
  if (!part) return null;
  if (s.kind === 'MIME') return c.subarray(part.headerStart, part.bodyStart);
  if (s.kind === '') return c.subarray(part.bodyStart, part.end);
  if (!isMessage(part)) return null; // HEADER/TEXT of a part need an encapsulated message
  return headerOrText(src, part.children[0]!, s);
}

function headerOrText(src: FetchSource, msg: BodyPart, s: SectionSpec): Buffer {
  const c = src.content;
  if (s.kind === 'TEXT') return c.subarray(msg.bodyStart, msg.end);
  if (s.kind === 'HEADER') return c.subarray(msg.headerStart, msg.bodyStart);
  const wanted = new Set(s.fields);
  const exclude = s.kind === 'HEADER.FIELDS.NOT';
  const out = headerLines(src, msg)
    .filter((f) => wanted.has(f.name) !== exclude)
    .map((f) => f.text);
  out.push('\r\n');
  return Buffer.from(out.join(''), 'latin1');
}

/** The fields of a header block, split once per response however many HEADER.FIELDS items ask. */
function headerLines(src: FetchSource, msg: BodyPart): HeaderLine[] {
  const cached = src.headers?.get(msg.headerStart);
  if (cached) return cached;
  const fields: HeaderLine[] = [];
  for (const line of src.content.toString('latin1', msg.headerStart, msg.bodyStart).split(/(?<=\n)/)) {
    if (line === '\r\n' || line === '\n') break;
    if (line[0] === ' ' || line[0] === '\t') {
      const last = fields[fields.length - 1];
      if (last) last.text += line; // a continuation before any field belongs to none
      continue;
    }
    fields.push({
      name: line
        .slice(0, Math.max(0, line.indexOf(':')))
        .trim()
        .toLowerCase(),
      text: line,
    });
  }
  (src.headers ??= new Map()).set(msg.headerStart, fields);
  return fields;
}

/**
 * BINARY[part] (RFC 3516 §4.2): the part's body with its transfer encoding undone. BINARY[] is the
 * whole message: as stored when nothing needs decoding (a multipart, or an identity encoding),
 * else its header and the decoded body.
 */
export function binaryBytes(src: FetchSource, s: SectionSpec): Buffer | null | 'unknown-cte' {
  if (s.path.length === 0) {
    const root = src.root;
    if (root.type === 'multipart' || IDENTITY_CTE.has(root.encoding)) return src.content;
    if (src.wholeDecoded === undefined) {
      // BINARY.SIZE[] ×1000 in one FETCH decodes the message once, not a thousand times.
      const body = decoded(src, root);
      src.wholeDecoded = body === 'unknown-cte' ? body : Buffer.concat([src.content.subarray(0, root.bodyStart), body]);
    }
    return src.wholeDecoded;
  }
  const part = findPart(src.root, s.path);
  if (!part || part.type === 'multipart') return null;
  return decoded(src, part);
}

function decoded(src: FetchSource, part: BodyPart): Buffer | 'unknown-cte' {
  const cached = src.decoded?.get(part);
  if (cached !== undefined) return cached;
  const out = decodePart(src, part);
  (src.decoded ??= new Map()).set(part, out);
  return out;
}

/** Whether BINARY of the section can be answered: its transfer encoding is one RFC 3516 §4.2 knows. */
export function isKnownEncoding(src: FetchSource, s: SectionSpec): boolean {
  const part = s.path.length ? findPart(src.root, s.path) : src.root;
  return !part || part.type === 'multipart' || KNOWN_CTE.has(part.encoding);
}

const IDENTITY_CTE = new Set(['7bit', '8bit', 'binary']);
const KNOWN_CTE = new Set([...IDENTITY_CTE, 'base64', 'quoted-printable']);

function decodePart(src: FetchSource, part: BodyPart): Buffer | 'unknown-cte' {
  const raw = src.content.subarray(part.bodyStart, part.end);
  switch (part.encoding) {
    case '7bit':
    case '8bit':
    case 'binary':
      return raw;
    case 'base64':
      return Buffer.from(raw.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQp(raw.toString('latin1'));
    default:
      return 'unknown-cte';
  }
}

export function partial(data: Buffer, p: [number, number] | undefined): Buffer {
  return p ? data.subarray(p[0], p[0] + p[1]) : data;
}

/**
 * Header-derived strings were read as latin1: send their bytes exactly as received. Plain ASCII (the
 * usual case) goes as the string itself, which encodes to the same bytes without a Buffer.
 */
const nstr = (s: string | null | undefined): Value =>
  s === null || s === undefined ? null : /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'latin1');

export function envelopeValue(e: Envelope): Value {
  // env-from etc. are "(" 1*address ")": addresses follow each other without a space (RFC 9051 §9)
  const value = (f: EnvelopeField): Value =>
    f === null || typeof f === 'string'
      ? nstr(f)
      : new Concat(
          f.addresses.map((a) => a.map(nstr)),
          [],
        );
  return envelopeFields(e).map(value);
}

/** BODYSTRUCTURE (extensible) or BODY (non-extensible), RFC 9051 §7.5.2. */
export function bodyStructureValue(p: BodyPart, extensible: boolean): Value {
  const params = (o: Record<string, string>): Value => {
    const entries = Object.entries(o);
    return entries.length ? entries.flatMap(([k, v]) => [k.toUpperCase(), v]) : null;
  };
  const dispo = (): Value => (p.disposition ? [p.disposition.type.toUpperCase(), params(p.disposition.params)] : null);
  if (p.type === 'multipart') {
    const out: Value[] = p.children.length
      ? p.children.map((c) => bodyStructureValue(c, extensible))
      : [bodyStructureValue({ ...p, type: 'text', subtype: 'plain', children: [] }, extensible)];
    const rest: Value[] = [p.subtype.toUpperCase()];
    if (extensible) rest.push(params(p.params), dispo(), nstr(p.language), nstr(p.location));
    return new Concat(out, rest);
  }
  const size = p.end - p.bodyStart;
  const base: Value[] = [
    p.type.toUpperCase(),
    p.subtype.toUpperCase(),
    params(p.params),
    nstr(p.id),
    nstr(p.description),
    p.encoding.toUpperCase(),
    size,
  ];
  if (isMessage(p)) base.push(envelopeValue(p.envelope!), bodyStructureValue(p.children[0]!, extensible), p.lines);
  else if (p.type === 'text') base.push(p.lines);
  if (extensible) base.push(nstr(p.md5), dispo(), nstr(p.language), nstr(p.location));
  return base;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time (RFC 9051 §9): "26-Nov-2026 10:00:00 +0000", in UTC. */
export function internalDate(d: Date): Value {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${p2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

export function flagsValue(flags: string[]): Value {
  return flags.map((f) => atom(f));
}

export { Literal };
