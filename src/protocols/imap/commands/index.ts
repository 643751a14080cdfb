/** The command registry: one entry per command, with the states it is valid in. */
import { MAILBOX_COMMANDS } from './mailbox.js';
import { MESSAGE_COMMANDS } from './message.js';
import { SESSION_COMMANDS } from './session.js';
import type { ImapCommand } from './types.js';

export const COMMANDS = new Map<string, ImapCommand>(
  [...SESSION_COMMANDS, ...MAILBOX_COMMANDS, ...MESSAGE_COMMANDS].map((c) => [c.name, c]),
);
