import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../test/helpers/tmp.js';
import { storeContract } from '../contract/contract.js';
import { MIGRATIONS } from './migrations.js';
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
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), MIGRATIONS.map((m) => m.version));
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
});
