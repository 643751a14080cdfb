/** The command registry: one entry per command, with the states it is valid in. */
import { APPEND } from './append.js';
import { COPY, MOVE } from './copy-move.js';
import { CLOSE, EXPUNGE, UNSELECT } from './expunge.js';
import { FETCH } from './fetch.js';
import { IDLE } from './idle.js';
import { MAILBOX_COMMANDS } from './mailbox.js';
import { SEARCH } from './search.js';
import { SESSION_COMMANDS } from './session.js';
import { STORE } from './store.js';
import type { ImapCommand } from './types.js';

export const COMMAND_LIST: readonly ImapCommand[] = [
  ...SESSION_COMMANDS,
  ...MAILBOX_COMMANDS,
  APPEND,
  FETCH,
  STORE,
  COPY,
  MOVE,
  EXPUNGE,
  CLOSE,
  UNSELECT,
  SEARCH,
  IDLE,
];

export const COMMANDS = new Map<string, ImapCommand>(COMMAND_LIST.map((c) => [c.name, c]));
