import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { silentLogger } from '../../lib/log.js';
import { parseHeaders } from '../../mail/mime/headers.js';
import { Clamd, parseReply } from './clamd.js';
import { builtinRules, ContentFilter, GTUBE, type FilterInput, type SpamCheck } from './index.js';

const head = (text: string) => parseHeaders(text.replace(/\n/g, '\r\n') + '\r\n');
const filter = (
  clamd?: { address: string; timeoutMs: number },
  onEngineFailure: 'tempfail' | 'accept' = 'tempfail',
  checks: SpamCheck[] = [builtinRules],
) =>
  new ContentFilter({
    hostname: 'mail.example.com',
    log: silentLogger,
    checks,
    settings: {
      clamd,
      onEngineFailure,
      junkScore: 5,
      rejectScore: 15,
      spamScoring: true,
      scores: { MISSING_MID: 0.7 },
    },
  });
const msg = (data: string, fields: string, scoreSpam = true): FilterInput => ({
  qid: 'Q',
  data: Buffer.from(data),
  head: head(fields),
  scoreSpam,
  mailFrom: 'a@example.org',
  client: { ip: '192.0.2.1', helo: 'mx.example.org' },
  accounts: [],
  recipients: [],
  fromAddresses: ['a@example.org'],
});
const full = 'From: a@example.org\nDate: Wed, 02 Dec 2026 10:00:00 +0000\nMessage-ID: <x@example.org>';

describe('content filter', () => {
  it("reads clamd's answers", () => {
    assert.deepEqual(parseReply('stream: OK'), { kind: 'clean' });
    assert.deepEqual(parseReply('stream: Eicar-Signature FOUND'), { kind: 'infected', name: 'Eicar-Signature' });
    assert.equal(parseReply('INSTREAM size limit exceeded. ERROR'), undefined);
  });

  it('scores GTUBE and missing fields, and acts on the configured scores', async () => {
    const ok = await filter().check(msg('hello', full, true));
    assert.equal(ok.action, 'accept');
    assert.equal(ok.score, 0);
    assert.match(ok.headers, /^X-Spam-Status: No, score=0 required=5\r\nX-Spam-Score: 0\r\nX-Spam-Symbols: none\r\n$/);
    const spam = await filter().check(msg(GTUBE, full, true));
    assert.equal(spam.action, 'reject');
    assert.deepEqual(
      spam.symbols.map((s) => s.name),
      ['GTUBE'],
    );
    const bare = await filter().check(msg('x', 'From: a@example.org'));
    assert.equal(bare.score, 1.7, 'MISSING_DATE 1 and MISSING_MID at its configured weight 0.7');
    assert.equal(bare.action, 'accept');
    const unscored = await filter().check(msg(GTUBE, full, false));
    assert.equal(unscored.action, 'accept');
    assert.equal(unscored.score, undefined);
  });

  it('answers a scanner that refuses, hangs or talks nonsense with the failure mode', async () => {
    const hang = net.createServer(() => {}).listen(0, '127.0.0.1');
    const nonsense = net.createServer((s) => s.end('garbage\0')).listen(0, '127.0.0.1');
    await Promise.all([hang, nonsense].map((s) => new Promise((r) => s.once('listening', r))));
    const addr = (s: net.Server) => `127.0.0.1:${(s.address() as net.AddressInfo).port}`;
    try {
      await assert.rejects(new Clamd({ address: addr(hang), timeoutMs: 100 }).scan(Buffer.from('x')), /within 100 ms/);
      await assert.rejects(new Clamd({ address: addr(nonsense), timeoutMs: 1000 }).scan(Buffer.from('x')), /garbage/);
      const down = { address: '127.0.0.1:1', timeoutMs: 1000 };
      const input = msg('x', full);
      assert.equal((await filter(down).check(input)).action, 'tempfail');
      const accepted = await filter(down, 'accept').check(input);
      assert.equal(accepted.action, 'accept');
      assert.match(accepted.headers, /^X-Virus-Status: Unchecked \(scanner unavailable\) on mail\.example\.com\r\n/);
    } finally {
      hang.close();
      nonsense.close();
    }
  });

  it('applies the failure mode to a spam engine that fails, and not to a built-in check', async () => {
    const broken = (isEngine: boolean): SpamCheck => ({
      name: isEngine ? 'spamd' : 'dnsbl',
      isEngine,
      check: () => Promise.reject(new Error('connection refused')),
    });
    const input = msg('x', full);
    assert.equal((await filter(undefined, 'tempfail', [broken(false)]).check(input)).action, 'accept');
    const deferred = await filter(undefined, 'tempfail', [builtinRules, broken(true)]).check(input);
    assert.equal(deferred.action, 'tempfail');
    assert.match(deferred.reason, /spamd not available/);
    const accepted = await filter(undefined, 'accept', [builtinRules, broken(true)]).check(input);
    assert.equal(accepted.action, 'accept');
    assert.match(accepted.headers, /X-Spam-Unchecked: spamd unavailable on mail\.example\.com\r\n$/);
  });
});
