/**
 * MIME sanity: attachments that run code when opened (by extension, and the `invoice.pdf.exe` trick),
 * attachments whose bytes are not what their declared type says, HTML without a plain-text
 * alternative, and hidden text in HTML. Works on the structure parsed once (mail/mime/structure.ts).
 */
import { decode as decodeQp } from 'libqp';
import type { BodyPart, ParsedMessage } from '../../../mail/mime/structure.js';
import { decodeBody, decodeWords } from '../../../mail/mime/text.js';
import type { FilterSymbol } from '../types.js';
import { hiddenText } from './html.js';

/** Extensions Windows (or a Java runtime, or a browser) runs on a double click. */
const EXECUTABLE = new Set(
  (
    'exe scr com pif bat cmd vbs vbe js jse wsf wsh hta jar msi msp mst cpl dll lnk reg ps1 psm1 ' +
    'scf inf gadget application appref-ms sys drv ocx iso img vhd vhdx'
  ).split(' '),
);
/** What a double extension pretends to be in front of the real one. */
const DOCUMENT = new Set(
  'pdf doc docx xls xlsx ppt pptx rtf txt csv jpg jpeg png gif bmp tif tiff zip rar 7z htm html odt ods mp3 mp4 avi wav'.split(
    ' ',
  ),
);
/** How much of an HTML part is scanned for hidden text. */
const MAX_HTML = 512 * 1024;

export function mimeSymbols(data: Buffer, parsed: ParsedMessage): FilterSymbol[] {
  const leaves: BodyPart[] = [];
  const walk = (p: BodyPart) => (p.children.length ? p.children.forEach(walk) : leaves.push(p));
  walk(parsed.structure);
  const out: FilterSymbol[] = [];
  const names = new Set<string>();
  let mismatch: string | undefined;
  for (const part of leaves) {
    const name = fileName(part);
    if (name) names.add(name);
    mismatch ??= typeMismatch(data, part, name);
  }
  out.push(...extensionSymbols([...names]));
  if (mismatch)
    // rspamd's MIME_BAD_ATTACHMENT (4.0): "Invalid attachment mime type".
    out.push({ name: 'MIME_BAD_ATTACHMENT', score: 4, why: mismatch });
  out.push(...htmlSymbols(data, leaves));
  return out;
}

/** The attachment's file name (Content-Disposition filename, else Content-Type name), decoded. */
export function fileName(part: BodyPart): string | undefined {
  const raw = part.disposition?.params.filename ?? part.params.name;
  if (!raw) return undefined;
  const decoded = decodeWords(raw.slice(0, 1000));
  return decoded.trim() || undefined;
}

/** The extensions of a file name as Windows sees them: trailing dots and spaces are dropped. */
function extensions(name: string): string[] {
  const trimmed = name.toLowerCase().replace(/[.\s]+$/, '');
  const base = trimmed.slice(Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\')) + 1);
  return base.split('.').slice(1).slice(-2);
}

/**
 * rspamd's MIME_BAD_EXTENSION (2.0) and MIME_DOUBLE_BAD_EXTENSION (3.0); SpamAssassin leaves these to
 * its antivirus rules (MICROSOFT_EXECUTABLE 0.1) and the virus scanner.
 */
function extensionSymbols(names: string[]): FilterSymbol[] {
  let bad: string | undefined;
  let double: string | undefined;
  for (const name of names) {
    const ext = extensions(name);
    const [first, last] = ext.length === 2 ? ext : [undefined, ext[0]];
    if (!last || !EXECUTABLE.has(last)) continue;
    if (first && DOCUMENT.has(first)) double ??= name;
    else bad ??= name;
  }
  if (double)
    return [{ name: 'MIME_DOUBLE_BAD_EXTENSION', score: 3, why: `an executable posing as a document: ${double}` }];
  if (bad) return [{ name: 'MIME_BAD_EXTENSION', score: 2, why: `an executable attachment: ${bad}` }];
  return [];
}

type Kind = 'exe' | 'elf' | 'zip' | 'pdf' | 'png' | 'jpeg' | 'gif' | 'rar' | '7z';

/** The type the first bytes give away (their magic numbers). */
export function sniff(head: Buffer): Kind | undefined {
  const starts = (hex: string) => head.subarray(0, hex.length / 2).equals(Buffer.from(hex, 'hex'));
  // A PE file: "MZ" and the NUL bytes of its DOS header (plain text may well begin with "MZ").
  if (starts('4d5a') && head.subarray(0, 64).includes(0)) return 'exe';
  if (starts('7f454c46')) return 'elf';
  if (starts('504b0304')) return 'zip';
  if (starts('255044462d')) return 'pdf';
  if (starts('89504e470d0a1a0a')) return 'png';
  if (starts('ffd8ff')) return 'jpeg';
  if (starts('474946383761') || starts('474946383961')) return 'gif';
  if (starts('526172211a07')) return 'rar';
  if (starts('377abcaf271c')) return '7z';
  return undefined;
}

/** The kind a declared type promises, for the types whose content can be checked. */
function declaredKind(part: BodyPart): Kind | 'image' | 'text' | undefined {
  const t = `${part.type}/${part.subtype}`;
  if (t === 'application/pdf') return 'pdf';
  if (t === 'image/png') return 'png';
  if (t === 'image/jpeg' || t === 'image/jpg' || t === 'image/pjpeg') return 'jpeg';
  if (t === 'image/gif') return 'gif';
  if (part.type === 'image') return 'image';
  if (part.type === 'text') return 'text';
  return undefined;
}

/** Why a part's bytes contradict its declared type, if they do. */
function typeMismatch(data: Buffer, part: BodyPart, name: string | undefined): string | undefined {
  const declared = declaredKind(part);
  if (!declared && part.type !== 'application') return undefined;
  const head = firstBytes(data, part);
  const kind = sniff(head);
  if (!kind || kind === declared) return undefined;
  const what = `${name ?? 'a part'} is declared ${part.type}/${part.subtype}`;
  if (kind === 'exe' || kind === 'elf') {
    const t = part.subtype;
    const executableType =
      /^(octet-stream|x-msdownload|x-dosexec|x-msdos-program|x-executable|vnd\.microsoft\.portable-executable|x-elf)$/;
    return executableType.test(t) && part.type === 'application' ? undefined : `${what} but is a program`;
  }
  const images: Array<string | undefined> = ['image', 'png', 'jpeg', 'gif'];
  if (images.includes(declared) && images.includes(kind)) return undefined; // a PNG sent as image/jpeg is still an image
  if (declared === undefined) return undefined;
  return `${what} but its content is ${kind}`;
}

/** Up to 1 KiB of a part's decoded body. */
function firstBytes(data: Buffer, part: BodyPart): Buffer {
  const raw = data.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + 4096));
  if (part.encoding === 'base64') {
    const clean = raw.toString('latin1').replace(/[^A-Za-z0-9+/]/g, '');
    return Buffer.from(clean.slice(0, clean.length - (clean.length % 4)), 'base64').subarray(0, 1024);
  }
  if (part.encoding === 'quoted-printable') return decodeQp(raw.toString('latin1')).subarray(0, 1024);
  return raw.subarray(0, 1024);
}

/**
 * SpamAssassin's MIME_HTML_ONLY (0.1) for a message whose only text is HTML; HTML_HIDDEN_TEXT as
 * rspamd's ZERO_FONT (1.0) for hidden elements of more than 100 letters (a newsletter's hidden
 * preheader line is shorter), HTML_SAME_COLOR_TEXT as its R_WHITE_ON_WHITE (4.0) for 20 letters or more.
 */
function htmlSymbols(data: Buffer, leaves: BodyPart[]): FilterSymbol[] {
  const text = leaves.filter((p) => p.type === 'text' && p.disposition?.type !== 'attachment');
  const html = text.filter((p) => p.subtype === 'html');
  if (html.length === 0) return [];
  const out: FilterSymbol[] = [];
  if (!text.some((p) => p.subtype === 'plain'))
    out.push({ name: 'MIME_HTML_ONLY', score: 0.1, why: 'the message has HTML and no plain-text part' });
  let invisible = 0;
  let sameColor = 0;
  let budget = MAX_HTML;
  for (const part of html) {
    if (budget <= 0) break;
    const raw = data.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + 4 * budget));
    const decoded = decodeBody(raw, part.encoding, part.params.charset ?? 'us-ascii').slice(0, budget);
    budget -= decoded.length;
    const found = hiddenText(decoded);
    invisible += found.invisible;
    sameColor += found.sameColor;
  }
  if (invisible > 100)
    out.push({ name: 'HTML_HIDDEN_TEXT', score: 1, why: `${invisible} letters of HTML text are hidden` });
  if (sameColor >= 20)
    out.push({
      name: 'HTML_SAME_COLOR_TEXT',
      score: 4,
      why: `${sameColor} letters of HTML text are in the colour of their background`,
    });
  return out;
}
