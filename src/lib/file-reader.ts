/**
 * Reads small files on a helper thread, many per message: a FETCH of 1,000 messages costs a few
 * thread round trips instead of 4,000 thread-pool requests (open, fstat, read, close each), and the
 * event loop never waits for the disk. Reads asked for in the same tick travel together.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
parentPort.on('message', ({ id, files }) => {
  const results = [];
  const transfer = [];
  for (const file of files) {
    try {
      const b = readFileSync(file);
      const ab = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      results.push(ab);
      transfer.push(ab);
    } catch (err) {
      results.push({ code: err.code, message: err.message });
    }
  }
  parentPort.postMessage({ id, results }, transfer);
});
`;

type Result = ArrayBuffer | { code: string; message: string };
interface Batch {
  files: string[];
  waiters: Array<{ resolve: (b: Buffer) => void; reject: (e: Error) => void }>;
  worker?: Worker;
}

export class FileReader {
  private worker: Worker | undefined;
  private readonly inFlight = new Map<number, Batch>();
  private nextId = 0;
  private pending: Batch | undefined;
  private isClosed = false;

  read(file: string): Promise<Buffer> {
    if (this.isClosed) return Promise.reject(new Error('file reader is closed'));
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = { files: [], waiters: [] };
        queueMicrotask(() => this.send());
      }
      this.pending.files.push(file);
      this.pending.waiters.push({ resolve, reject });
    });
  }

  private send(): void {
    const batch = this.pending!;
    this.pending = undefined;
    try {
      if (this.isClosed) throw new Error('file reader is closed');
      const id = ++this.nextId;
      const w = this.start();
      batch.worker = w;
      this.inFlight.set(id, batch);
      w.ref();
      w.postMessage({ id, files: batch.files });
    } catch (err) {
      for (const waiter of batch.waiters) waiter.reject(err as Error);
    }
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER, { eval: true });
    w.on('message', ({ id, results }: { id: number; results: Result[] }) => {
      const batch = this.inFlight.get(id);
      this.inFlight.delete(id);
      if (![...this.inFlight.values()].some((b) => b.worker === w)) w.unref();
      batch?.waiters.forEach((waiter, i) => {
        const r = results[i]!;
        if (r instanceof ArrayBuffer) waiter.resolve(Buffer.from(r));
        else waiter.reject(Object.assign(new Error(r.message), { code: r.code }));
      });
    });
    w.on('error', (err) => this.fail(w, err));
    w.on('exit', () => this.fail(w, new Error('file reader thread exited')));
    w.unref();
    this.worker = w;
    return w;
  }

  /** The thread died or was stopped: what it still had to read fails; the next read starts another. */
  private fail(w: Worker, err: Error): void {
    if (this.worker === w) this.worker = undefined;
    for (const [id, batch] of this.inFlight) {
      if (batch.worker !== w) continue;
      this.inFlight.delete(id);
      for (const waiter of batch.waiters) waiter.reject(err);
    }
  }

  async close(): Promise<void> {
    this.isClosed = true;
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
