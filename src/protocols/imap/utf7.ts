/** Modified UTF-7 mailbox names (RFC 3501 §5.1.3) for clients that have not enabled UTF-8. */

export function encodeMutf7(name: string): string {
  let out = '';
  let pending = '';
  const flush = () => {
    if (!pending) return;
    const b = Buffer.from(pending, 'utf16le');
    // UTF-16BE for the encoding: swap bytes
    for (let i = 0; i + 1 < b.length; i += 2) [b[i], b[i + 1]] = [b[i + 1]!, b[i]!];
    out += '&' + b.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = '';
  };
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else pending += ch;
  }
  flush();
  return out;
}

export function decodeMutf7(name: string): string {
  return name.replace(/&([^-]*)-/g, (_, b64: string) => {
    if (b64 === '') return '&';
    const b = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    for (let i = 0; i + 1 < b.length; i += 2) [b[i], b[i + 1]] = [b[i + 1]!, b[i]!];
    return b.subarray(0, b.length - (b.length % 2)).toString('utf16le');
  });
}
