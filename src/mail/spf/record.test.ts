import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSpfRecord, looksLikeSpf, parseSpf } from './record.js';

describe('SPF record syntax (RFC 7208)', () => {
  it('accepts valid records', () => {
    for (const r of [
      'v=spf1 mx -all',
      'v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.google.com ~all',
      'v=spf1 a:mail.example.com/24 mx//64 -all',
      'v=spf1 redirect=_spf.example.com',
      'v=spf1 exists:%{i}._spf.example.com -all',
      'V=SPF1 -ALL',
      'v=spf1',
    ]) {
      assert.deepEqual(parseSpf(r).problems, [], r);
    }
  });

  it('selects only records starting with "v=spf1" and a space', () => {
    assert.ok(isSpfRecord('v=spf1 -all'));
    assert.ok(!isSpfRecord('v=spf10 -all'));
    assert.ok(!isSpfRecord('-spf1 include:example.com-all'));
    assert.ok(looksLikeSpf('-spf1 include:example.com-all'));
    assert.ok(looksLikeSpf('"v=spf1 mx -all"'));
    assert.ok(!looksLikeSpf('google-site-verification=abc'));
  });

  it('locates the seed\'s "-spf1 include:example.com-all": the prefix and the missing space', () => {
    const r = parseSpf('-spf1 include:example.com-all');
    assert.equal(r.problems.length, 2);
    assert.equal(r.problems[0]!.token, '-spf1');
    assert.equal(r.problems[0]!.suggestion, 'v=spf1');
    assert.equal(r.problems[1]!.token, 'include:example.com-all');
    assert.equal(r.problems[1]!.suggestion, 'include:example.com -all');
    assert.match(r.problems[1]!.message, /missing space/);
  });

  it('names unknown mechanisms, wrong qualifiers, bad addresses and misplaced terms', () => {
    const cases: Array<[string, RegExp, string?]> = [
      ['v=spf1 ipv4:192.0.2.1 -all', /not a valid mechanism/, 'ip4:192.0.2.1'],
      ['v=spf1 ip4:192.0.2.300 -all', /not an IPv4 address/],
      ['v=spf1 ip6:192.0.2.1 -all', /not an IPv6 address/],
      ['v=spf1 ip4:192.0.2.0/33 -all', /not an IPv4 address or network/],
      ['v=spf1 *mx -all', /qualifier is one of/],
      ['v=spf1 include -all', /needs a value/],
      ['v=spf1 include:not_a_domain -all', /not a domain name/],
      ['v=spf1 include=example.com -all', /takes ":" not "="/, 'include:example.com'],
      ['v=spf1 -all mx', /never evaluated/],
      ['v=spf1 redirect=a.example redirect=b.example', /only once/],
      ['v=spf1  mx -all', /single spaces/],
      ['v=spf1 all:example.com', /takes no value/],
    ];
    for (const [record, message, suggestion] of cases) {
      const r = parseSpf(record);
      assert.ok(
        r.problems.some((p) => message.test(p.message)),
        `${record}: ${JSON.stringify(r.problems)}`,
      );
      if (suggestion)
        assert.ok(
          r.problems.some((p) => p.suggestion === suggestion),
          `${record} suggests ${suggestion}`,
        );
    }
  });

  it('reads qualifiers and values', () => {
    const r = parseSpf('v=spf1 +mx ~a:mail.example.com ?ip4:192.0.2.1 -all');
    assert.deepEqual(
      r.terms.map((t) => [t.qualifier, t.name, t.value]),
      [
        ['+', 'mx', ''],
        ['~', 'a', 'mail.example.com'],
        ['?', 'ip4', '192.0.2.1'],
        ['-', 'all', ''],
      ],
    );
  });
});
