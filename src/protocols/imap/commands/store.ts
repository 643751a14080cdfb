/** STORE and UID STORE (RFC 9051 §6.4.6): flags set, added or removed, then shown unless .SILENT. */
import type { FlagChange } from '../../../store/index.js';
import { ImapNo } from '../errors.js';
import { flagsValue } from '../fetch.js';
import { atom } from '../respond.js';
import { astring, ImapSyntaxError } from '../wire.js';
import { parseFlags, resolveSet } from './args.js';
import { fetchMessages } from './fetch.js';
import { ok, SELECTED, YIELD_EVERY, type ImapCommand } from './types.js';

export const STORE: ImapCommand = {
  name: 'STORE',
  states: SELECTED,
  keepsSequence: true,
  async run(s, args, isUid) {
    if (args.length !== 3) throw new ImapSyntaxError('STORE needs a sequence set, an action and flags');
    if (s.view.isReadOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
    const targets = resolveSet(s, args[0], isUid);
    const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(astring(args[1]));
    if (!m) throw new ImapSyntaxError('STORE action must be FLAGS, +FLAGS or -FLAGS (optionally .SILENT)');
    const change: FlagChange = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
    const flags = parseFlags(args[2]);
    const uids = targets.map((t) => t.uid);
    await s.deps.mailboxes.setFlags(s.user.accountId, s.view.mailbox.id, uids, change, flags);
    s.view.forgetFlags(uids);
    if (change !== 'remove') s.defineFlags(flags); // a keyword used for the first time is announced, .SILENT or not
    if (!m[2]) {
      const messages = await fetchMessages(s, uids, { bodyStructure: true, envelope: 'all' }); // the flags are all it sends
      for (const [n, t] of targets.entries()) {
        if (n % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
        const msg = messages.get(t.uid);
        if (!msg) continue;
        s.defineFlags(msg.flags);
        const shown = flagsValue(s.flagsOf(t.uid, msg.flags));
        await s.send(t.seq, atom('FETCH'), isUid ? [atom('UID'), t.uid, atom('FLAGS'), shown] : [atom('FLAGS'), shown]);
      }
    }
    return ok('STORE completed'); // messages another session expunged meanwhile are left out (RFC 9051 §6.4.6)
  },
};
