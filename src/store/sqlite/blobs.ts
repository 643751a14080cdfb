/**
 * Message content as files named by their SHA-256, stored once however many mailboxes hold them.
 * A write goes to a temp file, is fsynced, renamed into place, and the directory is fsynced, so a
 * crash leaves either no file or the whole file under its final name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Coalescer } from '../../lib/coalesce.js';
import { MailError } from '../../lib/errors.js';
import { FileReader } from '../../lib/file-reader.js';
import type { BlobStore } from '../index.js';

const HASH = /^[0-9a-f]{64}$/;

export class FileBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly knownDirs = new Set<string>();
  private readonly reader = new FileReader();

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    await fsyncDir(path.dirname(this.root));
    await fsyncDir(this.root);
  }

  pathOf(hash: string): string {
    if (!HASH.test(hash)) throw new MailError('INVALID_INPUT', `not a blob hash: ${hash}`);
    return path.join(this.root, hash.slice(0, 2), hash);
  }

  async put(content: Buffer): Promise<{ hash: string; size: number; isNew: boolean }> {
    const hash = createHash('sha256').update(content).digest('hex');
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
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MailError('NOT_FOUND', `blob ${hash} is missing`, { cause: err });
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
