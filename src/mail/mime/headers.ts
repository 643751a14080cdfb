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

/**
 * Offset of the body: just after the first CRLFCRLF (or LFLF) within [start, end), or `end` when
 * there is no body. Never past `end`: a blank line that straddles it belongs to what follows.
 */
export function headerEnd(buf: Buffer, start = 0, end = buf.length): number {
  if (buf[start] === 0x0d && buf[start + 1] === 0x0a && start + 1 < end) return start + 2; // no header fields: the block is the empty line
  for (let i = start; i < end; i++) {
    if (buf[i] !== 0x0a) continue;
    if (i === start) return i + 1; // no headers at all: the block is the empty line
    if (i + 1 < end && buf[i + 1] === 0x0a) return i + 2;
    if (i + 2 < end && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
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

/**
 * The header block of a message accepted over SMTP (Postfix's header_size_limit is 100 KB). Checked
 * before anything parses it: libraries that verify and sign (mailauth) are quadratic in its lines.
 */
export const MAX_HEADER_BYTES = 256 * 1024;
export const MAX_HEADER_LINES = 5000;
/** Signatures a message may carry: each is verified, over the whole body when its l= differs. */
export const MAX_DKIM_SIGNATURES = 20;
/** RFC 8617 §4.2.1: an ARC chain has at most 50 sets. */
export const MAX_ARC_SETS = 50;

/** Why a header block is refused before it is parsed, or undefined when it is within the limits. */
export function headerBlockProblem(block: Buffer): string | undefined {
  if (block.length > MAX_HEADER_BYTES) return `the header is larger than ${MAX_HEADER_BYTES / 1024} KB`;
  let lines = 0;
  for (let i = block.indexOf(0x0a); i >= 0; i = block.indexOf(0x0a, i + 1))
    if (++lines > MAX_HEADER_LINES) return `the header has more than ${MAX_HEADER_LINES} lines`;
  return undefined;
}

/** RFC 5322 §3.6: fields a message may carry at most once (orig-date and from exactly once). */
export const SINGLE_FIELDS = ['from', 'sender', 'date', 'subject', 'message-id'] as const;

/** The fields among `names` that occur more than once, with their counts. */
export function repeatedFields(fields: HeaderField[], names: readonly string[]): Array<{ key: string; count: number }> {
  const out: Array<{ key: string; count: number }> = [];
  for (const key of names) {
    const count = fields.reduce((n, f) => n + (f.key === key ? 1 : 0), 0);
    if (count > 1) out.push({ key, count });
  }
  return out;
}

/** Whether a header block has more fields than parseHeaders() reads (the rest would be unseen by checks, seen by others). */
export function hasTooManyFields(block: string): boolean {
  let n = 0;
  for (let i = 0; i < block.length;) {
    const c = block.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a && ++n > MAX_HEADER_FIELDS) return true;
    const nl = block.indexOf('\n', i);
    if (nl < 0) break;
    i = nl + 1;
  }
  return false;
}
