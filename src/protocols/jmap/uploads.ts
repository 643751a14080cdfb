/**
 * Uploaded blobs (RFC 8620 §6.1): held for the account that uploaded them for an hour (the least the
 * RFC asks), named by their SHA-256, at most UPLOAD_QUOTA bytes per account and UPLOADS_TOTAL for
 * the server at once; the expired are dropped at each upload, whoever's they were. A blob lives
 * on once an Email/import or Email/set stored it as a message; until then it is only here, and a
 * restart forgets it, as a server may.
 */
import { createHash } from 'node:crypto';

export const UPLOAD_TTL_MS = 60 * 60 * 1000;
/** Bytes of uploads one account may hold at once. */
export const UPLOAD_QUOTA = 200_000_000;
/** Bytes of uploads the server holds at once, all accounts together. */
export const UPLOADS_TOTAL = 1_000_000_000;

interface Upload {
  data: Buffer;
  type: string;
  expires: number;
}

export class Uploads {
  private readonly byAccount = new Map<number, Map<string, Upload>>();
  private total = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Keeps the blob for the account; undefined when the account's uploads would pass the quota. */
  add(accountId: number, data: Buffer, type: string): { blobId: string; size: number; type: string } | undefined {
    this.sweep();
    const held = this.held(accountId);
    const blobId = `u${createHash('sha256').update(data).digest('hex')}`;
    const known = held.get(blobId);
    const used = [...held.values()].reduce((n, u) => n + u.data.length, 0);
    if (!known && (used + data.length > UPLOAD_QUOTA || this.total + data.length > UPLOADS_TOTAL)) return undefined;
    if (!known) this.total += data.length;
    held.set(blobId, { data: known?.data ?? data, type, expires: this.now() + UPLOAD_TTL_MS });
    this.byAccount.set(accountId, held);
    return { blobId, size: data.length, type };
  }

  /** Drops every account's expired uploads. */
  private sweep(): void {
    for (const accountId of [...this.byAccount.keys()]) this.held(accountId);
  }

  get(accountId: number, blobId: string): { data: Buffer; type: string } | undefined {
    return this.held(accountId).get(blobId);
  }

  /** The account's live uploads, the expired dropped. */
  private held(accountId: number): Map<string, Upload> {
    const held = this.byAccount.get(accountId) ?? new Map<string, Upload>();
    const now = this.now();
    for (const [id, u] of held)
      if (u.expires <= now) {
        held.delete(id);
        this.total -= u.data.length;
      }
    if (held.size === 0) this.byAccount.delete(accountId);
    return held;
  }
}
