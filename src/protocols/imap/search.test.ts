import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envelopePrefilter, matches, parseSearch, type SearchTarget } from './search.js';
import { ImapSyntaxError, tokenize } from './wire.js';

const parse = (text: string) => parseSearch(tokenize([`a SEARCH ${text}`]).tokens.slice(1));
const content = Buffer.from(
  'From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: Quarterly report\r\nDate: Wed, 25 Nov 2026 09:00:00 +0000\r\nX-Tag: blue\r\n\r\nThe numbers look good.\r\n',
);
const target = (over: Partial<SearchTarget> = {}): SearchTarget => ({
  seq: 3,
  uid: 30,
  flags: ['\\Seen', '$Work'],
  isRecent: false,
  size: content.length,
  internalDate: new Date('2026-11-26T12:00:00Z'),
  modseq: 7,
  content: async () => content,
  ...over,
});
const check = async (text: string, t = target()) => matches(parse(text).key, t, { maxSeq: 10, maxUid: 100 });

describe('SEARCH keys (RFC 9051 §6.4.4)', () => {
  it('evaluates every RFC 3501 key', async () => {
    const yes = [
      'ALL',
      'SEEN',
      'UNANSWERED',
      'UNDELETED',
      'UNDRAFT',
      'UNFLAGGED',
      'KEYWORD $Work',
      'UNKEYWORD $Other',
      'OLD',
      '2:4',
      'UID 30',
      'UID 1:*',
      'ON 26-Nov-2026',
      'SINCE 1-Nov-2026',
      'BEFORE 27-Nov-2026',
      'SENTON 25-Nov-2026',
      'SENTBEFORE 26-Nov-2026',
      'SENTSINCE 25-Nov-2026',
      'LARGER 10',
      'SMALLER 100000',
      'FROM ann',
      'TO bob@example',
      'SUBJECT quarterly',
      'HEADER X-Tag blue',
      'HEADER X-Tag ""',
      'BODY numbers',
      'TEXT Quarterly',
      'OR DELETED SEEN',
      'NOT DELETED',
      '(SEEN UNFLAGGED) OR SEEN DELETED',
      'NOT (DELETED)',
      'MODSEQ 5',
      'CHARSET UTF-8 SEEN',
    ];
    for (const k of yes) assert.equal(await check(k), true, k);
    const no = [
      'UNSEEN',
      'ANSWERED',
      'DELETED',
      'DRAFT',
      'FLAGGED',
      'KEYWORD $Other',
      'NEW',
      'RECENT',
      '4:5',
      'UID 1:29',
      'ON 25-Nov-2026',
      'SENTON 26-Nov-2026',
      'LARGER 100000',
      'FROM carol',
      'SUBJECT annual',
      'HEADER X-Missing ""',
      'BODY Quarterly',
      'TEXT absent',
      'OR DELETED FLAGGED',
      'SEEN UNSEEN',
      'NOT ALL',
      'MODSEQ 8',
    ];
    for (const k of no) assert.equal(await check(k), false, k);
  });

  it('reads ESEARCH RETURN options (RFC 4731)', () => {
    assert.deepEqual([...parse('RETURN (MIN COUNT) ALL').ret!], ['MIN', 'COUNT']);
    assert.deepEqual([...parse('RETURN () ALL').ret!], ['ALL']);
  });

  it('refuses malformed keys', () => {
    for (const bad of [
      '',
      'FOO',
      'ON 32-Foo-2026',
      'LARGER x',
      'OR SEEN',
      'NOT',
      'UID',
      'UID 0',
      'HEADER',
      'RETURN MIN ALL',
      'RETURN (BOGUS) ALL',
      '1:2:3',
    ]) {
      assert.throws(() => parse(bad), ImapSyntaxError, bad);
    }
  });

  it('names the text a stored envelope must hold only where the envelope keeps the raw header', () => {
    assert.equal(envelopePrefilter(parse('HEADER Message-ID <m1@remote.example>').key), '<m1@remote.example>');
    assert.equal(envelopePrefilter(parse('UNSEEN HEADER In-Reply-To <a@b>').key), '<a@b>');
    // SUBJECT and FROM are compared decoded (RFC 2047) or across fields: every row must be read.
    for (const k of [
      'SUBJECT report',
      'FROM ann@example.com',
      'HEADER Message-ID ""',
      'OR HEADER Message-ID <a@b> SEEN',
      'NOT HEADER Message-ID <a@b>',
      'HEADER Message-ID "a\\"b"',
    ]) {
      assert.equal(envelopePrefilter(parse(k).key), undefined, k);
    }
  });
});
