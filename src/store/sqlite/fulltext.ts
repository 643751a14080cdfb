/**
 * Full-text search in SQLite (FTS5): one index row per distinct content, shared by every mailbox that
 * holds it; searches match substrings of words through the index's vocabulary.
 */
import type { FullTextRepo, SearchDocument } from '../index.js';
import type { Db, Exec } from './engine.js';

export class FullText implements FullTextRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  index(blobHash: string, doc: SearchDocument): Promise<boolean> {
    return this.exec(() => {
      const row = this.db
        .prepare('UPDATE blobs SET indexed = 1 WHERE hash = ? AND indexed = 0 RETURNING rowid')
        .get(blobHash) as { rowid: number } | undefined;
      if (!row) return false;
      // The column named "addresses" (migration 3) holds every header field but the subject.
      this.db
        .prepare('INSERT INTO blob_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)')
        .run(row.rowid, doc.subject, doc.headers, doc.body);
      return true;
    });
  }

  search(mailboxId: number, query: string, column?: 'body'): Promise<number[]> {
    return this.exec(() => {
      const words = query
        .split(/[^\p{L}\p{N}_]+/u)
        .filter(Boolean)
        .slice(0, 8); // IMAP allows 8 words per SEARCH
      if (words.length === 0) return [];
      const terms = words.map((w) => this.termsContaining(w)).join(' AND ');
      const match = column ? `${column} : (${terms})` : terms;
      return this.db
        .prepare(
          `SELECT m.uid FROM messages m JOIN blobs b ON b.hash = m.blob_hash
                  WHERE m.mailbox_id = ? AND b.rowid IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?) ORDER BY m.uid`,
        )
        .pluck()
        .all(mailboxId, match) as number[];
    });
  }

  /**
   * A word as a MATCH expression for "any indexed word containing it" (RFC 9051 §6.4.4: SEARCH is a
   * substring match): the index's vocabulary is searched for terms holding it, and the word matches
   * any of them. When too many terms hold it (a very common fragment), words starting with it do.
   */
  private termsContaining(word: string): string {
    const folded = word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase(); // as unicode61 remove_diacritics 2 indexes it
    const quote = (t: string) => `"${t.replace(/"/g, '""')}"`;
    const like = `%${folded.replace(/[\\%_]/g, '\\$&')}%`;
    const terms = this.db
      .prepare("SELECT term FROM blob_fts_vocab WHERE term LIKE ? ESCAPE '\\' LIMIT ?")
      .pluck()
      .all(like, MAX_SUBSTRING_TERMS + 1) as string[];
    if (terms.length > MAX_SUBSTRING_TERMS || terms.length === 0) return `${quote(folded)}*`;
    return `(${terms.map(quote).join(' OR ')})`;
  }
}

/** Indexed words a search word may stand for; past it the word matches as a prefix only. */
const MAX_SUBSTRING_TERMS = 500;
