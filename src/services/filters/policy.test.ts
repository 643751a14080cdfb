import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../lib/log.js';
import { parseHeaders } from '../../mail/mime/headers.js';
import type { FilterListEntry } from '../../store/index.js';
import { builtinRules, ContentFilter, GTUBE, type AuthFacts } from './index.js';
import { byScore, listed, matches, thresholdsFor, type PolicySettings } from './policy.js';

const settings: PolicySettings = {
  junkScore: 5,
  quarantineScore: 10,
  rejectScore: 15,
  spamScoring: true,
  domains: { 'strict.example': { junkScore: 2, rejectScore: 4 }, 'open.example': { spamScoring: false } },
};
const noAuth: AuthFacts = { spf: 'none', dmarc: 'none', dkim: [], arc: 'none' };

describe('filter policy', () => {
  it('takes thresholds per recipient domain over the server-wide ones', () => {
    assert.deepEqual(thresholdsFor(settings, 'a@Strict.example'), {
      junkScore: 2,
      quarantineScore: 10,
      rejectScore: 4,
      spamScoring: true,
    });
    const t = thresholdsFor(settings, 'a@other.example');
    assert.deepEqual(
      [0, 5, 10, 15].map((s) => byScore(s, t)),
      ['inbox', 'junk', 'quarantine', 'reject'],
    );
    assert.equal(byScore(100, thresholdsFor(settings, 'b@open.example')), 'inbox');
    assert.equal(byScore(undefined, t), 'inbox');
  });

  it('matches addresses exactly and domains with their subdomains', () => {
    assert.equal(matches('Friend@Example.org', 'friend@example.ORG'), true);
    assert.equal(matches('friend@example.org', 'foe@example.org'), false);
    assert.equal(matches('example.org', 'x@mail.example.org'), true);
    assert.equal(matches('@example.org', 'x@example.org'), true);
    assert.equal(matches('example.org', 'x@badexample.org'), false);
  });

  it('reads the account list before the domain list, and a block before an allow', () => {
    const entries: FilterListEntry[] = [
      { scope: 'example.com', entry: 'spam.example', kind: 'block' },
      { scope: 'ann@example.com', entry: 'spam.example', kind: 'allow' },
      { scope: 'example.com', entry: 'ok.example', kind: 'allow' },
      { scope: 'example.com', entry: 'bad@ok.example', kind: 'block' },
    ];
    const ann = { address: 'ann@example.com', account: 'ann@example.com' };
    const bob = { address: 'bob@example.com', account: 'bob@example.com' };
    const from = (mailFrom: string) => ({ mailFrom, fromAddresses: [], auth: undefined });
    assert.equal(listed(entries, ann, from('x@spam.example'))?.kind, 'allow');
    assert.equal(listed(entries, bob, from('x@spam.example'))?.kind, 'block');
    assert.equal(listed(entries, bob, from('bad@ok.example'))?.kind, 'block');
    assert.equal(listed(entries, bob, from('good@ok.example'))?.kind, 'allow');
    assert.equal(listed(entries, bob, from('x@elsewhere.example')), undefined);
  });

  it('lets an allow entry count only where sender authentication vouches for the address', () => {
    const entries: FilterListEntry[] = [{ scope: 'example.com', entry: 'friend.example', kind: 'allow' }];
    const r = { address: 'ann@example.com' };
    const forged = { mailFrom: 'x@friend.example', fromAddresses: ['boss@friend.example'], auth: noAuth };
    assert.equal(listed(entries, r, forged), undefined);
    assert.ok(listed(entries, r, { ...forged, auth: { ...noAuth, spf: 'pass' } }));
    assert.ok(listed(entries, r, { ...forged, mailFrom: '', auth: { ...noAuth, dmarc: 'pass' } }));
    const dkim = { ...noAuth, dkim: [{ domain: 'friend.example', result: 'pass' }] };
    assert.ok(listed(entries, r, { ...forged, mailFrom: '', auth: dkim }));
    const otherDkim = { ...noAuth, dkim: [{ domain: 'spammer.example', result: 'pass' }] };
    assert.equal(listed(entries, r, { ...forged, mailFrom: '', auth: otherDkim }), undefined);
  });

  it('gives each recipient its disposition, refusing the message only when every recipient refuses it', async () => {
    const lists: FilterListEntry[] = [{ scope: 'example.com', entry: 'spam.example', kind: 'block' }];
    const filter = new ContentFilter({
      hostname: 'mail.example.com',
      log: silentLogger,
      checks: [builtinRules],
      settings: { ...settings, onEngineFailure: 'tempfail' },
      lists: { list: (scopes) => Promise.resolve(lists.filter((e) => !scopes || scopes.includes(e.scope))) },
    });
    const input = (data: string, recipients: string[], mailFrom = 'a@example.org') => ({
      qid: 'Q',
      data: Buffer.from(data),
      head: parseHeaders('From: a@example.org\r\n\r\n'),
      scoreSpam: true,
      mailFrom,
      client: { ip: '192.0.2.1', helo: 'mx.example.org' },
      accounts: [],
      recipients: recipients.map((address) => ({ address })),
      fromAddresses: ['a@example.org'],
    });
    // MISSING_DATE 1 + MISSING_MID 0.5 = 1.5: under every domain's junk score.
    const mild = await filter.check(input('x', ['a@strict.example', 'b@other.example']));
    assert.deepEqual(
      mild.recipients.map((r) => r.disposition),
      ['inbox', 'inbox'],
    );
    assert.equal(mild.action, 'accept');
    const blocked = await filter.check(input('x', ['ann@example.com', 'b@other.example'], 'x@spam.example'));
    assert.deepEqual(
      blocked.recipients.map((r) => r.disposition),
      ['reject', 'inbox'],
    );
    assert.equal(blocked.action, 'junk', 'accepted, with the blocked copy held');
    const allBlocked = await filter.check(input('x', ['ann@example.com'], 'x@spam.example'));
    assert.equal(allBlocked.action, 'reject');
    assert.match(allBlocked.reason, /blocked by example\.com/);
    const gtube = await filter.check(input(GTUBE, ['a@strict.example', 'b@open.example', 'c@other.example']));
    assert.deepEqual(
      gtube.recipients.map((r) => r.disposition),
      ['reject', 'inbox', 'reject'],
    );
    assert.equal(gtube.action, 'junk');
    const unscored = await filter.check(input(GTUBE, ['b@open.example']));
    assert.equal(unscored.score, undefined, 'a domain without spam scoring is not scored');
  });

  it("writes rspamd's header fields when asked to", async () => {
    const filter = new ContentFilter({
      hostname: 'mail.example.com',
      log: silentLogger,
      checks: [builtinRules],
      settings: { ...settings, onEngineFailure: 'tempfail', headerStyle: 'rspamd' },
    });
    const v = await filter.check({
      qid: 'Q',
      data: Buffer.from('x'),
      head: parseHeaders('From: a@example.org\r\n\r\n'),
      scoreSpam: true,
      mailFrom: 'a@example.org',
      client: { ip: '192.0.2.1', helo: 'mx.example.org' },
      accounts: [],
      recipients: [],
      fromAddresses: [],
    });
    assert.equal(
      v.headers,
      'X-Spamd-Result: default: False [1.50 / 5.00]; MISSING_DATE(1.00); MISSING_MID(0.50)\r\nX-Rspamd-Score: 1.50\r\n',
    );
  });
});
