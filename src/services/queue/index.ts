/**
 * The outbound queue's front door: a message for remote recipients is stored durably (content
 * fsynced, queue rows committed) before the SMTP reply. Delivery to remote servers runs elsewhere.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import type { QueueEntry, Store } from '../../store/index.js';

export interface OutboundMessage {
  content: Buffer;
  sender: string;
  recipients: Array<{ address: string; notify?: string | undefined; orcpt?: string | undefined }>;
  authUser?: string | undefined;
  envid?: string | undefined;
  ret?: string | undefined;
}

const QID_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ0123456789';

/** Postfix-like queue ids: 12 characters, no vowels, so no words appear in logs. */
export function newQueueId(): string {
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += QID_ALPHABET[b % QID_ALPHABET.length];
  return id;
}

export class OutboundQueue {
  constructor(private readonly deps: { store: Store; log: Logger }) {}

  async submit(message: OutboundMessage, qid = newQueueId()): Promise<QueueEntry> {
    const blob = await this.deps.store.blobs.put(message.content);
    const entry = await this.deps.store.queue.add({
      qid, blobHash: blob.hash, sender: message.sender, size: blob.size, authUser: message.authUser ?? null,
      envid: message.envid ?? null, ret: message.ret ?? null,
      recipients: message.recipients.map((r) => ({ recipient: r.address, notify: r.notify ?? null, orcpt: r.orcpt ?? null })),
    });
    this.deps.log.info({ qid, from: message.sender, rcpts: message.recipients.length, size: blob.size }, 'queued for remote delivery');
    return entry;
  }

  list(): Promise<QueueEntry[]> {
    return this.deps.store.queue.list();
  }

  get(qid: string): Promise<QueueEntry | undefined> {
    return this.deps.store.queue.get(qid);
  }
}
