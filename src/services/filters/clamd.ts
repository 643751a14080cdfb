/**
 * A ClamAV clamd client: INSTREAM (clamd(8) "zINSTREAM"), over TCP ("127.0.0.1:3310") or a unix
 * socket ("/run/clamav/clamd.ctl"). The message goes in chunks, each with its 4-byte length, then a
 * zero-length chunk; clamd answers "stream: OK", "stream: <name> FOUND" or "... ERROR". Every scan has
 * a deadline: an engine that hangs is an engine that failed.
 */
import net from 'node:net';

export type ScanResult = { kind: 'clean' } | { kind: 'infected'; name: string };

const CHUNK = 64 * 1024;
const MAX_REPLY = 4096;

export class ClamdError extends Error {
  override readonly name = 'ClamdError';
}

export interface ClamdOptions {
  /** "host:port", "[v6]:port" or an absolute path to clamd's unix socket. */
  address: string;
  timeoutMs: number;
}

export class Clamd {
  constructor(private readonly options: ClamdOptions) {}

  scan(data: Buffer): Promise<ScanResult> {
    return new Promise<ScanResult>((resolve, reject) => {
      const socket = connect(this.options.address);
      let reply = '';
      let settled = false;
      const finish = (err: Error | undefined, result?: ScanResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(result!);
      };
      const timer = setTimeout(
        () => finish(new ClamdError(`clamd did not answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      socket.once('error', (err) => finish(new ClamdError(`clamd: ${err.message}`)));
      socket.on('data', (d: Buffer) => {
        reply += d.toString('latin1');
        if (reply.length > MAX_REPLY) finish(new ClamdError('clamd: reply too long'));
        const end = reply.indexOf('\0');
        if (end >= 0) {
          const line = reply.slice(0, end);
          const parsed = parseReply(line);
          if (parsed) finish(undefined, parsed);
          else finish(new ClamdError(`clamd: ${line}`));
        }
      });
      socket.once('close', () => finish(new ClamdError('clamd closed the connection without an answer')));
      socket.once('connect', () => {
        socket.write('zINSTREAM\0');
        for (let at = 0; at < data.length; at += CHUNK) {
          const chunk = data.subarray(at, at + CHUNK);
          const size = Buffer.alloc(4);
          size.writeUInt32BE(chunk.length);
          socket.write(size);
          socket.write(chunk);
        }
        socket.write(Buffer.alloc(4)); // the zero-length chunk ends the stream
      });
    });
  }
}

function connect(address: string): net.Socket {
  if (address.startsWith('/')) return net.connect({ path: address });
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new ClamdError(`clamd address "${address}" is not host:port or a socket path`);
  return net.connect({ host: m[1] ?? m[2]!, port: Number(m[3]) });
}

/** "stream: OK" → clean; "stream: Eicar-Signature FOUND" → infected; anything else (ERROR) → undefined. */
export function parseReply(line: string): ScanResult | undefined {
  const text = line.replace(/^stream: /, '').trim();
  if (text === 'OK') return { kind: 'clean' };
  const found = /^(.+) FOUND$/.exec(text);
  return found ? { kind: 'infected', name: found[1]! } : undefined;
}
