/**
 * Mailbox commands: LIST (RFC 9051 §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
 * SPECIAL-USE RFC 6154), LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, SELECT and
 * EXAMINE. APPEND is in append.ts.
 */
import { SYSTEM_FLAGS } from '../../../mail/flags.js';
import { HIERARCHY_SEPARATOR } from '../../../services/mailboxes/index.js';
import type { MailboxRecord } from '../../../store/index.js';
import { flagsValue } from '../fetch.js';
import { compilePattern, type PatternMatcher } from '../pattern.js';
import { atom, type Value } from '../respond.js';
import { SelectedMailbox } from '../selected.js';
import { astring, ImapSyntaxError, type Token } from '../wire.js';
import { mailboxArg, nameValue } from './args.js';
import { AUTHED, ok, type ImapCommand, type ImapContext } from './types.js';

const SELECTION_OPTIONS = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
const RETURN_OPTIONS = new Set(['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE', 'STATUS']);

/**
 * The reference and pattern joined, matched in linear time. INBOX is case-insensitive (RFC 9051
 * §5.1), the rest of a name is not: a leading "inbox" level of the pattern is read as INBOX, and the
 * name INBOX itself also matches a pattern that matches it in any case ("inb*").
 */
function patternMatcher(reference: string, pattern: string): PatternMatcher {
  const full = reference + pattern;
  const exact = compilePattern(full, HIERARCHY_SEPARATOR, false);
  const inboxFirst = full.replace(/^inbox(?=$|[/*%])/i, 'INBOX');
  const asInbox = inboxFirst === full ? exact : compilePattern(inboxFirst, HIERARCHY_SEPARATOR, false);
  const folded = compilePattern(full, HIERARCHY_SEPARATOR, true);
  // Names as written ("inbox/old" is a name of its own), INBOX's children by an "inbox/…" pattern, INBOX in any case.
  return (name) => exact(name) || asInbox(name) || (name === 'INBOX' && folded(name));
}

/** LIST answers for this many mailboxes, then lets other sessions run before going on. */
const LIST_BATCH = 512;
/** Patterns in one LIST (RFC 5258 §3): each is matched against every mailbox. */
const MAX_LIST_PATTERNS = 64;
/** Characters of all the patterns of one LIST (with the reference): matching costs their length per name character. */
const MAX_LIST_PATTERN_CHARS = 4096;

async function statusValues(s: ImapContext, box: MailboxRecord, items: string[]): Promise<Value[]> {
  const needsMessages = items.some((i) => i === 'UNSEEN' || i === 'SIZE' || i === 'DELETED' || i === 'RECENT');
  const messages = needsMessages ? await s.deps.mailboxes.summaries(box.id) : [];
  const out: Value[] = [];
  for (const item of items) {
    out.push(atom(item));
    switch (item) {
      case 'MESSAGES':
        out.push(box.messageCount);
        break;
      case 'UIDNEXT':
        out.push(box.uidNext);
        break;
      case 'UIDVALIDITY':
        out.push(box.uidValidity);
        break;
      case 'UNSEEN':
        out.push(messages.filter((m) => !m.flags.includes('\\Seen')).length);
        break;
      case 'RECENT':
        out.push(messages.filter((m) => m.uid >= box.firstRecentUid).length);
        break; // not yet claimed by a session
      case 'SIZE':
        out.push(messages.reduce((n, m) => n + m.size, 0));
        break;
      case 'DELETED':
        out.push(messages.filter((m) => m.flags.includes('\\Deleted')).length);
        break;
      case 'HIGHESTMODSEQ':
        out.push(box.highestModseq);
        break;
      default:
        throw new ImapSyntaxError(`unknown STATUS item ${item.slice(0, 20)}`);
    }
  }
  return out;
}

function statusItems(t: Token | undefined): string[] {
  if (!t || t.type !== 'list' || t.items.length === 0) throw new ImapSyntaxError('STATUS needs a list of items');
  return t.items.map((i) => astring(i).toUpperCase());
}

/** LIST's arguments (RFC 5258 §3): selection options, reference, one or more patterns, RETURN options. */
interface ListArgs {
  selection: Set<string>;
  reference: string;
  patterns: string[];
  returns: Set<string>;
  /** LIST-STATUS (RFC 5819): the STATUS items to send with each mailbox listed. */
  statusWanted: string[] | undefined;
}

function parseList(s: ImapContext, args: Token[], isLsub: boolean): ListArgs {
  let i = 0;
  const selection = new Set<string>();
  const first = args[0];
  if (!isLsub && first?.type === 'list') {
    i++;
    for (const o of first.items) {
      const opt = astring(o).toUpperCase();
      if (!SELECTION_OPTIONS.has(opt)) throw new ImapSyntaxError(`unknown LIST selection option ${opt.slice(0, 20)}`);
      selection.add(opt);
    }
    // RFC 5258 §3.1: RECURSIVEMATCH alone is an error.
    if (selection.has('RECURSIVEMATCH') && !selection.has('SUBSCRIBED') && !selection.has('SPECIAL-USE'))
      throw new ImapSyntaxError('RECURSIVEMATCH needs another selection option');
  }
  const reference = mailboxArg(s, args[i++]);
  const patternToken = args[i++];
  if (!patternToken) throw new ImapSyntaxError('LIST needs a reference and a pattern');
  const patterns =
    patternToken.type === 'list' ? patternToken.items.map((p) => mailboxArg(s, p)) : [mailboxArg(s, patternToken)];
  if (patterns.length > MAX_LIST_PATTERNS) throw new ImapSyntaxError(`more than ${MAX_LIST_PATTERNS} LIST patterns`);
  const patternChars = patterns.reduce((n, p) => n + reference.length + p.length, 0);
  if (patternChars > MAX_LIST_PATTERN_CHARS)
    throw new ImapSyntaxError(`LIST patterns of more than ${MAX_LIST_PATTERN_CHARS} characters in all`);
  const returns = new Set<string>();
  let statusWanted: string[] | undefined;
  if (args[i]?.type === 'atom' && (args[i] as { value: string }).value.toUpperCase() === 'RETURN') {
    const opts = args[i + 1];
    if (!opts || opts.type !== 'list') throw new ImapSyntaxError('RETURN needs a list');
    for (let j = 0; j < opts.items.length; j++) {
      const o = astring(opts.items[j]).toUpperCase();
      if (!RETURN_OPTIONS.has(o)) throw new ImapSyntaxError(`unknown LIST return option ${o.slice(0, 20)}`);
      returns.add(o);
      if (o === 'STATUS') statusWanted = statusItems(opts.items[++j]);
    }
    i += 2;
  }
  if (i < args.length) throw new ImapSyntaxError('unexpected LIST arguments');
  return { selection, reference, patterns, returns, statusWanted };
}

async function list(s: ImapContext, args: Token[], isLsub: boolean): Promise<void> {
  const { selection, reference, patterns, returns, statusWanted } = parseList(s, args, isLsub);
  // Names matched between turns of the event loop: fewer when the patterns are long.
  const batch = Math.max(
    16,
    Math.floor(LIST_BATCH / patterns.reduce((n, p) => n + Math.ceil((reference.length + p.length + 1) / 32), 0)),
  );
  const cmd = isLsub ? 'LSUB' : 'LIST';
  if (!isLsub && patterns.length === 1 && patterns[0] === '') {
    s.untagged(atom(cmd), [atom('\\Noselect')], HIERARCHY_SEPARATOR, '');
    return;
  }
  const subscribedOnly = isLsub || selection.has('SUBSCRIBED');
  const specialOnly = selection.has('SPECIAL-USE');
  const isRecursive = selection.has('RECURSIVEMATCH');
  const showsSubscribed = selection.has('SUBSCRIBED') || returns.has('SUBSCRIBED');
  const boxes = await s.deps.mailboxes.list(s.user.accountId);
  const byName = new Map(boxes.map((b) => [b.name, b]));
  const subscribed = new Set(
    subscribedOnly || showsSubscribed
      ? await s.deps.mailboxes.subscriptions(s.user.accountId)
      : boxes.filter((b) => b.isSubscribed).map((b) => b.name),
  );
  const matchers = patterns.map((p) => patternMatcher(reference, p));
  const matches = (name: string) => matchers.some((match) => match(name));
  const isSelected = (name: string) =>
    (!subscribedOnly || subscribed.has(name)) && (!specialOnly || (byName.get(name)?.specialUse ?? null) !== null);
  // RFC 9051 §6.3.7: subscriptions are names, so LSUB and LIST (SUBSCRIBED) also show names without a mailbox.
  const names = new Set(boxes.map((b) => b.name));
  if (subscribedOnly) for (const n of subscribed) names.add(n);
  // One pass over the names, not one per mailbox: which have children (\HasChildren), which have a
  // selected descendant the patterns do not match (RFC 5258 §3.5 CHILDINFO), and, for LSUB, the
  // unsubscribed levels above a subscribed name the patterns miss (RFC 3501 §6.3.9: listed \Noselect).
  const parents = new Set<string>();
  const childInfo = new Set<string>();
  const lsubLevels = new Set<string>();
  let n = 0;
  for (const name of names) {
    if (++n % batch === 0) await new Promise((r) => setImmediate(r));
    const hasMailbox = byName.has(name);
    const isHidden = (isRecursive || isLsub) && isSelected(name) && !matches(name);
    for (let i = name.indexOf(HIERARCHY_SEPARATOR); i > 0; i = name.indexOf(HIERARCHY_SEPARATOR, i + 1)) {
      const level = name.slice(0, i);
      if (hasMailbox) parents.add(level);
      if (isHidden && isRecursive) childInfo.add(level);
      if (isHidden && isLsub && !subscribed.has(level)) lsubLevels.add(level);
    }
  }
  const listed = [...new Set([...names, ...lsubLevels])].sort();
  for (let k = 0; k < listed.length; k++) {
    if (k > 0 && k % batch === 0) await new Promise((r) => setImmediate(r));
    const name = listed[k]!;
    if (!matches(name)) continue;
    const box = byName.get(name);
    const isLsubLevel = lsubLevels.has(name) && !subscribed.has(name);
    const hasChildInfo = isRecursive && childInfo.has(name);
    if (!isSelected(name) && !hasChildInfo && !isLsubLevel) continue;
    const attrs: Value[] = [];
    if (isLsub) {
      if (isLsubLevel || !box) attrs.push(atom('\\Noselect'));
    } else {
      if (!box)
        attrs.push(atom('\\NonExistent')); // RFC 5258 §3.4: a subscribed name without a mailbox
      else attrs.push(atom(parents.has(name) ? '\\HasChildren' : '\\HasNoChildren'));
      if (box?.specialUse) attrs.push(atom(box.specialUse));
      if (showsSubscribed && subscribed.has(name)) attrs.push(atom('\\Subscribed'));
    }
    const extended: Value[] = hasChildInfo
      ? [['CHILDINFO', [selection.has('SUBSCRIBED') ? 'SUBSCRIBED' : 'SPECIAL-USE']]]
      : [];
    s.untagged(atom(cmd), attrs, HIERARCHY_SEPARATOR, nameValue(s, name), ...extended);
    if (statusWanted && box && isSelected(name))
      s.untagged(atom('STATUS'), nameValue(s, name), await statusValues(s, box, statusWanted));
  }
}

async function select(
  s: ImapContext,
  args: Token[],
  readOnly: boolean,
): Promise<{ status: 'OK'; code: string; text: string }> {
  if (args.length < 1) throw new ImapSyntaxError('SELECT needs a mailbox');
  if (s.state.kind === 'selected') {
    s.unselect();
    s.untagged(atom('OK [CLOSED] Previous mailbox closed'));
  }
  const box = await s.deps.mailboxes.get(s.user.accountId, mailboxArg(s, args[0]));
  const messages = await s.deps.mailboxes.summaries(box.id);
  const view = new SelectedMailbox(
    box,
    messages.map((m) => m.uid),
    readOnly,
    s.deps.uidSnapshots,
  );
  view.learnFlags(SYSTEM_FLAGS);
  for (const m of messages) view.learnFlags(m.flags);
  // RFC 3501 §2.3.2: SELECT claims the messages no session has seen as \Recent; EXAMINE only looks.
  const maxUid = messages.at(-1)?.uid ?? 0;
  const recentFrom = readOnly ? box.firstRecentUid : await s.deps.mailboxes.claimRecent(box.id, maxUid);
  for (const m of messages) if (m.uid >= recentFrom) view.recent.add(m.uid);
  s.untagged(atom('FLAGS'), flagsValue(view.flagList()));
  s.untagged(messages.length, atom('EXISTS'));
  if (!s.isRev2) {
    s.untagged(view.recent.size, atom('RECENT'));
    const firstUnseen = messages.findIndex((m) => !m.flags.includes('\\Seen'));
    if (firstUnseen >= 0) s.untagged(atom(`OK [UNSEEN ${firstUnseen + 1}] First unseen`));
  }
  s.untagged(atom(`OK [PERMANENTFLAGS (${readOnly ? '' : [...view.flagList(), '\\*'].join(' ')})] Flags permitted`));
  s.untagged(atom(`OK [UIDVALIDITY ${box.uidValidity}] UIDs valid`));
  s.untagged(atom(`OK [UIDNEXT ${box.uidNext}] Predicted next UID`));
  if (s.isRev2)
    s.untagged(atom('LIST'), box.specialUse ? [atom(box.specialUse)] : [], HIERARCHY_SEPARATOR, nameValue(s, box.name));
  s.select(view);
  return {
    status: 'OK',
    code: readOnly ? 'READ-ONLY' : 'READ-WRITE',
    text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed`,
  };
}

export const MAILBOX_COMMANDS: ImapCommand[] = [
  {
    name: 'LIST',
    states: AUTHED,
    async run(s, args) {
      await list(s, args, false);
      return ok('LIST completed');
    },
  },
  {
    name: 'LSUB',
    states: AUTHED,
    async run(s, args) {
      await list(s, args, true);
      return ok('LSUB completed');
    },
  },
  {
    name: 'CREATE',
    states: AUTHED,
    async run(s, args) {
      await s.deps.mailboxes.create(s.user.accountId, mailboxArg(s, args[0]));
      return ok('CREATE completed');
    },
  },
  {
    name: 'DELETE',
    states: AUTHED,
    async run(s, args) {
      const name = mailboxArg(s, args[0]);
      if (s.state.kind === 'selected' && s.state.view.mailbox.name === name) s.unselect();
      await s.deps.mailboxes.delete(s.user.accountId, name);
      return ok('DELETE completed');
    },
  },
  {
    name: 'RENAME',
    states: AUTHED,
    async run(s, args) {
      if (args.length !== 2) throw new ImapSyntaxError('RENAME needs two names');
      await s.deps.mailboxes.rename(s.user.accountId, mailboxArg(s, args[0]), mailboxArg(s, args[1]));
      return ok('RENAME completed');
    },
  },
  {
    name: 'SUBSCRIBE',
    states: AUTHED,
    async run(s, args) {
      await s.deps.mailboxes.setSubscribed(s.user.accountId, mailboxArg(s, args[0]), true);
      return ok('SUBSCRIBE completed');
    },
  },
  {
    name: 'UNSUBSCRIBE',
    states: AUTHED,
    async run(s, args) {
      await s.deps.mailboxes.setSubscribed(s.user.accountId, mailboxArg(s, args[0]), false);
      return ok('UNSUBSCRIBE completed');
    },
  },
  {
    name: 'STATUS',
    states: AUTHED,
    async run(s, args) {
      if (args.length !== 2) throw new ImapSyntaxError('STATUS needs a mailbox and a list of items');
      const items = statusItems(args[1]);
      const box = await s.deps.mailboxes.get(s.user.accountId, mailboxArg(s, args[0]));
      s.untagged(atom('STATUS'), nameValue(s, box.name), await statusValues(s, box, items));
      return ok('STATUS completed');
    },
  },
  { name: 'SELECT', states: AUTHED, run: (s, args) => select(s, args, false) },
  { name: 'EXAMINE', states: AUTHED, run: (s, args) => select(s, args, true) },
];
