import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaders } from './mime/headers.js';
import { baseSubject, threadKeys } from './threads.js';

describe('thread keys', () => {
  it('strips reply and forward prefixes, list tags and (fwd), in any order and case', () => {
    for (const [subject, base] of [
      ['Re: Lunch', 'lunch'],
      ['RE: re:  Fwd: [acme-users] Re[2]: Lunch (fwd)', 'lunch'],
      ['AW: SV: Lunch', 'lunch'],
      ['[acme] ', '[acme]'],
      ['Lunch   on   Friday', 'lunch on friday'],
      ['Reply needed', 'reply needed'],
    ])
      assert.equal(baseSubject(subject!), base, subject);
  });

  it('reads Message-ID, In-Reply-To and References, nearest first, without duplicates or itself', () => {
    const keys = threadKeys(
      parseHeaders(
        'Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\n <c@x>\r\nSubject: =?utf-8?q?Re:_H=C3=A9llo?=\r\n',
      ),
    );
    assert.deepEqual(keys, { messageId: 'c@x', references: ['b@x', 'a@x'], subject: 'héllo' });
    assert.deepEqual(threadKeys(parseHeaders('Subject: x\r\n')), {
      messageId: undefined,
      references: [],
      subject: 'x',
    });
  });
});
