/**
 * Mailbox and message operations for IMAP, POP3 and webmail: list, create, rename, delete, append,
 * copy/move, flags and expunge. Every change is announced through the store's change feed after its
 * transaction commits, so other sessions of the account learn of it.
 */
import { Readable } from 'node:stream';
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { HIERARCHY_SEPARATOR, isValidMailboxName, levelsToCreate, MAX_MAILBOXES } from '../../mail/mailbox-name.js';
import { encodeBinaryParts, hasNul } from '../../mail/mime/binary-parts.js';
import { parseMessage, type BodyPart, type Envelope } from '../../mail/mime/structure.js';
import { searchText } from '../../mail/mime/text.js';
import { threadKeys } from '../../mail/threads.js';
import type {
  FlagChange,
  MailboxRecord,
  MessageColumnsOmitted,
  MessageRecord,
  MessageSummary,
  Store,
  Tx,
} from '../../store/index.js';

export { HIERARCHY_SEPARATOR, MAX_MAILBOX_NAME } from '../../mail/mailbox-name.js';

export interface StoredMessage extends MessageRecord {
  envelope: Envelope;
  bodyStructure: BodyPart;
}

/**
 * A user's sorting as a spam/ham opinion: messages moved or copied into Junk, or marked $Junk, are
 * spam to them; out of Junk (not to Trash), or marked $NotJunk, ham. Told after the commit.
 */
export type UserSorted = (accountId: number, as: 'spam' | 'ham', blobHashes: string[]) => void;

export class Mailboxes {
  constructor(private readonly deps: { store: Store; log: Logger; onUserSorted?: UserSorted | undefined }) {}

  private get store(): Store {
    return this.deps.store;
  }

  list(accountId: number): Promise<MailboxRecord[]> {
    return this.store.mailboxes.list(accountId);
  }

  /** By name; INBOX is case-insensitive (RFC 9051 §5.1). */
  async get(accountId: number, name: string): Promise<MailboxRecord> {
    const box = await this.store.mailboxes.get(accountId, canonicalName(name));
    if (!box) throw new MailError('MAILBOX_NOT_FOUND', `mailbox ${name} does not exist`);
    return box;
  }

  async create(accountId: number, input: string): Promise<MailboxRecord> {
    const name = validName(input);
    if (await this.store.mailboxes.get(accountId, name))
      throw new MailError('MAILBOX_EXISTS', `mailbox ${name} already exists`);
    return this.store.transaction(async (tx) => {
      // RFC 9051 §6.3.4: superior levels are created as needed.
      let created: MailboxRecord | undefined;
      for (const level of await newLevels(tx, accountId, name)) {
        created = await tx.mailboxes.create(accountId, level);
        tx.notify({ type: 'mailbox', accountId, mailboxId: created.id, change: 'created' });
      }
      return created!;
    });
  }

  async delete(accountId: number, input: string): Promise<void> {
    const name = canonicalName(input);
    if (name === 'INBOX') throw new MailError('INVALID_INPUT', 'INBOX cannot be deleted');
    const box = await this.get(accountId, name);
    const all = await this.store.mailboxes.list(accountId);
    if (all.some((m) => m.name.startsWith(name + HIERARCHY_SEPARATOR)))
      throw new MailError('INVALID_INPUT', `mailbox ${name} has children; delete them first`);
    await this.store.transaction(async (tx) => {
      await tx.mailboxes.remove(box.id);
      tx.notify({ type: 'mailbox', accountId, mailboxId: box.id, change: 'deleted' });
    });
  }

  /** RFC 9051 §6.3.6: children move along; renaming INBOX moves its messages to a new mailbox. */
  async rename(accountId: number, fromInput: string, toInput: string): Promise<void> {
    const from = canonicalName(fromInput);
    const to = validName(toInput);
    const box = await this.get(accountId, from);
    if (await this.store.mailboxes.get(accountId, to))
      throw new MailError('MAILBOX_EXISTS', `mailbox ${to} already exists`);
    if (to.startsWith(from + HIERARCHY_SEPARATOR))
      throw new MailError('INVALID_INPUT', 'a mailbox cannot be moved into itself');
    await this.store.transaction(async (tx) => {
      // The parents the new name needs; renaming INBOX also creates the name itself.
      const levels = await newLevels(tx, accountId, to);
      for (const level of levels.filter((l) => l !== to)) await tx.mailboxes.create(accountId, level);
      if (from === 'INBOX') {
        const target = await tx.mailboxes.create(accountId, to);
        const messages = await tx.messages.list(box.id);
        for (const m of messages) await tx.messages.append(target.id, m, m.emailId); // moved: same emails
        const gone = await tx.messages.expunge(
          box.id,
          messages.map((m) => m.uid),
        );
        if (gone.uids.length)
          tx.notify({ type: 'expunged', accountId, mailboxId: box.id, uids: gone.uids, modseq: gone.modseq });
        return;
      }
      for (const child of (await tx.mailboxes.list(accountId)).filter((m) =>
        m.name.startsWith(from + HIERARCHY_SEPARATOR),
      )) {
        await tx.mailboxes.rename(child.id, to + child.name.slice(from.length));
      }
      await tx.mailboxes.rename(box.id, to);
      tx.notify({ type: 'mailbox', accountId, mailboxId: box.id, change: 'renamed' });
    });
  }

  /**
   * SUBSCRIBE/UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8): the list holds names, so a name may be
   * subscribed before its mailbox exists and stays subscribed after it is deleted.
   */
  async setSubscribed(accountId: number, input: string, isSubscribed: boolean): Promise<void> {
    const name = isSubscribed ? validName(input) : canonicalName(input).replace(/\/$/, '');
    if (isSubscribed) {
      // Names need no mailbox, so they are counted on their own: LSUB walks every one of them.
      const current = await this.store.mailboxes.subscriptions(accountId);
      if (current.length >= MAX_MAILBOXES && !current.includes(name))
        throw new MailError('LIMIT_REACHED', `an account has at most ${MAX_MAILBOXES} subscriptions`);
    }
    await this.store.mailboxes.setSubscription(accountId, name, isSubscribed);
  }

  subscriptions(accountId: number): Promise<string[]> {
    return this.store.mailboxes.subscriptions(accountId);
  }

  messages(mailboxId: number): Promise<StoredMessage[]> {
    return this.store.messages.list(mailboxId) as Promise<StoredMessage[]>;
  }

  /** Messages whose stored envelope may hold `text` (see MessageRepo.list): SEARCH's first cut. */
  messagesWithEnvelopeText(mailboxId: number, text: string): Promise<StoredMessage[]> {
    return this.store.messages.list(mailboxId, { envelopeContains: text }) as Promise<StoredMessage[]>;
  }

  summaries(mailboxId: number): Promise<MessageSummary[]> {
    return this.store.messages.summaries(mailboxId);
  }

  /** Messages by UID range; `omit` leaves out stored columns the caller will not read. */
  messagesRange(
    mailboxId: number,
    fromUid: number,
    toUid: number,
    omit?: MessageColumnsOmitted,
  ): Promise<StoredMessage[]> {
    return this.store.messages.list(mailboxId, omit ? { fromUid, toUid, omit } : { fromUid, toUid }) as Promise<
      StoredMessage[]
    >;
  }

  /** Messages above a UID, without their envelope and structure (new mail announced to a session). */
  messagesAfter(mailboxId: number, uid: number): Promise<StoredMessage[]> {
    return this.store.messages.list(mailboxId, {
      fromUid: uid + 1,
      omit: { bodyStructure: true, envelope: 'all' },
    }) as Promise<StoredMessage[]>;
  }

  async messagesByUid(mailboxId: number, uids: number[]): Promise<StoredMessage[]> {
    const out: StoredMessage[] = [];
    for (const uid of uids) {
      const m = await this.store.messages.get(mailboxId, uid);
      if (m) out.push(m as StoredMessage);
    }
    return out;
  }

  /** The message as served: per-recipient header lines, then the shared content. */
  async content(m: MessageRecord): Promise<Buffer> {
    const body = await this.store.blobs.get(m.blobHash);
    return m.headerPrefix ? Buffer.concat([Buffer.from(m.headerPrefix, 'utf8'), body]) : body;
  }

  /** Full-text search (SEARCH TEXT/BODY): words and word prefixes, from the index built at delivery. */
  searchText(mailboxId: number, query: string, bodyOnly: boolean): Promise<number[]> {
    return this.store.fulltext.search(mailboxId, query, bodyOnly ? 'body' : undefined);
  }

  /** The same bytes as content(), streamed: the per-recipient headers, then the stored file. */
  openContent(m: MessageRecord): Readable {
    const blobs = this.store.blobs;
    return Readable.from(
      (async function* () {
        if (m.headerPrefix) yield Buffer.from(m.headerPrefix, 'utf8');
        yield* blobs.stream(m.blobHash);
      })(),
    );
  }

  /** RFC 3501 §2.3.2: the messages up to `throughUid` not yet \Recent to a session become this one's; returns the first of them. */
  claimRecent(mailboxId: number, throughUid: number): Promise<number> {
    return this.store.mailboxes.claimRecent(mailboxId, throughUid);
  }

  /** APPEND (RFC 9051 §6.3.12): parsed and indexed once, durable before the reply. */
  async append(
    accountId: number,
    name: string,
    content: Buffer,
    flags: string[],
    internalDate: Date | undefined,
  ): Promise<{ mailbox: MailboxRecord; uid: number }> {
    const r = await this.appendAll(accountId, name, [{ content, flags, internalDate }]);
    return { mailbox: r.mailbox, uid: r.uids[0]! };
  }

  /**
   * APPEND of several messages (MULTIAPPEND, RFC 3502 §6.3.11): all in one transaction, or none. The
   * transaction indexes them all at once: at most MAX_APPEND_MESSAGES, so it stays short.
   */
  async appendAll(
    accountId: number,
    name: string,
    messages: Array<{ content: Buffer; flags: string[]; internalDate: Date | undefined }>,
  ): Promise<{ mailbox: MailboxRecord; uids: number[] }> {
    const box = await this.get(accountId, name);
    const account = await this.store.accounts.byId(accountId);
    const adding = messages.reduce((n, m) => n + m.content.length, 0);
    if (account && account.quotaBytes > 0 && account.usedBytes + adding > account.quotaBytes)
      throw new MailError('OVER_QUOTA', 'mailbox is full');
    if (messages.length > MAX_APPEND_MESSAGES)
      throw new MailError('LIMIT_REACHED', `one APPEND takes at most ${MAX_APPEND_MESSAGES} messages`);
    const prepared: Array<
      (typeof messages)[number] & { parsed: ReturnType<typeof parseMessage>; doc: ReturnType<typeof searchText> }
    > = [];
    for (const m of messages) {
      // RFC 3516 §4.4: parts holding NUL (a literal8 APPEND) are stored base64-encoded.
      const content = hasNul(m.content) ? encodeBinaryParts(m.content, parseMessage(m.content).structure) : m.content;
      const parsed = parseMessage(content);
      prepared.push({ ...m, content, parsed, doc: searchText(content, parsed) });
      await new Promise((r) => setImmediate(r)); // other sessions run between messages
    }
    // Each content is held from collection until the transaction referencing it has committed.
    const uids = await this.holdingContent(
      prepared.map((p) => p.content),
      (blobs) =>
        this.store.transaction(async (tx) => {
          const out: number[] = [];
          for (const [i, p] of prepared.entries()) {
            const blob = blobs[i]!;
            // Threaded as a delivery is (a message saved to Sent joins the thread it answers).
            const keys = threadKeys(p.parsed.headers);
            const threadId = await tx.threads.find(accountId, keys.references, keys.subject);
            const m = await tx.messages.append(box.id, {
              blobHash: blob.hash,
              size: blob.size,
              internalDate: p.internalDate ?? new Date(),
              flags: p.flags,
              envelope: p.parsed.envelope,
              envelopeWire: p.parsed.envelopeWire,
              bodyStructure: p.parsed.structure,
              ...(threadId === undefined ? {} : { threadId }),
            });
            if (keys.messageId) await tx.threads.remember(accountId, keys.messageId, m.threadId, keys.subject);
            await tx.fulltext.index(blob.hash, p.doc);
            tx.notify({ type: 'added', accountId, mailboxId: box.id, uid: m.uid, modseq: m.modseq });
            out.push(m.uid);
          }
          return out;
        }),
    );
    return { mailbox: box, uids };
  }

  private holdingContent<T>(
    contents: Buffer[],
    use: (blobs: Array<{ hash: string; size: number }>) => Promise<T>,
    held: Array<{ hash: string; size: number }> = [],
  ): Promise<T> {
    if (held.length === contents.length) return use(held);
    return this.store.blobs.withContent(contents[held.length]!, (blob) =>
      this.holdingContent(contents, use, [...held, blob]),
    );
  }

  /** COPY, and MOVE when `move` (RFC 6851: copy and expunge in one transaction). */
  async copy(
    accountId: number,
    source: MailboxRecord,
    uids: number[],
    targetName: string,
    move: boolean,
  ): Promise<{ target: MailboxRecord; pairs: Array<[number, number]> }> {
    const target = await this.get(accountId, targetName);
    const pairs = await this.store.transaction(async (tx) => {
      const out: Array<[number, number]> = [];
      const found: MessageRecord[] = [];
      for (const uid of uids) {
        const m = await tx.messages.get(source.id, uid);
        if (m) found.push(m);
      }
      // Every copy counts against the quota (a MOVE within the account adds and removes the same bytes).
      const adding = move ? 0 : found.reduce((n, m) => n + m.size, 0);
      const account = adding > 0 ? await tx.accounts.byId(accountId) : undefined;
      if (account && account.quotaBytes > 0 && account.usedBytes + adding > account.quotaBytes)
        throw new MailError('OVER_QUOTA', 'mailbox is full');
      for (const m of found) {
        const uid = m.uid;
        // A move keeps the email (its JMAP id); a copy is a new one.
        const copy = await tx.messages.append(target.id, m, move ? m.emailId : undefined);
        tx.notify({ type: 'added', accountId, mailboxId: target.id, uid: copy.uid, modseq: copy.modseq });
        out.push([uid, copy.uid]);
      }
      if (move && out.length) {
        const gone = await tx.messages.expunge(
          source.id,
          out.map(([u]) => u),
        );
        tx.notify({ type: 'expunged', accountId, mailboxId: source.id, uids: gone.uids, modseq: gone.modseq });
      }
      return { out, hashes: found.map((m) => m.blobHash) };
    });
    const opinion = sortedInto(source, target);
    if (opinion && pairs.hashes.length) this.tellSorted(accountId, opinion, pairs.hashes);
    return { target, pairs: pairs.out };
  }

  private tellSorted(accountId: number, as: 'spam' | 'ham', hashes: string[]): void {
    try {
      this.deps.onUserSorted?.(accountId, as, hashes);
    } catch (err) {
      this.deps.log.warn({ accountId, err }, 'spam training failed');
    }
  }

  async setFlags(
    accountId: number,
    mailboxId: number,
    uids: number[],
    change: FlagChange,
    flags: string[],
  ): Promise<{ uids: number[]; modseq: number }> {
    const opinion = change === 'remove' ? undefined : flagOpinion(flags);
    const { r, hashes } = await this.store.transaction(async (tx) => {
      const r = await tx.messages.setFlags(mailboxId, uids, change, flags);
      if (r.uids.length) tx.notify({ type: 'flags', accountId, mailboxId, uids: r.uids, modseq: r.modseq });
      const hashes: string[] = [];
      if (opinion && this.deps.onUserSorted)
        for (const uid of r.uids) {
          const m = await tx.messages.get(mailboxId, uid);
          if (m) hashes.push(m.blobHash);
        }
      return { r, hashes };
    });
    if (opinion && hashes.length) this.tellSorted(accountId, opinion, hashes);
    return r;
  }

  async expunge(accountId: number, mailboxId: number, uids: number[]): Promise<number[]> {
    if (uids.length === 0) return [];
    return this.store.transaction(async (tx) => {
      const r = await tx.messages.expunge(mailboxId, uids);
      if (r.uids.length) tx.notify({ type: 'expunged', accountId, mailboxId, uids: r.uids, modseq: r.modseq });
      return r.uids;
    });
  }
}

/** What moving or copying from `source` to `target` says: into Junk spam, out of Junk (but not to Trash) ham. */
function sortedInto(source: MailboxRecord, target: MailboxRecord): 'spam' | 'ham' | undefined {
  const fromJunk = source.specialUse === '\\Junk';
  const toJunk = target.specialUse === '\\Junk';
  if (toJunk && !fromJunk) return 'spam';
  if (fromJunk && !toJunk && target.specialUse !== '\\Trash') return 'ham';
  return undefined;
}

/** The keywords Thunderbird and others set when the user marks a message (RFC 5788 registry). */
function flagOpinion(flags: string[]): 'spam' | 'ham' | undefined {
  const lower = flags.map((f) => f.toLowerCase());
  if (lower.includes('$junk')) return 'spam';
  if (lower.includes('$notjunk')) return 'ham';
  return undefined;
}

/** Messages one APPEND (MULTIAPPEND) may carry. */
export const MAX_APPEND_MESSAGES = 1000;

export function canonicalName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

function validName(input: string): string {
  let name = canonicalName(input);
  if (name.endsWith(HIERARCHY_SEPARATOR)) name = name.slice(0, -1); // RFC 9051 §6.3.4: trailing separator
  if (!isValidMailboxName(name)) throw new MailError('INVALID_INPUT', `invalid mailbox name "${name.slice(0, 100)}"`);
  return name;
}

/** The levels of `name` still missing, counted against MAX_MAILBOXES inside the transaction that creates them. */
async function newLevels(tx: Tx, accountId: number, name: string): Promise<string[]> {
  const levels = levelsToCreate(
    (await tx.mailboxes.list(accountId)).map((b) => b.name),
    name,
  );
  if (!levels) throw new MailError('LIMIT_REACHED', `an account has at most ${MAX_MAILBOXES} mailboxes`);
  return levels;
}
