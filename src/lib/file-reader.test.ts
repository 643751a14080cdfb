import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileReader } from './file-reader.js';

describe('FileReader', () => {
  it('reads many files in one batch, each into its own buffer, and reports a missing one by code', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'postern-reader-'));
    const reader = new FileReader();
    try {
      const files = Array.from({ length: 50 }, (_, i) => {
        const file = path.join(dir, `f${i}`);
        writeFileSync(file, Buffer.alloc(i * 100, String(i % 10)));
        return file;
      });
      const got = await Promise.all(files.map((f) => reader.read(f)));
      got.forEach((b, i) => assert.deepEqual(b, Buffer.alloc(i * 100, String(i % 10))));
      const [ok, missing] = await Promise.allSettled([reader.read(files[7]!), reader.read(path.join(dir, 'nope'))]);
      assert.equal(ok.status, 'fulfilled');
      assert.equal(missing.status === 'rejected' && (missing.reason as NodeJS.ErrnoException).code, 'ENOENT');
      const late = assert.rejects(
        reader.read(files[3]!),
        /closed|exited/,
        'a read still queued when the reader closes fails',
      );
      await reader.close();
      await late;
      await assert.rejects(reader.read(files[3]!), /closed/, 'no thread is started after close');
    } finally {
      await reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
