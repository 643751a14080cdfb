/**
 * A line reader for line-based protocols (POP3): CRLF or LF ends a line; a line over the limit is
 * reported as soon as it is over (so the client hears at once) and skipped up to its end, without
 * holding more than the limit of it. Linear: each
 * byte is looked at once, a line is joined from its chunks when its end is found.
 */
import type { FrameParser } from './input.js';

export type LineEvent = { kind: 'line'; text: string } | { kind: 'too-long' };

const EMPTY = Buffer.alloc(0);

export class LineReader implements FrameParser<LineEvent> {
  private chunks: Buffer[] = [];
  private head: Buffer = EMPTY;
  private unparsed = 0;
  private line: Buffer[] = [];
  private lineBytes = 0;
  private isSkipping = false;

  constructor(private maxLineBytes: number) {}

  get bufferedBytes(): number {
    return this.unparsed;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.unparsed += chunk.length;
  }

  discard(): number {
    const dropped = this.unparsed + this.lineBytes;
    this.chunks = [];
    this.head = EMPTY;
    this.unparsed = 0;
    this.line = [];
    this.lineBytes = 0;
    this.isSkipping = false;
    return dropped;
  }

  next(): LineEvent | undefined {
    for (;;) {
      if (this.head.length === 0) {
        const chunk = this.chunks.shift();
        if (!chunk) return undefined;
        this.head = chunk;
      }
      const nl = this.head.indexOf(0x0a);
      const take = nl < 0 ? this.head.length : nl + 1;
      if (!this.isSkipping) {
        this.line.push(this.head.subarray(0, take));
        this.lineBytes += take;
      }
      this.head = take === this.head.length ? EMPTY : this.head.subarray(take);
      this.unparsed -= take;
      if (this.isSkipping) {
        if (nl >= 0) this.isSkipping = false;
        continue;
      }
      if (this.lineBytes - (nl < 0 ? 0 : 1) > this.maxLineBytes) {
        this.isSkipping = nl < 0;
        this.line = [];
        this.lineBytes = 0;
        return { kind: 'too-long' };
      }
      if (nl < 0) continue;
      const raw = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineBytes);
      this.line = [];
      this.lineBytes = 0;
      const end = raw.length > 1 && raw[raw.length - 2] === 0x0d ? raw.length - 2 : raw.length - 1;
      return { kind: 'line', text: raw.toString('utf8', 0, end) };
    }
  }
}
