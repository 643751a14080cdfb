/**
 * A message APPENDed as a literal8 (RFC 3516 §4.4) may carry NUL bytes in binary parts. IMAP literals
 * may not (RFC 9051 §4.3, CHAR8 excludes NUL), so such parts are stored base64-encoded, as Dovecot
 * does: BINARY[part] still returns the original bytes, and BODY[] is valid for every client.
 */
import type { BodyPart } from './structure.js';

/** Whether any part holds NUL: the message needs converting before it is stored. */
export function hasNul(content: Buffer): boolean {
  return content.includes(0);
}

/** The message with every leaf part whose body holds NUL re-encoded as base64 (its header says so). */
export function encodeBinaryParts(content: Buffer, root: BodyPart): Buffer {
  const leaves: BodyPart[] = [];
  const walk = (p: BodyPart) => {
    if (p.children.length) p.children.forEach(walk);
    else if (content.subarray(p.bodyStart, p.end).includes(0)) leaves.push(p);
  };
  walk(root);
  if (leaves.length === 0) return content;
  const out: Buffer[] = [];
  let at = 0;
  for (const p of leaves.sort((a, b) => a.headerStart - b.headerStart)) {
    out.push(
      content.subarray(at, p.headerStart),
      Buffer.from(base64Header(content.toString('latin1', p.headerStart, p.bodyStart)), 'latin1'),
    );
    const encoded = content
      .subarray(p.bodyStart, p.end)
      .toString('base64')
      .replace(/.{76}(?=.)/g, '$&\r\n');
    out.push(Buffer.from(`${encoded}\r\n`, 'latin1'));
    at = p.end;
  }
  out.push(content.subarray(at));
  return Buffer.concat(out);
}

/** A part's header block with its Content-Transfer-Encoding replaced by base64. */
function base64Header(block: string): string {
  const lines = block.split(/(?<=\n)/);
  if (lines.length && /^\r?\n$/.test(lines[lines.length - 1]!)) lines.pop();
  const kept: string[] = [];
  let isDropping = false;
  for (const line of lines) {
    if (line[0] === ' ' || line[0] === '\t') {
      if (!isDropping) kept.push(line); // a folded line belongs to the field above it
      continue;
    }
    isDropping = /^content-transfer-encoding\s*:/i.test(line);
    if (!isDropping) kept.push(line);
  }
  return `${kept.join('')}Content-Transfer-Encoding: base64\r\n\r\n`;
}
