/**
 * The server's most recent log lines, kept in memory for the admin UI's log viewer (the newest N, each
 * cut to a bounded length). Logs hold no secrets (log.ts masks them), so what is shown is what the
 * log file has.
 */
import type { LogSink } from './log.js';

export class RecentLog implements LogSink {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(
    private readonly max = 5000,
    private readonly maxLine = 4096,
  ) {}

  write(line: string): void {
    const text = line.length > this.maxLine ? line.slice(0, this.maxLine) : line.trimEnd();
    if (this.lines.length < this.max) this.lines.push(text);
    else this.lines[this.next] = text;
    this.next = (this.next + 1) % this.max;
  }

  /** Newest first: the lines whose text contains every word of `query` (a connection id, an address, a queue id …). */
  search(query: string, limit: number): Array<Record<string, unknown>> {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const out: Array<Record<string, unknown>> = [];
    for (let i = 1; i <= this.lines.length && out.length < limit; i++) {
      const line = this.lines[(this.next - i + this.lines.length) % this.lines.length]!;
      const lower = line.toLowerCase();
      if (!words.every((w) => lower.includes(w))) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        out.push({ msg: line }); // a line cut at maxLine
      }
    }
    return out;
  }
}

/** A sink writing to both. */
export function teeSink(a: LogSink, b: LogSink): LogSink {
  return {
    write: (line) => {
      a.write(line);
      b.write(line);
    },
  };
}
