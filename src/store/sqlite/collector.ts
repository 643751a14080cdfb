/**
 * Garbage collection of message content for the SQLite store. `blobs.refs` follows message and queue
 * rows (triggers, which also stamp `released_at` when refs reaches 0); the collector deletes rows at
 * refs 0 with their full-text entries and files, then files that have no row. Rows are claimed under
 * the engine's write lock, only for hashes no writer holds (blobs.ts), and files go only after the
 * deletion of their rows is durable.
 */
import type { FileBlobStore } from './blobs.js';
import type { Db, SqliteEngine } from './engine.js';

export class BlobCollector {
  private readonly db: Db;
  /** The fan-out directory the next orphan sweep looks at. */
  private sweepNext = Math.floor(Math.random() * 256);

  constructor(
    private readonly engine: SqliteEngine,
    private readonly blobs: FileBlobStore,
  ) {
    this.db = engine.db;
  }

  async collect(
    options: { batch?: number; sweepDirs?: number; releasedForMs?: number } = {},
  ): Promise<{ blobs: number; bytes: number; orphans: number }> {
    const batch = options.batch ?? 1000;
    const releasedBefore = Date.now() - (options.releasedForMs ?? 0);
    let blobs = 0;
    let bytes = 0;
    for (;;) {
      // Under the write lock no transaction runs, so refs cannot change between the check and the delete.
      const release = await this.engine.lock();
      let claimed: ReturnType<FileBlobStore['claim']> | undefined;
      let rows: Array<{ rowid: number; hash: string; size: number }>;
      try {
        rows = this.db
          .prepare(
            'SELECT rowid, hash, size FROM blobs WHERE refs <= 0 AND (released_at IS NULL OR released_at <= ?) LIMIT ?',
          )
          .all(releasedBefore, batch) as typeof rows;
        claimed = this.blobs.claim(rows.map((r) => r.hash));
        const chosen = new Set(claimed.hashes);
        const dropFts = this.db.prepare('DELETE FROM blob_fts WHERE rowid = ?');
        const dropRow = this.db.prepare('DELETE FROM blobs WHERE hash = ? AND refs <= 0');
        this.db.transaction(() => {
          for (const r of rows) {
            if (!chosen.has(r.hash)) continue;
            dropFts.run(r.rowid);
            dropRow.run(r.hash);
            blobs++;
            bytes += r.size;
          }
        })();
      } catch (err) {
        claimed?.cancel();
        throw err;
      } finally {
        release();
      }
      try {
        await this.engine.syncWal();
      } catch (err) {
        claimed.cancel();
        throw err;
      }
      await claimed.remove();
      // Rows a writer holds stay for the next run; stop when a batch found nothing else.
      if (rows.length < batch || claimed.hashes.length === 0) break;
    }
    // Files without a row: a write whose transaction failed, or a crash between a write and its
    // commit. One fan-out directory per run (all 256 when asked), in turn.
    let orphans = 0;
    for (let i = 0; i < Math.min(options.sweepDirs ?? 1, 256); i++) {
      const dir = this.sweepNext;
      this.sweepNext = (this.sweepNext + 1) % 256;
      const files = await this.blobs.listDir(dir);
      if (files.length === 0) continue;
      const release = await this.engine.lock();
      let claimed: ReturnType<FileBlobStore['claim']>;
      try {
        const known = this.db.prepare('SELECT 1 FROM blobs WHERE hash = ?').pluck();
        claimed = this.blobs.claim(files.filter((h) => known.get(h) === undefined));
      } finally {
        release();
      }
      // Nothing to undo here if the unlinks fail: remove() releases the claims either way.
      await claimed.remove();
      orphans += claimed.hashes.length;
    }
    return { blobs, bytes, orphans };
  }
}
