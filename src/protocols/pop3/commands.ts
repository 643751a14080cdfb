/**
 * The TRANSACTION-state commands on the maildrop listing taken at login (RFC 1939 §5): STAT, LIST,
 * UIDL, RETR, TOP, DELE and RSET. Messages are numbered by that listing; DELE only marks, and the
 * session removes the marked messages at QUIT (UPDATE, RFC 1939 §6). RETR and TOP stream the message.
 */
import type { AuthedUser } from '../../services/auth/index.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { MailboxRecord, MessageSummary } from '../../store/index.js';
import { Pop3Error } from './errors.js';

/** The maildrop as listed at login, and the messages marked deleted since. */
export interface Maildrop {
  user: AuthedUser;
  box: MailboxRecord;
  messages: MessageSummary[];
  /** Message numbers (1-based) marked by DELE. */
  deleted: Set<number>;
}

/** What a maildrop command sees of the session. */
export interface MaildropContext {
  readonly mailboxes: Mailboxes;
  write(line: string): void;
  /** A multi-line response (RFC 1939 §3): status line, lines, then "." alone. */
  multiline(status: string, lines: string[]): void;
  /** Writes content dot-stuffed and ended by "." alone, waiting for a client that is slow to read. */
  sendStuffed(content: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void>;
}

type MaildropCommand = (s: MaildropContext, drop: Maildrop, arg: string) => Promise<void> | void;

/** The messages not marked deleted, with their numbers. */
function live(drop: Maildrop): Array<{ m: MessageSummary; n: number }> {
  return drop.messages.map((m, i) => ({ m, n: i + 1 })).filter(({ n }) => !drop.deleted.has(n));
}

/** The message a number names; a Pop3Error when there is none or it is marked deleted. */
function pick(drop: Maildrop, text: string): { m: MessageSummary; n: number } {
  if (!/^\d{1,10}$/.test(text)) throw new Pop3Error('Invalid message number');
  const n = Number(text);
  const m = drop.messages[n - 1];
  if (!m || drop.deleted.has(n)) throw new Pop3Error(`No message ${n}`);
  return { m, n };
}

/** RETR (the whole message, then \Seen for IMAP clients) and TOP (header and the first lines of the body). */
async function retrieve(s: MaildropContext, drop: Maildrop, arg: string, isTop: boolean): Promise<void> {
  const [which, linesText] = arg.split(' ');
  const { m } = pick(drop, which ?? '');
  if (isTop && (linesText === undefined || !/^\d{1,9}$/.test(linesText)))
    throw new Pop3Error('TOP needs a message number and a line count');
  const stored = (await s.mailboxes.messagesByUid(drop.box.id, [m.uid]))[0];
  if (!stored) return s.write('-ERR Message was removed by another session'); // not the client's mistake: not counted
  if (isTop) {
    s.write('+OK Top of message follows');
    await s.sendStuffed(top(s.mailboxes.openContent(stored), Number(linesText)));
  } else {
    s.write(`+OK ${m.size} octets`);
    await s.sendStuffed(s.mailboxes.openContent(stored));
  }
  if (!isTop && !m.flags.includes('\\Seen')) {
    await s.mailboxes.setFlags(drop.user.accountId, drop.box.id, [m.uid], 'add', ['\\Seen']);
    m.flags.push('\\Seen');
  }
}

export const MAILDROP_COMMANDS = new Map<string, MaildropCommand>([
  [
    'STAT',
    (s, drop) => {
      const l = live(drop);
      s.write(`+OK ${l.length} ${l.reduce((n, { m }) => n + m.size, 0)}`);
    },
  ],
  [
    'LIST',
    (s, drop, arg) => {
      if (arg) {
        const { m, n } = pick(drop, arg);
        return s.write(`+OK ${n} ${m.size}`);
      }
      s.multiline(
        '+OK Scan listing follows',
        live(drop).map(({ m, n }) => `${n} ${m.size}`),
      );
    },
  ],
  [
    'UIDL',
    (s, drop, arg) => {
      if (arg) {
        const { m, n } = pick(drop, arg);
        return s.write(`+OK ${n} ${uidl(m.uid, drop.box.uidValidity)}`);
      }
      s.multiline(
        '+OK Unique-ID listing follows',
        live(drop).map(({ m, n }) => `${n} ${uidl(m.uid, drop.box.uidValidity)}`),
      );
    },
  ],
  ['RETR', (s, drop, arg) => retrieve(s, drop, arg, false)],
  ['TOP', (s, drop, arg) => retrieve(s, drop, arg, true)],
  [
    'DELE',
    (s, drop, arg) => {
      const { n } = pick(drop, arg);
      drop.deleted.add(n);
      s.write(`+OK Message ${n} deleted`);
    },
  ],
  [
    'RSET',
    (s, drop) => {
      drop.deleted.clear();
      s.write('+OK');
    },
  ],
]);

/** Dovecot's default pop3_uidl_format %08Xu%08Xv: UID and UIDVALIDITY in hex. */
export function uidl(uid: number, uidValidity: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(uid)}${hex(uidValidity)}`;
}

/**
 * The header, the blank line and the first `lines` lines of the body (RFC 1939 §7 TOP), streamed:
 * reading stops there, so TOP of a large message holds one chunk at a time.
 */
export async function* top(content: AsyncIterable<Buffer>, lines: number): AsyncGenerator<Buffer> {
  let inHeader = true;
  let left = lines;
  /** Bytes of the current line seen so far (before its LF), and whether they are just a CR. */
  let lineBytes = 0;
  let lineIsCr = false;
  for await (const chunk of content) {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) {
        lineBytes += chunk.length - pos;
        lineIsCr = lineBytes === 1 && chunk[chunk.length - 1] === 0x0d;
        break;
      }
      const total = lineBytes + (nl - pos);
      const isEmpty = total === 0 || (total === 1 && (nl - pos === 1 ? chunk[pos] === 0x0d : lineIsCr));
      lineBytes = 0;
      lineIsCr = false;
      pos = nl + 1;
      if (inHeader) inHeader = !isEmpty;
      else left--;
      if (!inHeader && left <= 0) {
        yield chunk.subarray(0, pos);
        return;
      }
    }
    yield chunk;
  }
}
