/**
 * SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731). TEXT and BODY come from the
 * full-text index built at delivery; other keys are tested per message on the stored summary, the
 * stored envelope where a header key can use it, and the content only when a key needs it.
 */
import libmime from 'libmime';
import type { MessageSummary } from '../../../store/index.js';
import type { StoredMessage } from '../../../services/mailboxes/index.js';
import { ConnectionGone, ImapNo } from '../errors.js';
import { atom, type Value } from '../respond.js';
import {
  envelopePrefilter,
  hasHeaderKey,
  matches,
  parseSearch,
  textKeys,
  type SearchKey,
  type SearchSpec,
  type SearchTarget,
} from '../search.js';
import type { SelectedMailbox } from '../selected.js';
import { formatSet } from '../sequence.js';
import { ok, SELECTED, YIELD_EVERY, type ImapCommand, type ImapContext } from './types.js';

export const SEARCH: ImapCommand = {
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
    if (textOnly(spec.key)) {
      // Only index keys: the answer is the intersection of their sets, without reading any message.
      const sets = textKeys(spec.key).map((k) => k.uids!);
      view.uids.forEach((uid, i) => {
        if (sets.every((set) => set.has(uid))) found.push(isUid ? uid : i + 1);
      });
    } else {
      await matchEach(s, view, spec.key, isUid, found);
    }
    answer(s, spec, found, isUid, tag);
    return ok('SEARCH completed');
  },
};

/** Tests the key on every message of the selected mailbox, in order; pushes the matches to `found`. */
async function matchEach(
  s: ImapContext,
  view: SelectedMailbox,
  key: SearchKey,
  isUid: boolean,
  found: number[],
): Promise<void> {
  // The stored envelope is loaded only when a header key may need it.
  const prefilter = envelopePrefilter(key);
  const messages: Array<MessageSummary & Partial<StoredMessage>> =
    prefilter !== undefined
      ? await s.deps.mailboxes.messagesWithEnvelopeText(view.mailbox.id, prefilter)
      : hasHeaderKey(key)
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
          m.blobHash ? (m as StoredMessage) : (await s.deps.mailboxes.messagesByUid(view.mailbox.id, [m.uid]))[0]!,
        ),
      envelopeText: memo((field) => (m.envelope ? envelopeField(m as StoredMessage, field) : undefined)),
    };
    if (await matches(key, target, { maxSeq: view.exists, maxUid: view.maxUid })) found.push(isUid ? m.uid : i + 1);
  }
}

/** ESEARCH (RFC 4731) when RETURN was given or IMAP4rev2 is on, else the IMAP4rev1 SEARCH response. */
function answer(s: ImapContext, spec: SearchSpec, found: number[], isUid: boolean, tag: string): void {
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
}

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
