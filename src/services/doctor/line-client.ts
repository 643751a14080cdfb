/**
 * The doctor's own small line client (services may not import protocols): connect, with or without
 * implicit TLS, read lines with a deadline per read, SMTP replies, IMAP tagged commands, POP3
 * multi-line answers, and STARTTLS in place.
 */
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';

/** The connection itself failed (refused, unreachable, timed out): the port is closed, not misbehaving. */
export class ConnectError extends Error {}

/** A line-oriented client conversation with a deadline per read; STARTTLS upgrades in place. */
export class Conversation {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private closed: Error | undefined;
  tls: TLSSocket | undefined;

  private constructor(
    private socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  static open(host: string, port: number, timeoutMs: number, tlsName?: string): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(`connection timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const options = { host, port, servername: tlsName, rejectUnauthorized: false };
      const socket: net.Socket = tlsName ? tls.connect(options) : net.connect({ host, port });
      socket.once(tlsName ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        const c = new Conversation(socket, timeoutMs);
        if (tlsName) c.tls = socket as TLSSocket;
        resolve(c);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ConnectError((err as NodeJS.ErrnoException).code ?? err.message));
      });
    });
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer = (this.buffer + d).slice(-65536);
      this.wake();
    });
    socket.on('close', () => {
      this.closed ??= new Error('connection closed');
      this.wake();
    });
    socket.on('error', (err) => {
      this.closed = err;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.closed) throw this.closed;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${this.timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends `command` (if given) and reads one line. */
  async line(command?: string): Promise<string> {
    if (command !== undefined) this.socket.write(`${command}\r\n`);
    return this.until(() => {
      const at = this.buffer.indexOf('\r\n');
      if (at < 0) return undefined;
      const l = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      return l;
    });
  }

  /** An SMTP reply, all its lines (RFC 5321 §4.2.1: "250-" continues, "250 " ends). */
  async smtpReply(): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      lines.push(l);
      if (!/^\d{3}-/.test(l)) return lines.join('\r\n');
    }
  }

  async command(text: string): Promise<string> {
    this.socket.write(`${text}\r\n`);
    const reply = await this.smtpReply();
    if (!/^[23]/.test(reply)) throw new Error(`"${text.split(' ')[0]}" answered "${reply.split('\r\n')[0]}"`);
    return reply;
  }

  /** An IMAP command; returns its untagged lines, throws unless the tagged reply is OK. */
  async imap(command: string): Promise<string> {
    const tag = command.split(' ')[0]!;
    this.socket.write(`${command}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith(`${tag} `)) {
        if (!/^\S+ OK/i.test(l)) throw new Error(`"${command}" answered "${l}"`);
        return lines.join('\r\n');
      }
      lines.push(l);
    }
  }

  /** A POP3 multi-line answer (RFC 1939 §3), without its terminating ".". */
  async pop3Multi(command: string): Promise<string> {
    const first = await this.line(command);
    if (!first.startsWith('+OK')) throw new Error(`"${command}" answered "${first}"`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return lines.join('\r\n');
      lines.push(l);
    }
  }

  upgrade(servername: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.removeAllListeners('data');
      this.socket.removeAllListeners('close');
      this.socket.removeAllListeners('error');
      const t = tls.connect({ socket: this.socket, servername, rejectUnauthorized: false });
      const timer = setTimeout(() => {
        t.destroy();
        reject(new Error(`TLS handshake timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      t.once('secureConnect', () => {
        clearTimeout(timer);
        this.socket = t;
        this.tls = t;
        this.buffer = '';
        this.attach(t);
        resolve();
      });
      t.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`TLS handshake failed: ${err.message}`));
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
