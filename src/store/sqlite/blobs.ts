/**
 * Message content as files named by their SHA-256, stored once however many mailboxes hold them.
 * A write goes to a temp file, is fsynced, renamed into place, and the directory is fsynced, so a
 * crash leaves either no file or the whole file under its final name.
 *
 * Collection: content that nothing references any more is deleted by the store (collectGarbage).
 * A writer that found the file already there must not lose it to a collector that saw its row at
 * refs = 0 just before the writer's transaction referenced it again. So every write is pinned until
 * the caller's `use` settles (its transaction has committed), the collector claims only unpinned
 * hashes, and a writer whose hash is being deleted waits for the deletion, then writes the file anew.
 * Pins live in memory: after a crash no transaction is in flight, so none are needed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Coalescer } from '../../lib/coalesce.js';
import { MailError } from '../../lib/errors.js';
import { FileReader } from '../../lib/file-reader.js';
import type { BlobStore } from '../index.js';

const HASH = /^[0-9a-f]{64}$/;
const STALE_TMP_MS = 60 * 60_000;

export class FileBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly knownDirs = new Set<string>();
  private readonly reader = new FileReader();
  /** Hashes written and not yet referenced by a committed transaction (count per hash). */
  private readonly pins = new Map<string, number>();
  /** Hashes whose files the collector is deleting; a writer waits for the deletion to finish. */
  private readonly deleting = new Map<string, Promise<void>>();

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    // Writes a crash interrupted before their rename. A CLI command opens the store while the server
    // runs, so only files old enough that no write can still be at work on them.
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of await readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      const st = await stat(file).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await rm(file, { force: true });
    }
    await fsyncDir(path.dirname(this.root));
    await fsyncDir(this.root);
  }

  pathOf(hash: string): string {
    if (!HASH.test(hash)) throw new MailError('INVALID_INPUT', `not a blob hash: ${hash}`);
    return path.join(this.root, hash.slice(0, 2), hash);
  }

  async withContent<T>(
    content: Buffer,
    use: (blob: { hash: string; size: number; isNew: boolean }) => Promise<T>,
  ): Promise<T> {
    const hash = createHash('sha256').update(content).digest('hex');
    this.pins.set(hash, (this.pins.get(hash) ?? 0) + 1);
    try {
      await this.deleting.get(hash);
      return await use(await this.write(hash, content));
    } finally {
      const n = this.pins.get(hash)! - 1;
      if (n === 0) this.pins.delete(hash);
      else this.pins.set(hash, n);
    }
  }

  /**
   * The collector's claim, made synchronously while it holds the store's write lock: the hashes of
   * `candidates` that no writer holds, now marked as being deleted. Finish with `remove`.
   */
  claim(candidates: string[]): { hashes: string[]; remove: () => Promise<void>; cancel: () => void } {
    const hashes = candidates.filter((h) => !this.pins.has(h) && !this.deleting.has(h));
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    for (const h of hashes) this.deleting.set(h, finished);
    const release = () => {
      for (const h of hashes) this.deleting.delete(h);
      done();
    };
    const remove = async () => {
      try {
        const dirs = new Set<string>();
        for (const h of hashes) {
          const file = this.pathOf(h);
          await unlink(file).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
          dirs.add(path.dirname(file));
        }
        for (const dir of dirs) await this.syncDir(dir);
      } finally {
        release();
      }
    };
    // The collector failed before deleting anything: writers waiting on these hashes go on.
    return { hashes, remove, cancel: release };
  }

  /** The hashes of the files in one of the 256 fan-out directories (0–255), for the orphan sweep. */
  async listDir(index: number): Promise<string[]> {
    const dir = path.join(this.root, index.toString(16).padStart(2, '0'));
    try {
      return (await readdir(dir)).filter((name) => HASH.test(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async write(hash: string, content: Buffer): Promise<{ hash: string; size: number; isNew: boolean }> {
    const target = this.pathOf(hash);
    if (await exists(target)) return { hash, size: content.length, isNew: false };
    const dir = path.dirname(target);
    if (!this.knownDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      await fsyncDir(this.root);
      this.knownDirs.add(dir);
    }
    const tmp = path.join(this.tmpDir, `${hash}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o640);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await this.syncDir(dir);
    return { hash, size: content.length, isNew: true };
  }

  private readonly dirSyncs = new Map<string, Coalescer>();

  /** Makes renames in `dir` durable; concurrent writers share directory fsyncs. */
  private syncDir(dir: string): Promise<void> {
    let c = this.dirSyncs.get(dir);
    if (!c) this.dirSyncs.set(dir, (c = new Coalescer(() => fsyncDir(dir))));
    return c.run();
  }

  async get(hash: string): Promise<Buffer> {
    try {
      return await this.reader.read(this.pathOf(hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new MailError('NOT_FOUND', `blob ${hash} is missing`, { cause: err });
      throw err;
    }
  }

  /** Stops the reader thread. */
  close(): Promise<void> {
    return this.reader.close();
  }

  stream(hash: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(hash), range ? { start: range.start, end: range.end } : {});
  }

  has(hash: string): Promise<boolean> {
    return exists(this.pathOf(hash));
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
