/**
 * Reads the server name (RFC 6066 §3) and ALPN protocols (RFC 7301 §3.1) from a TLS ClientHello
 * before the handshake starts, so a listener can pick a certificate by ALPN — which TLS-ALPN-01
 * (RFC 8737 §3) needs and Node's SNICallback cannot see. Bounded: a hello larger than 64 KB or
 * split into more than 16 records, an empty record, or bytes that are not a TLS handshake end the
 * parse (a hello cut into thousands of one-byte records would make each re-parse cost more).
 */

export interface ClientHello {
  servername: string | undefined;
  alpn: string[];
}

/** 'more' = the hello is not complete yet; undefined = not a TLS ClientHello (let the handshake fail). */
export type HelloResult = ClientHello | 'more' | undefined;

const MAX_HELLO = 65_536;
/** Real clients send a ClientHello in one record, two with large post-quantum key shares. */
const MAX_RECORDS = 16;

export function parseClientHello(buf: Buffer): HelloResult {
  // Reassemble the handshake message from one or more TLS records (RFC 8446 §5.1).
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1;
  for (let off = 0; ;) {
    if (off + 5 > buf.length) return buf.length > MAX_HELLO ? undefined : 'more';
    if (buf[off] !== 0x16 || buf[off + 1] !== 0x03) return undefined;
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || parts.length >= MAX_RECORDS) return undefined; // RFC 8446 §5.1: no empty handshake records
    if (off + 5 + len > buf.length) return buf.length > MAX_HELLO ? undefined : 'more';
    parts.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const head = Buffer.concat(parts);
      if (head[0] !== 0x01) return undefined;
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_HELLO) return undefined;
    }
    if (need >= 0 && have >= need) break;
  }
  return parseBody(Buffer.concat(parts).subarray(4, need));
}

function parseBody(b: Buffer): ClientHello | undefined {
  try {
    let p = 2 + 32; // legacy_version, random
    p += 1 + b.readUInt8(p); // legacy_session_id
    p += 2 + b.readUInt16BE(p); // cipher_suites
    p += 1 + b.readUInt8(p); // legacy_compression_methods
    const hello: ClientHello = { servername: undefined, alpn: [] };
    if (p >= b.length) return hello; // no extensions
    const end = p + 2 + b.readUInt16BE(p);
    if (end > b.length) return undefined;
    p += 2;
    while (p + 4 <= end) {
      const type = b.readUInt16BE(p);
      const len = b.readUInt16BE(p + 2);
      const data = b.subarray(p + 4, p + 4 + len);
      if (data.length !== len) return undefined;
      if (type === 0x0000 && len >= 5 && data[2] === 0)
        hello.servername = data.subarray(5, 5 + data.readUInt16BE(3)).toString('latin1');
      if (type === 0x0010 && len >= 2) {
        for (let q = 2; q < data.length;) {
          const n = data.readUInt8(q);
          hello.alpn.push(data.subarray(q + 1, q + 1 + n).toString('latin1'));
          q += 1 + n;
        }
      }
      p += 4 + len;
    }
    return hello;
  } catch {
    return undefined; // read past the end: malformed
  }
}
