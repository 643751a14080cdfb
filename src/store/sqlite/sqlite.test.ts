import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../test/helpers/tmp.js';
import { storeContract } from '../contract/contract.js';
import { MIGRATIONS } from './migrations.js';
import type { FileBlobStore } from './blobs.js';
import { openSqliteStore } from './index.js';

const root = tempDir();
let n = 0;
storeContract('sqlite', () => openSqliteStore(path.join(root, `s${n++}`)));

describe('sqlite backend', () => {
  it('runs every migration once, in WAL mode with synchronous=FULL', async () => {
    const dir = path.join(root, 'migrations');
    const store = await openSqliteStore(dir);
    assert.equal(await store.schemaVersion(), MIGRATIONS.at(-1)!.version);
    await store.domains.add('example.com');
    await store.close();
    const reopened = await openSqliteStore(dir);
    assert.equal(await reopened.schemaVersion(), MIGRATIONS.at(-1)!.version);
    assert.ok(await reopened.domains.get('example.com'), 'data survives a reopen');
    await reopened.close();
    const db = new Database(path.join(dir, 'postern.db'));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.deepEqual(
      db.prepare('SELECT version FROM schema_migrations').pluck().all(),
      MIGRATIONS.map((m) => m.version),
    );
    db.close();
  });

  it('keeps blobs as SHA-256 named files, without temp leftovers', async () => {
    const dir = path.join(root, 'blobs');
    const store = await openSqliteStore(dir);
    const { hash } = await store.blobs.withContent(Buffer.from('content'), async (b) => b);
    assert.ok(existsSync(path.join(dir, 'blobs', hash.slice(0, 2), hash)));
    assert.deepEqual(readdirSync(path.join(dir, 'blobs', 'tmp')), []);
    await store.close();
  });

  it("releases the collector's claims when it fails, so writers of that content go on", async () => {
    const dir = path.join(root, 'claims');
    const store = await openSqliteStore(dir);
    const content = Buffer.from('claimed');
    const { hash } = await store.blobs.withContent(content, async (b) => b);
    const claim = (store.blobs as FileBlobStore).claim([hash]);
    assert.deepEqual(claim.hashes, [hash]);
    const waiting = store.blobs.withContent(content, async (b) => b);
    claim.cancel(); // as collectGarbage does when its transaction or the WAL fsync fails
    assert.equal((await waiting).isNew, false, 'the file was not deleted and the writer did not hang');
    await store.close();
  });
});
