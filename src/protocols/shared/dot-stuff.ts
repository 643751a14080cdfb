/**
 * Dot-stuffing of a multi-line response (RFC 1939 §3, as RFC 5321 §4.5.2 for SMTP), streamed: a
 * message goes out chunk by chunk with bare LF made CRLF, a "." at the start of a line doubled, and
 * the terminating ".", without the whole message (or a copy of it) held in memory.
 */
export class DotStuffer {
  private atLineStart = true;
  /** A CR at the end of the last chunk: whether it starts a CRLF is known only with the next one. */
  private pendingCr = false;
  private endsWithCrlf = false;
  private isEmpty = true;

  /** The stuffed form of the next chunk. */
  push(chunk: Buffer): Buffer {
    let s = (this.pendingCr ? '\r' : '') + chunk.toString('latin1');
    this.pendingCr = s.endsWith('\r');
    if (this.pendingCr) s = s.slice(0, -1);
    return this.emit(s);
  }

  /** The rest, and the terminating line: the last line ended if it was not, then ".". */
  end(): Buffer {
    const rest = this.pendingCr ? this.emit('\r') : Buffer.alloc(0);
    this.pendingCr = false;
    return Buffer.concat([rest, Buffer.from(this.endsWithCrlf || this.isEmpty ? '.\r\n' : '\r\n.\r\n', 'latin1')]);
  }

  private emit(text: string): Buffer {
    if (text === '') return Buffer.alloc(0);
    let s = text.replace(/\r?\n/g, '\r\n');
    if (this.atLineStart && s.startsWith('.')) s = `.${s}`;
    s = s.replace(/\n\./g, '\n..');
    this.atLineStart = s.endsWith('\n');
    this.endsWithCrlf = s.endsWith('\r\n');
    this.isEmpty = false;
    return Buffer.from(s, 'latin1');
  }
}
