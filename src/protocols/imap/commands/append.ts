/**
 * APPEND with MULTIAPPEND (RFC 3502: every message read and checked before any is stored, all or
 * none) and APPENDUID (UIDPLUS, RFC 4315). A target that does not exist is answered TRYCREATE (RFC
 * 9051 §7.1).
 */
import { isMailError } from '../../../lib/errors.js';
import { ImapNo } from '../errors.js';
import { formatSet } from '../sequence.js';
import { ImapSyntaxError } from '../wire.js';
import { mailboxArg, parseFlags } from './args.js';
import { AUTHED, ok, type ImapCommand } from './types.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 §9). */
function parseDateTime(text: string): Date {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (!m || month < 0) throw new ImapSyntaxError('invalid date-time');
  const offset = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  return new Date(
    Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offset * 60_000,
  );
}

export const APPEND: ImapCommand = {
  name: 'APPEND',
  states: AUTHED,
  async run(s, args) {
    const name = mailboxArg(s, args[0]);
    // Every message is read and checked before any is stored: RFC 3502 §6.3.11, all or none.
    const messages: Array<{ content: Buffer; flags: string[]; internalDate: Date | undefined }> = [];
    let i = 1;
    do {
      let flags: string[] = [];
      let date: Date | undefined;
      if (args[i]?.type === 'list') flags = parseFlags(args[i++]);
      const maybeDate = args[i];
      if (maybeDate && maybeDate.type === 'string' && !maybeDate.isLiteral) {
        date = parseDateTime(maybeDate.value.toString('latin1'));
        i++;
      }
      const content = args[i++];
      if (!content || content.type !== 'string' || !content.isLiteral)
        throw new ImapSyntaxError('APPEND needs the message as a literal');
      if (content.value.length === 0) throw new ImapNo('Empty message', 'CANNOT');
      messages.push({ content: content.value, flags, internalDate: date });
    } while (i < args.length);
    let validity: number;
    let uids: number[];
    try {
      const r = await s.deps.mailboxes.appendAll(s.user.accountId, name, messages);
      validity = r.mailbox.uidValidity;
      uids = r.uids;
    } catch (err) {
      if (isMailError(err, 'MAILBOX_NOT_FOUND')) throw new ImapNo(`Mailbox ${name} does not exist`, 'TRYCREATE');
      throw err;
    }
    return ok('APPEND completed', `APPENDUID ${validity} ${formatSet(uids)}`);
  },
};
