/**
 * An email's body as RFC 8621 §4.1.4 describes it, from the structure Postern stores with every
 * message (mail/mime/structure.ts): bodyStructure, the textBody / htmlBody / attachments lists made
 * by the RFC's algorithm, bodyValues (decoded, optionally truncated), and the preview (§4.1.4: up to
 * 256 characters of plain text).
 */
import type { BodyPart } from '../../mail/mime/structure.js';
import { decodeBody, decodeWords, htmlToText } from '../../mail/mime/text.js';
import { headerEnd, parseHeaders } from '../../mail/mime/headers.js';
import type { Args } from './dispatch.js';

/** A leaf or multipart with its IMAP part number ("1", "1.2"; "" for the message itself). */
interface Numbered {
  part: BodyPart;
  partId: string;
}

/**
 * The blob id of one part of the message a blob holds: the blob and the part's IMAP number (dots as
 * dashes: ids are URL-safe) — "g12_2" is part 2 of email 12, "u…_1-2" part 1.2 of an upload.
 */
export function partBlobId(base: string, partId: string): string {
  return `${base}_${partId.replace(/\./g, '-')}`;
}

/** The blob holding a message (an email's content "g12", an upload "u…") and the part of it a blob id names. */
export function splitBlobId(blobId: string): { base: string; partId: string | undefined } | undefined {
  const m = /^(g\d{1,15}|u[0-9a-f]{64})(?:_(\d{1,4}(?:-\d{1,4}){0,31}))?$/.exec(blobId);
  if (!m) return undefined;
  return { base: m[1]!, partId: m[2]?.replace(/-/g, '.') };
}

/** Finds the part with that number. */
export function findPart(root: BodyPart, partId: string): BodyPart | undefined {
  let part: BodyPart | undefined = root;
  for (const n of partId.split('.')) {
    part = partsOf(part)[Number(n) - 1];
    if (!part) return undefined;
  }
  return part;
}

/** What IMAP numbers under a part (RFC 9051 §6.4.5): a multipart's parts, an enclosed message's body, a leaf itself. */
function partsOf(part: BodyPart): BodyPart[] {
  if (part.type === 'multipart') return part.children;
  const inner = part.type === 'message' ? part.children[0] : undefined;
  if (inner) return inner.type === 'multipart' ? inner.children : [inner];
  return [part];
}

/** EmailBodyPart (RFC 8621 §4.1.4) of one part; `blobOf` names a part's blob by its part id. */
export function bodyPart(
  content: Buffer,
  blobOf: (partId: string) => string,
  n: Numbered,
  withSubParts: boolean,
): Args {
  const { part } = n;
  const type = `${part.type}/${part.subtype}`.toLowerCase();
  const name = part.disposition?.params.filename ?? part.params.name;
  const isMultipart = part.type === 'multipart';
  const out: Args = {
    partId: isMultipart ? null : n.partId || '1',
    blobId: isMultipart ? null : blobOf(n.partId || '1'),
    size: isMultipart ? 0 : decodedSize(content, part),
    headers: partHeaders(content, part),
    name: name ? decodeWords(name) : null,
    type,
    charset: part.params.charset ?? (part.type === 'text' ? 'us-ascii' : null),
    disposition: part.disposition?.type ?? null,
    cid: part.id ? part.id.replace(/^<|>$/g, '') : null,
    language: part.language ? [part.language] : null,
    location: part.location,
  };
  if (withSubParts && isMultipart) out.subParts = children(n).map((c) => bodyPart(content, blobOf, c, true));
  return out;
}

function children(n: Numbered): Numbered[] {
  return n.part.children.map((part, i) => ({ part, partId: n.partId ? `${n.partId}.${i + 1}` : String(i + 1) }));
}

function partHeaders(content: Buffer, part: BodyPart): Array<{ name: string; value: string }> {
  const block = content.subarray(part.headerStart, Math.min(part.bodyStart, part.headerStart + 64 * 1024));
  return parseHeaders(block.subarray(0, headerEnd(block)).toString('latin1')).map((f) => ({
    name: f.name,
    value: f.value,
  }));
}

/** The size of a part's content once its transfer encoding is undone (base64 estimated from its length). */
function decodedSize(content: Buffer, part: BodyPart): number {
  const raw = part.end - part.bodyStart;
  if (part.encoding === 'base64') {
    const text = content
      .subarray(part.bodyStart, part.end)
      .toString('latin1')
      .replace(/[^A-Za-z0-9+/]/g, '');
    return Math.floor((text.length * 3) / 4);
  }
  return raw;
}

/** RFC 8621 §4.1.4's algorithm: the parts a reader shows as text, as HTML, and as attachments. */
export function bodyLists(root: BodyPart): { text: Numbered[]; html: Numbered[]; attachments: Numbered[] } {
  const text: Numbered[] = [];
  const html: Numbered[] = [];
  const attachments: Numbered[] = [];
  const isInline = (p: BodyPart) => p.disposition?.type.toLowerCase() !== 'attachment';
  const walk = (
    parts: Numbered[],
    multipartType: string,
    inAlternative: boolean,
    textList: Numbered[] | null,
    htmlList: Numbered[] | null,
  ) => {
    const textLength = textList?.length ?? -1;
    const htmlLength = htmlList?.length ?? -1;
    for (const [i, n] of parts.entries()) {
      const p = n.part;
      const isMultipart = p.type === 'multipart';
      if (isMultipart) {
        const sub = p.subtype.toLowerCase();
        walk(children(n), sub, inAlternative || sub === 'alternative', textList, htmlList);
        continue;
      }
      const isText = p.type === 'text' && (p.subtype === 'plain' || p.subtype === 'html');
      const isInlineMedia = ['image', 'audio', 'video'].includes(p.type);
      const first = i === 0;
      if (
        isInline(p) &&
        isText &&
        (first || (multipartType !== 'related' && (isInlineMedia || !p.disposition?.params.filename)))
      ) {
        if (multipartType === 'alternative') {
          if (p.subtype === 'plain') textList?.push(n);
          else htmlList?.push(n);
          continue;
        }
        if (inAlternative) {
          if (p.subtype === 'plain') htmlList = null;
          else textList = null;
        }
        textList?.push(n);
        htmlList?.push(n);
        continue;
      }
      if (isInline(p) && isInlineMedia && multipartType !== 'related' && (first || multipartType === 'mixed')) {
        textList?.push(n);
        htmlList?.push(n);
        attachments.push(n);
        continue;
      }
      attachments.push(n);
    }
    if (multipartType === 'alternative' && textList && htmlList) {
      if (textLength === textList.length && htmlLength !== htmlList.length)
        textList.push(...htmlList.slice(htmlLength));
      if (htmlLength === htmlList.length && textLength !== textList.length)
        htmlList.push(...textList.slice(textLength));
    }
  };
  const start: Numbered = { part: root, partId: '' };
  if (root.type === 'multipart')
    walk(children(start), root.subtype.toLowerCase(), root.subtype.toLowerCase() === 'alternative', text, html);
  else walk([{ part: root, partId: '1' }], 'mixed', false, text, html);
  return { text, html, attachments };
}

/** The decoded text of a text part (HTML as HTML). */
export function partText(content: Buffer, part: BodyPart): string {
  return decodeBody(content.subarray(part.bodyStart, part.end), part.encoding, part.params.charset ?? 'us-ascii');
}

/** EmailBodyValue (RFC 8621 §4.1.4): the decoded text, cut at `max` bytes of UTF-8 when max > 0. */
export function bodyValue(content: Buffer, part: BodyPart, max: number): Args {
  let value = part.type === 'text' ? partText(content, part) : '';
  let isTruncated = false;
  if (max > 0 && Buffer.byteLength(value) > max) {
    value = Buffer.from(value)
      .subarray(0, max)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    isTruncated = true;
  }
  return { value, isEncodingProblem: value.includes('\uFFFD'), isTruncated };
}

/** Up to 256 characters of the first text part (HTML as its text), white space folded. */
export function preview(content: Buffer, root: BodyPart): string {
  const { text } = bodyLists(root);
  const first = text.find((n) => n.part.type === 'text');
  if (!first) return '';
  const p = first.part;
  const raw = content.subarray(p.bodyStart, Math.min(p.end, p.bodyStart + 16 * 1024));
  let t = decodeBody(raw, p.encoding, p.params.charset ?? 'us-ascii');
  if (p.subtype === 'html') t = htmlToText(t);
  return [...t.replace(/\s+/g, ' ').trim()].slice(0, 256).join('');
}

/** Whether a reader would list an attachment (RFC 8621 §4.1.4 hasAttachment). */
export function hasAttachment(root: BodyPart): boolean {
  return bodyLists(root).attachments.some(
    (n) =>
      n.part.disposition?.type.toLowerCase() === 'attachment' ||
      Boolean(n.part.disposition?.params.filename ?? n.part.params.name),
  );
}
