/**
 * A SpamAssassin spamd client (the SPAMC/1.5 protocol of spamd's PROTOCOL document), over TCP
 * ("127.0.0.1:783") or a unix socket ("/run/spamd.sock"). One request per connection, as spamd
 * closes after its answer: `SYMBOLS SPAMC/1.5` with Content-length, then the message; spamd answers
 * `SPAMD/1.1 0 EX_OK`, a `Spam: True ; 15.0 / 5.0` header and the names of the rules that hit,
 * comma-separated. spamd gives no per-rule scores here, so its verdict is one symbol, SPAMD, scored
 * with spamd's total and naming its rules. Every check has a deadline; a reply that is garbage,
 * truncated or too long is a failure, as is a non-zero status.
 */
import { connectEngine, engineCheck, EngineError, EngineStats } from './engine.js';
import type { FilterSymbol, SpamCheck } from './types.js';

/** spamd's SYMBOLS answer is a status line, two header fields and a list of rule names: 64 KiB is ample. */
const MAX_REPLY_BYTES = 64 * 1024;

export interface SpamdOptions {
  /** "host:port", "[v6]:port" or an absolute path to spamd's unix socket. */
  address: string;
  timeoutMs: number;
}

export interface SpamdResult {
  isSpam: boolean;
  score: number;
  /** spamd's own required score (ours are in [filter]). */
  threshold: number;
  rules: string[];
}

export class Spamd {
  readonly stats = new EngineStats();

  constructor(private readonly options: SpamdOptions) {}

  /** Asks spamd for its score and rules. Throws on anything but a complete, well-formed answer. */
  check(data: Buffer): Promise<SpamdResult> {
    return new Promise<SpamdResult>((resolve, reject) => {
      const socket = connectEngine('spamd', this.options.address);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (err: Error | undefined, result?: SpamdResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(result!);
      };
      const timer = setTimeout(
        () => finish(new EngineError(`spamd did not answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      socket.on('error', (err) => finish(new EngineError(`spamd: ${err.message}`)));
      socket.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_REPLY_BYTES) return finish(new EngineError(`spamd: reply longer than ${MAX_REPLY_BYTES} bytes`));
        chunks.push(d);
      });
      // spamd closes the connection after its answer: the answer is complete only then.
      socket.once('close', () => {
        try {
          finish(undefined, parseSpamdReply(Buffer.concat(chunks)));
        } catch (err) {
          finish(err as Error);
        }
      });
      socket.once('connect', () => {
        socket.write(`SYMBOLS SPAMC/1.5\r\nContent-length: ${data.length}\r\n\r\n`);
        socket.end(data);
      });
    });
  }
}

/**
 * Reads spamd's answer to SYMBOLS (PROTOCOL: "SPAMD/1.1 0 EX_OK", then "Spam: True ; 15 / 5" and
 * "Content-length", an empty line and the comma-separated rule names). Throws EngineError on a
 * non-zero status, a missing Spam field, a body shorter or longer than its Content-length, or garbage.
 */
export function parseSpamdReply(reply: Buffer): SpamdResult {
  const text = reply.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const firstLine = text.slice(0, text.indexOf('\r\n') >= 0 ? text.indexOf('\r\n') : text.length);
  const status = /^SPAMD\/\d+\.\d+ (\d+) (.*)$/.exec(firstLine);
  if (!status) throw new EngineError(`spamd: not a SPAMD answer: ${JSON.stringify(firstLine.slice(0, 80))}`);
  if (status[1] !== '0') throw new EngineError(`spamd: ${status[1]} ${status[2]}`);
  if (headEnd < 0) throw new EngineError('spamd: answer ends inside its header');
  let spam: RegExpExecArray | null = null;
  let contentLength: number | undefined;
  for (const line of text.slice(firstLine.length + 2, headEnd).split('\r\n')) {
    const field = /^([A-Za-z-]+): *(.*)$/.exec(line);
    if (!field) throw new EngineError(`spamd: bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = field[1]!.toLowerCase();
    if (name === 'spam') spam = /^(True|False|Yes|No) ; (-?\d+(?:\.\d+)?) \/ (-?\d+(?:\.\d+)?)$/.exec(field[2]!);
    else if (name === 'content-length' && /^\d{1,9}$/.test(field[2]!)) contentLength = Number(field[2]);
  }
  if (!spam) throw new EngineError('spamd: answer without a valid Spam field');
  const body = text.slice(headEnd + 4);
  if (contentLength !== undefined && body.length !== contentLength)
    throw new EngineError(`spamd: body of ${body.length} bytes where Content-length says ${contentLength}`);
  const rules = body
    .trim()
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  if (rules.some((r) => !/^[A-Za-z0-9_.]+$/.test(r))) throw new EngineError('spamd: rule list is not a list of names');
  return {
    isSpam: spam[1] === 'True' || spam[1] === 'Yes',
    score: Number(spam[2]),
    threshold: Number(spam[3]),
    rules,
  };
}

/** spamd's verdict as one symbol: SPAMD, spamd's total score, and the rules that made it. */
export function spamdSymbol(result: SpamdResult): FilterSymbol {
  const rules = result.rules.length ? result.rules.join(', ') : 'no rule';
  return { name: 'SPAMD', score: result.score, why: `spamd: ${rules}` };
}

/** spamd as a check of the filter. */
export function spamdCheck(spamd: Spamd): SpamCheck & { readonly stats: EngineStats } {
  return engineCheck('spamd', spamd.stats, async (input) => [spamdSymbol(await spamd.check(input.data))]);
}
