/**
 * Commands on the selected mailbox: FETCH, STORE, COPY, MOVE (RFC 6851), EXPUNGE, UID EXPUNGE
 * (RFC 4315), CLOSE, UNSELECT (RFC 3691), SEARCH with ESEARCH (RFC 4731), IDLE (RFC 2177).
 */
import libmime from 'libmime';
import type { FlagChange, MessageColumnsOmitted, MessageSummary } from '../../../store/index.js';
import type { StoredMessage } from '../../../services/mailboxes/index.js';
import { ConnectionGone, ImapNo } from '../errors.js';
import {
  binaryBytes,
  bodyStructureValue,
  envelopeValue,
  flagsValue,
  internalDate,
  isKnownEncoding,
  parseFetchItems,
  partial,
  sectionBytes,
  shift,
  type FetchItem,
  type FetchSource,
} from '../fetch.js';
import { Atom, atom, Literal, StreamLiteral, type Value } from '../respond.js';
import {
  envelopePrefilter,
  hasHeaderKey,
  matches,
  parseSearch,
  textKeys,
  type SearchKey,
  type SearchTarget,
} from '../search.js';
import { formatSet, lowerBound, mergeSet, parseSequenceSet } from '../sequence.js';
import { astring, ImapSyntaxError, type Token } from '../wire.js';
import { mailboxArg } from './mailbox.js';
import { ok, SELECTED, type ImapCommand, type ImapContext } from './types.js';

/**
 * The messages a sequence set names, as (seq, uid) in ascending order. The set is merged first and
 * walked range by range (UIDs found by binary search), so its cost is what it names.
 */
function resolveSet(s: ImapContext, t: Token | undefined, isUid: boolean): Array<{ seq: number; uid: number }> {
  const text = astring(t);
  const set = parseSequenceSet(text);
  const view = s.view;
  const uids = view.uids;
  const out: Array<{ seq: number; uid: number }> = [];
  if (isUid) {
    for (const [lo, hi] of mergeSet(set, view.maxUid)) {
      for (let i = lowerBound(uids, lo); i < uids.length && uids[i]! <= hi; i++)
        out.push({ seq: i + 1, uid: uids[i]! });
    }
  } else {
    const max = view.exists;
    if (max === 0) throw new ImapSyntaxError('the mailbox is empty');
    for (const [a, b] of set) {
      const hi = b === Infinity ? max : b;
      const lo = a === Infinity ? max : a;
      if (Math.max(lo, hi) > max && !(a === Infinity || b === Infinity))
        throw new ImapSyntaxError('sequence number beyond the last message');
    }
    for (const [lo, hi] of mergeSet(set, max)) {
      for (let seq = lo; seq <= Math.min(hi, max); seq++) out.push({ seq, uid: uids[seq - 1]! });
    }
  }
  return out;
}

async function fetchMessages(
  s: ImapContext,
  uids: number[],
  omit?: MessageColumnsOmitted,
): Promise<Map<number, StoredMessage>> {
  const map = new Map<number, StoredMessage>();
  if (uids.length === 0) return map;
  const all = await s.deps.mailboxes.messagesRange(s.view.mailbox.id, uids[0]!, uids[uids.length - 1]!, omit);
  for (const m of all) map.set(m.uid, m);
  return map;
}

/** FETCH reads message files ahead of the response it writes: up to this many, and this many bytes. */
const READ_AHEAD = 32;
const READ_AHEAD_BYTES = 2 * 1024 * 1024;

/**
 * Message contents for one FETCH, read ahead in batches so that file reads overlap with each other
 * and with writing the responses, instead of one read round trip per message.
 */
class ContentReader {
  private readonly reads = new Map<number, Promise<Buffer>>();
  private next = 0;
  private aheadBytes = 0;

  constructor(
    private readonly s: ImapContext,
    private readonly list: StoredMessage[],
    private readonly wanted: (m: StoredMessage) => boolean,
  ) {}

  /** The content of list[i]; tops the read-ahead up once it has run half empty. */
  get(i: number): Promise<Buffer> {
    this.next = Math.max(this.next, i);
    if (this.reads.size <= READ_AHEAD / 2) {
      for (
        ;
        this.next < this.list.length &&
        this.reads.size < READ_AHEAD &&
        (this.reads.size === 0 || this.aheadBytes < READ_AHEAD_BYTES);
        this.next++
      ) {
        const m = this.list[this.next]!;
        if (!this.wanted(m)) continue;
        if (m.size > STREAM_ABOVE_BYTES && this.reads.size > 0) break; // a large one is read when its turn comes
        const read = this.s.deps.mailboxes.content(m);
        read.catch(() => undefined); // a read never awaited (client gone) must not be an unhandled rejection
        this.reads.set(this.next, read);
        this.aheadBytes += m.size;
      }
    }
    const read = this.reads.get(i);
    if (!read) return this.s.deps.mailboxes.content(this.list[i]!);
    this.reads.delete(i);
    this.aheadBytes -= this.list[i]!.size;
    return read;
  }
}

function source(m: StoredMessage, content: Buffer): FetchSource {
  return { content, root: shift(m.bodyStructure, Buffer.byteLength(m.headerPrefix)) };
}

async function runFetch(s: ImapContext, args: Token[], isUid: boolean) {
  if (args.length < 2) throw new ImapSyntaxError('FETCH needs a sequence set and items');
  const targets = resolveSet(s, args[0], isUid);
  const items = parseFetchItems(args[1]);
  if (args.length > 2) throw new ImapSyntaxError('unexpected FETCH arguments');
  if (isUid && !items.some((i) => i.kind === 'UID')) items.unshift({ kind: 'UID' });
  const needsSource = items.some(
    (i) =>
      (i.kind.includes('[') && !isWholeBody(i)) ||
      (i.kind.startsWith('RFC822') && i.kind !== 'RFC822.SIZE' && i.kind !== 'RFC822') ||
      i.kind === 'BINARY.SIZE',
  );
  const needsWhole = items.some(isWholeBody);
  const setsSeen =
    !s.view.isReadOnly &&
    items.some((i) =>
      i.kind === 'BODY[]' || i.kind === 'BINARY[]' ? !i.peek : i.kind === 'RFC822' || i.kind === 'RFC822.TEXT',
    );
  // Only the stored columns these items use: FETCH 1:* (FLAGS ENVELOPE) reads no body structures.
  const omit: MessageColumnsOmitted = {
    bodyStructure: !needsSource && !items.some((i) => i.kind === 'BODYSTRUCTURE' || i.kind === 'BODY'),
    envelope: items.some((i) => i.kind === 'ENVELOPE') ? 'when-wired' : 'all',
  };
  const messages = await fetchMessages(
    s,
    targets.map((t) => t.uid),
    omit,
  );
  if (setsSeen) {
    const unseen = targets
      .filter((t) => !(messages.get(t.uid)?.flags ?? ['\\Seen']).includes('\\Seen'))
      .map((t) => t.uid);
    if (unseen.length) {
      await s.deps.mailboxes.setFlags(s.user.accountId, s.view.mailbox.id, unseen, 'add', ['\\Seen']);
      s.view.forgetFlags(unseen);
      for (const uid of unseen) messages.get(uid)!.flags.push('\\Seen');
      if (!items.some((i) => i.kind === 'FLAGS')) items.push({ kind: 'FLAGS' });
    }
  }
  const found = targets.filter((t) => messages.has(t.uid)); // others were expunged by another session meanwhile: nothing to say (RFC 9051 §6.4.5)
  const showsFlags = items.some((i) => i.kind === 'FLAGS');
  const list = found.map((t) => messages.get(t.uid)!);
  // Whole messages above STREAM_ABOVE_BYTES are streamed, not read ahead.
  const wanted = (m: StoredMessage) => needsSource || (needsWhole && m.size <= STREAM_ABOVE_BYTES);
  const reader = list.some(wanted) ? new ContentReader(s, list, wanted) : undefined;
  for (let i = 0; i < found.length; i++) {
    if (s.isClosed) throw new ConnectionGone(); // the client went: read no more messages for it
    const m = list[i]!;
    const content = reader && wanted(m) ? await reader.get(i) : undefined;
    const src = needsSource ? source(m, content!) : undefined;
    // Checked before the response starts: once its first item is on the wire it cannot become a NO.
    if (showsFlags) s.defineFlags(m.flags);
    for (const item of items) {
      if ((item.kind === 'BINARY[]' || item.kind === 'BINARY.SIZE') && !isKnownEncoding(src!, item.section))
        throw new ImapNo('Unknown content transfer encoding', 'UNKNOWN-CTE');
    }
    await s.sendFetch(found[i]!.seq, fetchValues(s, items, m, content, src));
    // A large FETCH lets other sessions run now and then, even when its client reads fast.
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
  }
}

/** Messages answered between turns of the event loop. */
const YIELD_EVERY = 1000;

/** Each item's values, made when the response gets to it. */
function* fetchValues(
  s: ImapContext,
  items: FetchItem[],
  m: StoredMessage,
  content: Buffer | undefined,
  src: FetchSource | undefined,
): Generator<Value[]> {
  for (const item of items) {
    if (item.kind === 'FLAGS') yield [atom('FLAGS'), flagsValue(s.flagsOf(m.uid, m.flags))];
    else yield isWholeBody(item) ? wholeBody(s, item, m, content) : fetchItem(item, m, src);
  }
}

/** BODY[] and RFC822: the whole message, streamed from the blob store. */
function isWholeBody(i: FetchItem): boolean {
  return (
    i.kind === 'RFC822' || (i.kind === 'BODY[]' && i.section.path.length === 0 && i.section.kind === '' && !i.partial)
  );
}

const STREAM_ABOVE_BYTES = 256 * 1024; // smaller messages are read whole: one read beats a stream

function wholeBody(s: ImapContext, item: FetchItem, m: StoredMessage, content: Buffer | undefined): Value[] {
  const label = atom(item.kind === 'RFC822' ? 'RFC822' : 'BODY[]');
  if (content) return [label, new Literal(content)];
  return [label, new StreamLiteral(m.size, () => s.deps.mailboxes.openContent(m))];
}

function fetchItem(item: FetchItem, m: StoredMessage, src: FetchSource | undefined): Value[] {
  switch (item.kind) {
    case 'UID':
      return [atom('UID'), m.uid];
    case 'FLAGS':
      return [atom('FLAGS'), flagsValue(m.flags)];
    case 'INTERNALDATE':
      return [atom('INTERNALDATE'), internalDate(m.internalDate)];
    case 'RFC822.SIZE':
      return [atom('RFC822.SIZE'), m.size];
    case 'MODSEQ':
      return [atom('MODSEQ'), [m.modseq]];
    case 'ENVELOPE':
      return [atom('ENVELOPE'), m.envelopeWire ? new Atom(m.envelopeWire, true) : envelopeValue(m.envelope)]; // stored at delivery when plain ASCII
    case 'BODYSTRUCTURE':
      return [atom('BODYSTRUCTURE'), bodyStructureValue(m.bodyStructure, true)];
    case 'BODY':
      return [atom('BODY'), bodyStructureValue(m.bodyStructure, false)];
    case 'RFC822':
      return [atom('RFC822'), new Literal(src!.content)]; // served by wholeBody()
    case 'RFC822.HEADER':
      return [atom('RFC822.HEADER'), new Literal(sectionBytes(src!, { path: [], kind: 'HEADER', fields: [] })!)];
    case 'RFC822.TEXT':
      return [atom('RFC822.TEXT'), new Literal(sectionBytes(src!, { path: [], kind: 'TEXT', fields: [] })!)];
    case 'BODY[]': {
      const data = sectionBytes(src!, item.section);
      const label = item.partial ? `${item.name}<${item.partial[0]}>` : item.name;
      return [atom(label), data === null ? Buffer.alloc(0) : new Literal(partial(data, item.partial))];
    }
    case 'BINARY[]': {
      const data = binaryBytes(src!, item.section);
      if (data === 'unknown-cte') throw new ImapNo('Unknown content transfer encoding', 'UNKNOWN-CTE');
      const label = item.partial ? `${item.name}<${item.partial[0]}>` : item.name;
      return [atom(label), data === null ? null : new Literal(partial(data, item.partial), true)];
    }
    case 'BINARY.SIZE': {
      const data = binaryBytes(src!, item.section);
      if (data === 'unknown-cte') throw new ImapNo('Unknown content transfer encoding', 'UNKNOWN-CTE');
      return [atom(item.name), data === null ? 0 : data.length];
    }
  }
}

export function parseFlags(t: Token | undefined): string[] {
  if (!t) throw new ImapSyntaxError('missing flags');
  const list = t.type === 'list' ? t.items : [t];
  return list.map((f) => {
    const v = astring(f);
    if (!/^\\?[\x21-\x7e]+$/.test(v) || /[(){%*"\]]/.test(v.replace(/^\\/, '')))
      throw new ImapSyntaxError(`invalid flag ${v.slice(0, 30)}`);
    if (v.toLowerCase() === '\\recent') throw new ImapSyntaxError('\\Recent cannot be stored');
    return v;
  });
}

async function expungeUids(s: ImapContext, only?: Set<number>): Promise<void> {
  const messages = await s.deps.mailboxes.summaries(s.view.mailbox.id);
  const doomed = messages.filter((m) => m.flags.includes('\\Deleted') && (!only || only.has(m.uid))).map((m) => m.uid);
  const gone = await s.deps.mailboxes.expunge(s.user.accountId, s.view.mailbox.id, doomed);
  for (const seq of s.view.removeUids(gone)) s.untagged(seq, atom('EXPUNGE'));
}

export const MESSAGE_COMMANDS: ImapCommand[] = [
  {
    name: 'FETCH',
    states: SELECTED,
    keepsSequence: true,
    async run(s, args, isUid) {
      await runFetch(s, args, isUid);
      return ok('FETCH completed');
    },
  },
  {
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
          await s.send(
            t.seq,
            atom('FETCH'),
            isUid ? [atom('UID'), t.uid, atom('FLAGS'), shown] : [atom('FLAGS'), shown],
          );
        }
      }
      return ok('STORE completed'); // messages another session expunged meanwhile are left out (RFC 9051 §6.4.6)
    },
  },
  {
    name: 'COPY',
    states: SELECTED,
    keepsSequence: true,
    async run(s, args, isUid) {
      return copyMove(s, args, isUid, false);
    },
  },
  {
    name: 'MOVE',
    states: SELECTED,
    async run(s, args, isUid) {
      return copyMove(s, args, isUid, true);
    },
  },
  {
    name: 'EXPUNGE',
    states: SELECTED,
    async run(s, args, isUid) {
      if (s.view.isReadOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
      const only = isUid ? new Set(resolveSet(s, args[0], true).map((t) => t.uid)) : undefined;
      await expungeUids(s, only);
      return ok('EXPUNGE completed');
    },
  },
  {
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
  },
  {
    name: 'UNSELECT',
    states: SELECTED,
    async run(s) {
      s.unselect();
      return ok('UNSELECT completed');
    },
  },
  {
    name: 'SEARCH',
    states: SELECTED,
    keepsSequence: true,
    async run(s, args, isUid, tag) {
      const spec = parseSearch(args);
      if (!['UTF-8', 'US-ASCII'].includes(spec.charset))
        throw new ImapNo(`Charset ${spec.charset} is not supported`, 'BADCHARSET (UTF-8 US-ASCII)');
      const view = s.view;
      // TEXT and BODY come from the full-text index built at delivery, not from reading every message.
      const asked = new Map<string, Set<number>>(); // the same key twice is one query
      for (const k of textKeys(spec.key)) {
        const key = `${k.where}\0${k.value}`;
        k.uids =
          asked.get(key) ?? new Set(await s.deps.mailboxes.searchText(view.mailbox.id, k.value, k.where === 'body'));
        asked.set(key, k.uids);
      }
      const found: number[] = [];
      const indexOnly = textOnly(spec.key);
      if (indexOnly) {
        // Only index keys: the answer is the intersection of their sets, without reading any message.
        const sets = textKeys(spec.key).map((k) => k.uids!);
        view.uids.forEach((uid, i) => {
          if (sets.every((set) => set.has(uid))) found.push(isUid ? uid : i + 1);
        });
      } else {
        // The stored envelope is loaded only when a header key may need it.
        const prefilter = envelopePrefilter(spec.key);
        const messages: Array<MessageSummary & Partial<StoredMessage>> =
          prefilter !== undefined
            ? await s.deps.mailboxes.messagesWithEnvelopeText(view.mailbox.id, prefilter)
            : hasHeaderKey(spec.key)
              ? await s.deps.mailboxes.messages(view.mailbox.id)
              : await s.deps.mailboxes.summaries(view.mailbox.id);
        const byUid = new Map(messages.map((m) => [m.uid, m]));
        for (let i = 0; i < view.uids.length; i++) {
          if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r)); // other sessions run meanwhile
          if (s.isClosed) throw new ConnectionGone();
          const m = byUid.get(view.uids[i]!);
          if (!m) continue;
          const target: SearchTarget = {
            seq: i + 1,
            uid: m.uid,
            flags: m.flags,
            isRecent: view.recent.has(m.uid),
            size: m.size,
            internalDate: m.internalDate,
            modseq: m.modseq,
            content: async () =>
              s.deps.mailboxes.content(
                m.blobHash
                  ? (m as StoredMessage)
                  : (await s.deps.mailboxes.messagesByUid(view.mailbox.id, [m.uid]))[0]!,
              ),
            envelopeText: memo((field) => (m.envelope ? envelopeField(m as StoredMessage, field) : undefined)),
          };
          if (await matches(spec.key, target, { maxSeq: view.exists, maxUid: view.maxUid }))
            found.push(isUid ? m.uid : i + 1);
        }
      }
      if (spec.ret || s.isRev2) {
        const ret = spec.ret ?? new Set(['ALL'] as const);
        const out: Value[] = [atom('ESEARCH'), [atom('TAG'), tag]];
        if (isUid) out.push(atom('UID'));
        if (found.length) {
          if (ret.has('MIN')) out.push(atom('MIN'), found[0]!); // found is ascending (a spread of 150,000 overflows the stack)
          if (ret.has('MAX')) out.push(atom('MAX'), found[found.length - 1]!);
          if (ret.has('ALL')) out.push(atom('ALL'), atom(formatSet(found)));
        }
        if (ret.has('COUNT')) out.push(atom('COUNT'), found.length);
        s.untagged(...out);
      } else {
        s.untagged(atom(['SEARCH', ...found].join(' ')));
      }
      return ok('SEARCH completed');
    },
  },
  {
    name: 'IDLE',
    states: ['authenticated', 'selected'],
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
  },
];

/** A field's text computed once per message, however many keys ask for it. */
function memo(f: (field: string) => string | undefined): (field: string) => string | undefined {
  const seen = new Map<string, string | undefined>();
  return (field) => {
    if (!seen.has(field)) seen.set(field, f(field));
    return seen.get(field);
  };
}

function decodeWords(text: string): string {
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/** A search made only of TEXT/BODY keys (and ALL), combined with AND. */
function textOnly(k: SearchKey): boolean {
  if (k.op === 'text') return true;
  if (k.op === 'and') return k.keys.every((x) => x.op === 'all' || textOnly(x)) && k.keys.some((x) => x.op === 'text');
  return false;
}

/** SUBJECT, FROM, TO, CC, BCC from the stored envelope: display names and addresses as text. */
function envelopeField(m: StoredMessage, field: string): string | undefined {
  const e = m.envelope;
  if (!e) return undefined;
  if (field === 'subject') return decodeWords(e.subject ?? '');
  if (field === 'message-id') return e.messageId ?? '';
  if (field === 'in-reply-to') return e.inReplyTo ?? '';
  const list =
    field === 'from' ? e.from : field === 'to' ? e.to : field === 'cc' ? e.cc : field === 'bcc' ? e.bcc : undefined;
  if (!list) return undefined;
  return list.map((a) => `${decodeWords(a.name ?? '')} <${a.mailbox ?? ''}@${a.host ?? ''}>`).join(', ');
}

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
    if ((err as { code?: string }).code === 'MAILBOX_NOT_FOUND')
      throw new ImapNo(`Mailbox ${name} does not exist`, 'TRYCREATE');
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
