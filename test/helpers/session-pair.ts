/**
 * One protocol session on one loopback connection, for unit tests that speak the protocol to a
 * session built with stub services: the client end keeps all it got, the session's log lines are
 * kept as objects. Nothing leaves 127.0.0.1.
 */
import net from 'node:net';
import { createLogger } from '../../src/lib/log.js';
import type { Connection, Session } from '../../src/protocols/shared/connection.js';

export interface SessionPair {
  /** Everything the session wrote, as latin1 text. */
  readonly text: string;
  /** The session's log lines, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Sends `line` and CRLF. */
  send(line: string): void;
  /** Resolves with the text from `from` on once it matches; rejects on close or timeout. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  /** Ends the client side and waits for the session to finish. */
  close(): Promise<void>;
}

export async function sessionPair(make: (conn: Connection) => Session): Promise<SessionPair> {
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', sink: { write: (line) => logs.push(JSON.parse(line)) } });
  let finished: Promise<void> = Promise.resolve();
  const server = net.createServer((socket) => {
    const conn: Connection = {
      cid: 'test',
      listener: 'test',
      remoteAddress: '127.0.0.1',
      remotePort: socket.remotePort ?? 0,
      localAddress: '127.0.0.1',
      localPort: socket.localPort ?? 0,
      log,
      socket,
      isTls: false,
      tlsInfo: () => undefined,
      startTls: () => Promise.reject(new Error('no TLS in this test')),
      close: () => socket.end(),
    };
    socket.on('error', () => {});
    finished = make(conn).run();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  await new Promise<void>((resolve) => client.once('connect', resolve));
  let text = '';
  let isClosed = false;
  let wake: Array<() => void> = [];
  const notify = () => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  client.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    notify();
  });
  client.on('close', () => {
    isClosed = true;
    notify();
  });
  return {
    get text() {
      return text;
    },
    logs,
    send(line) {
      client.write(`${line}\r\n`);
    },
    async waitFor(pattern, from = 0, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(text.slice(from));
        if (m) return text.slice(from);
        if (isClosed) throw new Error(`closed before ${pattern}; got ${JSON.stringify(text.slice(from))}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text.slice(from))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async close() {
      client.end();
      client.destroy();
      server.close();
      await finished;
    },
  };
}
