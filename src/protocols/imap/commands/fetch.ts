/**
 * FETCH and UID FETCH (RFC 9051 §6.4.5, BINARY RFC 3516): the stored columns the items need are read
 * once for the whole set, message files are read ahead in batches, and each response is written item
 * by item so that large sections stream instead of being held whole.
 */
import type { MessageColumnsOmitted } from '../../../store/index.js';
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
import { ImapSyntaxError, type Token } from '../wire.js';
import { resolveSet } from './args.js';
import { ok, SELECTED, YIELD_EVERY, type ImapCommand, type ImapContext } from './types.js';

export async function fetchMessages(
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

export const FETCH: ImapCommand = {
  name: 'FETCH',
  states: SELECTED,
  keepsSequence: true,
  async run(s, args, isUid) {
    await runFetch(s, args, isUid);
    return ok('FETCH completed');
  },
};
