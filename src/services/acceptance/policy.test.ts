import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaders } from '../../mail/mime/headers.js';
import { applyAuthentication, checkHeader, rfc5322Date, stripFilterHeaders, submissionFields } from './policy.js';

const msg = (head: string) => Buffer.from(`${head.replace(/\n/g, '\r\n')}\r\n\r\nbody\r\n`);
const codeOf = (r: ReturnType<typeof checkHeader>) => ('refusal' in r ? r.refusal.code : 'accept');

describe('acceptance policy', () => {
  it('takes a plain message and reads its From', () => {
    const r = checkHeader('mx', msg('From: a@example.org\nTo: b@example.com\nSubject: hi'));
    assert.ok('facts' in r);
    assert.equal(r.facts.from, 'a@example.org');
  });

  it('refuses a second From on every port, and other repeated fields on submission only', () => {
    for (const mode of ['mx', 'submission', 'lmtp'] as const)
      assert.equal(codeOf(checkHeader(mode, msg('From: a@example.org\nFrom: b@example.net'))), 'MESSAGE_MALFORMED');
    const twoSubjects = msg('From: a@example.org\nSubject: one\nSubject: two');
    assert.equal(codeOf(checkHeader('mx', twoSubjects)), 'accept');
    assert.equal(codeOf(checkHeader('submission', twoSubjects)), 'MESSAGE_MALFORMED');
  });

  it('refuses a From DMARC cannot judge on port 25 only', () => {
    for (const from of ['x@bank.example, y@own.example', 'group: x@bank.example;', 'nobody'])
      assert.equal(codeOf(checkHeader('mx', msg(`From: ${from}`))), 'POLICY_REJECTED', from);
    assert.equal(codeOf(checkHeader('lmtp', msg('From: x@bank.example, y@own.example'))), 'accept');
    assert.equal(codeOf(checkHeader('mx', msg('Subject: no From at all'))), 'accept');
  });

  it('bounds signatures, header fields and the header block', () => {
    const sigs = Array.from({ length: 21 }, () => 'DKIM-Signature: v=1; d=example.org').join('\n');
    const tooMany = checkHeader('mx', msg(`From: a@example.org\n${sigs}`));
    assert.ok('refusal' in tooMany);
    assert.equal(tooMany.refusal.code, 'TOO_MANY_SIGNATURES');
    assert.match(tooMany.refusal.detail, /21 DKIM signatures/);
    const fields = Array.from({ length: 1001 }, (_, i) => `X-F${i}: v`).join('\n');
    assert.equal(codeOf(checkHeader('mx', msg(`From: a@example.org\n${fields}`))), 'MESSAGE_TOO_BIG');
    const lines = Array.from({ length: 5001 }, () => ' folded').join('\n');
    assert.equal(codeOf(checkHeader('mx', msg(`From: a@example.org\nX-Long: v\n${lines}`))), 'MESSAGE_TOO_BIG');
  });

  it('adds Message-ID and Date to a submission only when missing', () => {
    const now = new Date('2026-12-02T10:00:00Z');
    const added = submissionFields(parseHeaders('From: a@example.org\r\n'), 'mail.example.com', now);
    assert.equal(added.length, 2);
    assert.match(added[0]!, /^Message-ID: <[0-9a-z]+\.[0-9a-f]{16}@mail\.example\.com>$/);
    assert.equal(added[1], `Date: ${rfc5322Date(now)}`);
    assert.equal(rfc5322Date(now), 'Wed, 02 Dec 2026 10:00:00 +0000');
    const full = parseHeaders('From: a@example.org\r\nMessage-ID: <x@y>\r\nDate: Tue, 1 Dec 2026 00:00:00 +0000\r\n');
    assert.deepEqual(submissionFields(full, 'mail.example.com', now), []);
  });

  it('applies the sender-authentication verdict: reject, Junk, or unjudged From refused', () => {
    assert.deepEqual(applyAuthentication({ verdict: 'accept', fromJudged: true }, true), { folder: undefined });
    assert.deepEqual(applyAuthentication({ verdict: 'junk', fromJudged: true }, true), { folder: 'Junk' });
    const rejected = applyAuthentication({ verdict: 'reject', reason: 'DMARC policy rejects', fromJudged: true }, true);
    assert.ok('refusal' in rejected);
    assert.equal(rejected.refusal.code, 'POLICY_REJECTED');
    assert.equal(rejected.refusal.detail, 'DMARC policy rejects');
    const unjudged = applyAuthentication({ verdict: 'accept', fromJudged: false }, true);
    assert.ok('refusal' in unjudged);
    assert.deepEqual(applyAuthentication({ verdict: 'accept', fromJudged: false }, false), { folder: undefined });
  });
});

describe('filter header fields a sender wrote', () => {
  it('are removed with their continuation lines, and nothing else is', () => {
    const data = Buffer.from(
      'X-Spam-Status: No, score=-100\r\n  folded\r\nSubject: hi\r\nx-virus-status: Clean\r\nX-Spamd-Result: default\r\nX-Spammy: kept\r\n\r\nX-Spam-Status: body\r\n',
    );
    assert.equal(stripFilterHeaders(data).toString(), 'Subject: hi\r\nX-Spammy: kept\r\n\r\nX-Spam-Status: body\r\n');
    const clean = Buffer.from('Subject: hi\r\n\r\nbody');
    assert.equal(stripFilterHeaders(clean), clean);
  });
});
