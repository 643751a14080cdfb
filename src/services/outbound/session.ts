/**
 * One SMTP client connection (nodemailer's SMTPConnection) once it is set up: messages sent over it in
 * turn, each with its per-recipient replies; closed with QUIT, or cut off at shutdown with the send in
 * progress ending as a 4.4.2 deferral. Also the failure that applies to a whole attempt (DeliveryError)
 * and the greeting wait that set-up starts with.
 */
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

/** A failure that applies to every recipient of a job (connection, TLS policy, DNS). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly remoteMta: string | null = null,
  ) {
    super(message);
  }
}

/** The remote reply (or the error message) of a failure, on one line. */
export function describe(err: unknown): string {
  const e = err as { response?: string; message?: string };
  return (e.response ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim();
}

/** Connects and waits for the greeting, EHLO and STARTTLS (as the options ask); failures are DeliveryErrors. */
export function connect(conn: SMTPConnection, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    conn.once('error', (err: Error & { responseCode?: number }) => {
      if (settled) return;
      settled = true;
      const code = err.responseCode ?? 0;
      reject(
        new DeliveryError(
          `${host}: ${describe(err)}`,
          code >= 500 && code < 600 && !/TLS|certificate/i.test(err.message),
          host,
        ),
      );
    });
    // A connection closed before its greeting (cut off at shutdown) emits only 'end'.
    conn.once('end', () => {
      if (settled) return;
      settled = true;
      reject(new DeliveryError(`4.4.2 ${host}: connection closed before the greeting`, false, host));
    });
    conn.connect(() => {
      if (settled) return;
      settled = true;
      resolve();
    });
  });
}

export interface SendResult {
  accepted: boolean;
  code: number;
  reply: string;
  rejected: Map<string, { code: number; reply: string }>;
}

/** One SMTP client connection, for several messages in turn. */
export class Session {
  broken = false;
  private cutOff: (() => void) | undefined;

  constructor(
    private readonly conn: SMTPConnection,
    readonly remoteMta: string,
  ) {
    conn.on('error', () => {
      this.broken = true;
    });
    conn.on('end', () => {
      this.broken = true;
    });
  }

  send(
    envelope: {
      from: string;
      to: string[];
      dsn?: {
        ret?: string | undefined;
        envid?: string | undefined;
        notify?: string | undefined;
        orcpt?: string | undefined;
      };
    },
    content: Buffer,
  ): Promise<SendResult> {
    return new Promise((settle) => {
      const resolve = (r: SendResult) => {
        this.cutOff = undefined;
        settle(r);
      };
      // A closed SMTPConnection drops its pending callbacks: abort() settles through this instead.
      this.cutOff = () =>
        resolve({
          accepted: false,
          code: 451,
          reply: `4.4.2 ${this.remoteMta}: connection closed at shutdown`,
          rejected: new Map(),
        });
      this.conn.send(envelope as Parameters<SMTPConnection['send']>[0], content, (err, info) => {
        if (!this.cutOff) return;
        const rejected = new Map<string, { code: number; reply: string }>();
        const errors = (info?.rejectedErrors ??
          (err as { rejectedErrors?: unknown[] } | null)?.rejectedErrors ??
          []) as Array<{ recipient?: string; responseCode?: number; response?: string; message?: string }>;
        for (const e of errors)
          if (e.recipient) rejected.set(e.recipient.toLowerCase(), { code: e.responseCode ?? 451, reply: describe(e) });
        if (err) {
          const e = err as { responseCode?: number; code?: string };
          // No reply code: the connection broke or timed out, so nothing is known to be delivered.
          if (!e.responseCode) this.broken = true;
          return resolve({
            accepted: false,
            code: e.responseCode ?? 451,
            reply: e.responseCode ? describe(err) : `4.4.2 ${this.remoteMta}: ${describe(err)}`,
            rejected,
          });
        }
        resolve({ accepted: true, code: 250, reply: info.response, rejected });
      });
    });
  }

  close(): void {
    if (this.broken) this.conn.close();
    else this.conn.quit();
  }

  /** Shutdown: the socket goes now (no QUIT, no waiting for the peer); a send in progress ends as a 4.4.2 deferral. */
  abort(): void {
    this.broken = true;
    destroyConnection(this.conn);
    this.cutOff?.();
  }
}

/** Closes a connection now: no QUIT, no waiting for the peer. */
export function destroyConnection(conn: SMTPConnection): void {
  conn.close();
  (conn as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
}
