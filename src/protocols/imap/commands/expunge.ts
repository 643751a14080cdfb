/**
 * Leaving and cleaning the selected mailbox: EXPUNGE, UID EXPUNGE (UIDPLUS, RFC 4315), CLOSE (expunges
 * silently, RFC 9051 §6.4.1) and UNSELECT (RFC 3691: closes without expunging).
 */
import { ImapNo } from '../errors.js';
import { atom } from '../respond.js';
import { resolveSet } from './args.js';
import { ok, SELECTED, type ImapCommand, type ImapContext } from './types.js';

async function expungeUids(s: ImapContext, only?: Set<number>): Promise<void> {
  const messages = await s.deps.mailboxes.summaries(s.view.mailbox.id);
  const doomed = messages.filter((m) => m.flags.includes('\\Deleted') && (!only || only.has(m.uid))).map((m) => m.uid);
  const gone = await s.deps.mailboxes.expunge(s.user.accountId, s.view.mailbox.id, doomed);
  for (const seq of s.view.removeUids(gone)) s.untagged(seq, atom('EXPUNGE'));
}

export const EXPUNGE: ImapCommand = {
  name: 'EXPUNGE',
  states: SELECTED,
  async run(s, args, isUid) {
    if (s.view.isReadOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
    const only = isUid ? new Set(resolveSet(s, args[0], true).map((t) => t.uid)) : undefined;
    await expungeUids(s, only);
    return ok('EXPUNGE completed');
  },
};

export const CLOSE: ImapCommand = {
  name: 'CLOSE',
  states: SELECTED,
  async run(s) {
    if (!s.view.isReadOnly) {
      const messages = await s.deps.mailboxes.summaries(s.view.mailbox.id);
      await s.deps.mailboxes.expunge(
        s.user.accountId,
        s.view.mailbox.id,
        messages.filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid),
      );
    }
    s.unselect();
    return ok('CLOSE completed');
  },
};

export const UNSELECT: ImapCommand = {
  name: 'UNSELECT',
  states: SELECTED,
  async run(s) {
    s.unselect();
    return ok('UNSELECT completed');
  },
};
