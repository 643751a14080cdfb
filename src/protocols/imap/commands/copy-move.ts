/**
 * COPY, MOVE (RFC 6851) and their UID forms, with COPYUID (UIDPLUS, RFC 4315). A target that does not
 * exist is answered TRYCREATE (RFC 9051 §7.1). MOVE copies and expunges in one store transaction.
 */
import { isMailError } from '../../../lib/errors.js';
import { ImapNo } from '../errors.js';
import { atom } from '../respond.js';
import { formatSet } from '../sequence.js';
import { ImapSyntaxError, type Token } from '../wire.js';
import { mailboxArg, resolveSet } from './args.js';
import { ok, SELECTED, type ImapCommand, type ImapContext } from './types.js';

export const COPY: ImapCommand = {
  name: 'COPY',
  states: SELECTED,
  keepsSequence: true,
  async run(s, args, isUid) {
    return copyMove(s, args, isUid, false);
  },
};

export const MOVE: ImapCommand = {
  name: 'MOVE',
  states: SELECTED,
  async run(s, args, isUid) {
    return copyMove(s, args, isUid, true);
  },
};

async function copyMove(s: ImapContext, args: Token[], isUid: boolean, move: boolean) {
  if (args.length !== 2) throw new ImapSyntaxError(`${move ? 'MOVE' : 'COPY'} needs a sequence set and a mailbox`);
  if (move && s.view.isReadOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
  const targets = resolveSet(s, args[0], isUid);
  const name = mailboxArg(s, args[1]);
  let result;
  try {
    result = await s.deps.mailboxes.copy(
      s.user.accountId,
      s.view.mailbox,
      targets.map((t) => t.uid),
      name,
      move,
    );
  } catch (err) {
    if (isMailError(err, 'MAILBOX_NOT_FOUND')) throw new ImapNo(`Mailbox ${name} does not exist`, 'TRYCREATE');
    throw err;
  }
  const code = result.pairs.length
    ? `COPYUID ${result.target.uidValidity} ${formatSet(result.pairs.map((p) => p[0]))} ${formatSet(result.pairs.map((p) => p[1]))}`
    : undefined;
  if (!move) return ok('COPY completed', code);
  // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
  if (code) s.untagged(atom(`OK [${code}] Moved`));
  for (const seq of s.view.removeUids(result.pairs.map((p) => p[0]))) s.untagged(seq, atom('EXPUNGE'));
  return ok('MOVE completed');
}
