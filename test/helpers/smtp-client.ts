/** A minimal SMTP client for load and crash tests: one connection, one transaction at a time. */
import net from 'node:net';

export class RawSmtp {
  private buffer = '';
  private waiters: Array<(reply: string | null) => void> = [];
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.flush();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w(null));
    });
  }

  static async connect(port: number, ehlo = 'client.example'): Promise<RawSmtp> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawSmtp(socket);
    await c.expect('220');
    await c.command(`EHLO ${ehlo}`, '250');
    return c;
  }

  /** The next complete reply (all its lines), or null when the connection closed. */
  private reply(): Promise<string | null> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiters.length) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer);
      if (!m) {
        if (this.closed) this.waiters.splice(0).forEach((w) => w(null));
        return;
      }
      this.buffer = this.buffer.slice(m[0].length);
      this.waiters.shift()!(m[0].trimEnd());
    }
  }

  async expect(code: string): Promise<string> {
    const r = await this.reply();
    if (r === null || !r.startsWith(code)) throw new Error(`expected ${code}, got ${r ?? 'connection closed'}`);
    return r;
  }

  async command(line: string, code: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.expect(code);
  }

  /** One transaction; resolves with the final reply to DATA. */
  async send(from: string, to: string[], content: string): Promise<string> {
    await this.command(`MAIL FROM:<${from}>`, '250');
    for (const r of to) await this.command(`RCPT TO:<${r}>`, '250');
    await this.command('DATA', '354');
    const stuffed = content.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(stuffed.endsWith('\r\n') ? `${stuffed}.\r\n` : `${stuffed}\r\n.\r\n`);
    return this.expect('250');
  }

  close(): void {
    this.socket.end('QUIT\r\n');
  }
}

/**
 * Whether a second client gets MAIL, RCPT and RSET answered while `waiting` (another session's pending
 * reply, held by a hung engine) has not settled: the server stays responsive under the attack.
 */
export async function servedWhile(port: number, waiting: Promise<unknown>, rcpt = 'ann@example.com'): Promise<boolean> {
  let settled = false;
  waiting.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 500));
  const other = await RawSmtp.connect(port);
  await other.command('MAIL FROM:<y@sender.example>', '250');
  await other.command(`RCPT TO:<${rcpt}>`, '250');
  await other.command('RSET', '250');
  other.close();
  return !settled;
}
