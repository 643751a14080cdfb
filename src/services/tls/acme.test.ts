import assert from 'node:assert/strict';
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../lib/log.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { selfSignedPems } from './registry.js';
import { Acme, type AcmeOptions } from './acme.js';
import { readLineage, writeLineage } from './certbot.js';
import { ChallengeStore } from './challenges.js';

function acme(domains: string[], options: Partial<AcmeOptions> = {}): Acme {
  const dir = tempDir();
  return new Acme(
    {
      directoryUrl: 'https://127.0.0.1:1/dir',
      email: 'p@example.com',
      challenge: 'http-01',
      hostname: 'mx.example.com',
      subdomains: ['mail', 'mta-sts', 'autoconfig'],
      group: 'domain',
      keyType: 'ecdsa',
      renewBeforeMs: 30 * 86_400_000,
      checkIntervalMs: 3_600_000,
      retryMinMs: 1000,
      retryMaxMs: 2000,
      dataDir: dir,
      certbotDir: path.join(dir, 'le'),
      extraCa: [],
      ...options,
    },
    {
      domains: async () => domains,
      resolve: async () => ['127.0.0.1'],
      challenges: new ChallengeStore(dir),
      log: createLogger({ level: 'silent' }),
      onIssued: async () => undefined,
    },
  );
}

describe('ACME plan', () => {
  it("one certificate per domain; the host name joins its own domain's certificate", async () => {
    assert.deepEqual(await acme(['example.com', 'Example.org']).plan(), [
      {
        lineage: 'mx.example.com',
        domain: 'example.com',
        names: ['mx.example.com', 'mail.example.com', 'mta-sts.example.com', 'autoconfig.example.com'],
      },
      {
        lineage: 'mail.example.org',
        domain: 'example.org',
        names: ['mail.example.org', 'mta-sts.example.org', 'autoconfig.example.org'],
      },
    ]);
  });

  it('a host name outside the hosted domains gets its own certificate', async () => {
    const plan = await acme(['example.org'], { hostname: 'mx.provider.net' }).plan();
    assert.deepEqual(
      plan.map((p) => [p.lineage, p.names.length]),
      [
        ['mx.provider.net', 1],
        ['mail.example.org', 3],
      ],
    );
  });

  it('"shared" packs at most 100 names per certificate', async () => {
    const domains = Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(2, '0')}.example`);
    const plan = await acme(domains, { group: 'shared' }).plan();
    assert.deepEqual(
      plan.map((p) => [p.lineage, p.names.length]),
      [
        ['mx.example.com', 100],
        ['mx.example.com-0002', 21],
      ],
    );
    assert.equal(plan[0]!.names[0], 'mx.example.com');
  });

  it('is due when missing, when names are missing, and a third of the lifetime before expiry', async () => {
    const a = acme(['example.com']);
    const due = async () => (await a.status())[0]!.due;
    assert.equal(await due(), 'no certificate yet');
    const certbotDir = (a as unknown as { options: AcmeOptions }).options.certbotDir;
    const names = ['mx.example.com', 'mail.example.com', 'mta-sts.example.com', 'autoconfig.example.com'];
    const write = async (n: string[], notBefore: number, notAfter: number) => {
      const p = await selfSignedPems(n, {
        notBefore: new Date(Date.now() + notBefore),
        notAfter: new Date(Date.now() + notAfter),
      });
      await writeLineage(certbotDir, 'mx.example.com', { key: p.key, fullchain: p.cert });
    };
    const day = 86_400_000;
    await write(names.slice(0, 2), -day, 300 * day);
    assert.match(String(await due()), /^names missing from it: mta-sts\.example\.com, autoconfig\.example\.com$/);
    await write(names, -day, 300 * day);
    assert.equal(await due(), undefined);
    await write(names, -70 * day, 20 * day);
    assert.match(String(await due()), /^expires /, '20 of 90 days left: inside renew_before');
    await write(names, -5 * day, 4 * day);
    assert.equal(await due(), undefined, 'a 9-day certificate with 4 days left is not due yet (a third is 3 days)');
    await write(names, -7 * day, 2 * day);
    assert.match(String(await due()), /^expires /);
  });
});

describe('certbot layout', () => {
  it('writes numbered archive files and switches live/ symlinks; the key is private', async () => {
    const dir = tempDir();
    const one = await selfSignedPems(['a.example', 'b.example']);
    await writeLineage(dir, 'a.example', { key: one.key, fullchain: one.cert });
    const two = await selfSignedPems(['a.example']);
    await writeLineage(dir, 'a.example', { key: two.key, fullchain: two.cert });
    for (const f of ['cert', 'chain', 'fullchain', 'privkey']) {
      const link = path.join(dir, 'live', 'a.example', `${f}.pem`);
      assert.ok(lstatSync(link).isSymbolicLink());
      assert.equal(readlinkSync(link), `../../archive/a.example/${f}2.pem`);
    }
    assert.equal(statSync(path.join(dir, 'archive', 'a.example', 'privkey2.pem')).mode & 0o777, 0o600);
    assert.deepEqual((await readLineage(dir, 'a.example'))!.names, ['a.example']);
    assert.equal(await readLineage(dir, 'missing.example'), undefined);
  });
});
