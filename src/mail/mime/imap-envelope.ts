/**
 * The ENVELOPE of RFC 9051 §7.5.2 as nested fields in protocol order, and as ready wire text when
 * every string in it is plain ASCII: computed once at delivery and stored, so FETCH ENVELOPE of a
 * whole mailbox sends stored text instead of rebuilding each envelope.
 */
import type { Envelope, EnvelopeAddress } from './structure.js';

/** An address: (name adl mailbox host), each a string (header bytes as latin1) or NIL. */
export type AddressFields = [string | null, string | null, string | null, string | null];
/** A field: a string, NIL, or an address list, written "(" 1*address ")" without spaces between addresses. */
export type EnvelopeField = string | null | { addresses: AddressFields[] };

/** (date subject from sender reply-to to cc bcc in-reply-to message-id), space-separated. */
export function envelopeFields(e: Envelope): EnvelopeField[] {
  const addrs = (list: EnvelopeAddress[]): EnvelopeField =>
    list.length ? { addresses: list.map((a) => [a.name, a.route ?? null, a.mailbox, a.host]) } : null;
  return [
    e.date,
    e.subject,
    addrs(e.from),
    addrs(e.sender),
    addrs(e.replyTo),
    addrs(e.to),
    addrs(e.cc),
    addrs(e.bcc),
    e.inReplyTo,
    e.messageId,
  ];
}

const QUOTABLE = /^[\x01-\x09\x0b\x0c\x0e-\x7f]{0,1023}$/;

/**
 * A quoted string (RFC 9051 §4.3) when `s` can be one for any client: ASCII without CR, LF or NUL,
 * under 1,024 characters. Otherwise undefined: the caller sends a literal.
 */
export function quotedAscii(s: string): string | undefined {
  return QUOTABLE.test(s) ? quoted(s) : undefined;
}

/** `s` between double quotes, `"` and `\` escaped; the caller has checked it may be quoted. */
export function quoted(s: string): string {
  return '"' + (s.includes('"') || s.includes('\\') ? s.replace(/[\\"]/g, (c) => '\\' + c) : s) + '"';
}

/** The envelope as wire text, or null when a string in it needs a literal (8-bit, CR/LF, long). */
export function envelopeWire(e: Envelope): string | null {
  const str = (f: string | null): string | undefined => (f === null ? 'NIL' : quotedAscii(f));
  const out: string[] = [];
  for (const f of envelopeFields(e)) {
    if (f === null || typeof f === 'string') {
      const q = str(f);
      if (q === undefined) return null;
      out.push(q);
      continue;
    }
    let list = '(';
    for (const a of f.addresses) {
      const parts = a.map(str);
      if (parts.includes(undefined)) return null;
      list += `(${parts.join(' ')})`;
    }
    out.push(list + ')');
  }
  return `(${out.join(' ')})`;
}
