/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13): changes are announced as they come until the client sends DONE;
 * expunges may be announced meanwhile (RFC 9051 §7.5.1).
 */
import { ImapSyntaxError } from '../wire.js';
import { AUTHED, ok, type ImapCommand } from './types.js';

export const IDLE: ImapCommand = {
  name: 'IDLE',
  states: AUTHED,
  async run(s, args) {
    if (args.length) throw new ImapSyntaxError('IDLE takes no arguments');
    s.write('+ idling\r\n');
    const view = s.state.kind === 'selected' ? s.state.view : undefined;
    let line: string;
    try {
      if (view) {
        await s.announce(true);
        view.onChange = () => void s.announce(true);
        if (view.hasPending) void s.announce(true); // what came while the first announcement ran
      }
      line = await s.nextLine();
    } finally {
      // Also when IDLE ends in an error: changes are announced only where RFC 9051 §7.5.1 allows.
      if (view) view.onChange = undefined;
    }
    if (line.trim().toUpperCase() !== 'DONE') throw new ImapSyntaxError('expected DONE');
    return ok('IDLE terminated');
  },
};
