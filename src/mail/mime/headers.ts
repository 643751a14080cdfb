/**
 * Header blocks (RFC 5322 §2.2): split from the body at the first empty line, unfolded, kept in order
 * with their raw bytes so that IMAP can serve HEADER.FIELDS exactly as received.
 */
export interface HeaderField {
  /** Lower-case name. */
  key: string;
  name: string;
  /** Unfolded value, leading space trimmed. */
  value: string;
}

export const MAX_HEADER_FIELDS = 1000;

/** Offset of the body: just after the first CRLFCRLF (or LFLF), or the end when there is no body. */
export function headerEnd(buf: Buffer, start = 0, end = buf.length): number {
  for (let i = start; i < end; i++) {
    if (buf[i] !== 0x0a) continue;
    if (i === start) return i + 1; // no headers at all: the block is the empty line
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return end;
}

export function parseHeaders(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = block.split(/\r?\n/);
  for (const line of lines) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) {
      fields[fields.length - 1]!.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a header line: ignored, as every MUA does
    if (fields.length >= MAX_HEADER_FIELDS) break;
    const name = line.slice(0, colon).trim();
    fields.push({ key: name.toLowerCase(), name, value: line.slice(colon + 1).trim() });
  }
  return fields;
}

export function headerValue(fields: HeaderField[], key: string): string | undefined {
  return fields.find((f) => f.key === key)?.value;
}

export function headerValues(fields: HeaderField[], key: string): string[] {
  return fields.filter((f) => f.key === key).map((f) => f.value);
}
