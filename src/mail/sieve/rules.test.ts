import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileScript } from './compile.js';
import { runScript, type SieveMessage } from './interpret.js';
import { checkRules, EMPTY_RULES, RuleError, rulesOf, rulesScript, type MailRules } from './rules.js';

const LIMITS = { maxRedirects: 4, maxActions: 32 };

function message(headers: Record<string, string>, body = 'hello', size = 2048): SieveMessage {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
  return {
    header: (name) => lower.get(name.toLowerCase()) ?? [],
    envelope: { from: 'alice@example.org', to: 'bob@example.com' },
    size,
    body: () => [body],
    mailboxExists: () => true,
  };
}

const RULES: MailRules = checkRules(
  {
    vacation: {
      enabled: true,
      subject: 'Away "until" Monday \\ back',
      body: 'I am away.\nBack on Monday.',
      days: 3,
      addresses: ['Bob.Alias@Example.com'],
    },
    forwarding: { enabled: true, to: ['bob@elsewhere.example'], keepCopy: true },
    filters: [
      {
        name: 'lists',
        match: 'any',
        conditions: [
          { field: 'list-id', op: 'contains', value: 'acme' },
          { field: 'header', header: 'X-Team', op: 'is', value: 'ops' },
        ],
        actions: [{ type: 'fileinto', mailbox: 'Lists/Acme' }, { type: 'stop' }],
      },
      {
        name: 'big',
        conditions: [{ field: 'size', op: 'over', value: '1000000' }],
        actions: [{ type: 'flag', flag: 'flagged' }],
      },
      {
        name: 'no invoices',
        match: 'all',
        conditions: [
          { field: 'subject', op: 'matches', value: '*invoice*' },
          { field: 'from', op: 'notcontains', value: 'accounts@' },
          { field: 'body', op: 'contains', value: 'wire transfer' },
        ],
        actions: [{ type: 'discard' }],
      },
      { name: 'off', enabled: false, conditions: [], actions: [{ type: 'discard' }] },
    ],
  },
  'bob@example.com',
);

describe('mail rules of the account page', () => {
  it('are written as a Sieve script that compiles, and read back from it', () => {
    const script = rulesScript(RULES);
    compileScript(script);
    assert.deepEqual(rulesOf(script), RULES);
    assert.match(script, /^require \["body", "copy", "fileinto", "imap4flags", "mailbox", "vacation"\];$/m);
    assert.equal(rulesOf('require "fileinto";\r\nfileinto "x";\r\n'), undefined, 'a script of its own has no rules');
    assert.equal(rulesScript(EMPTY_RULES).includes('require'), false);
    compileScript(rulesScript(EMPTY_RULES));
  });

  it('act as the form says: vacation, a kept forward, filters in order, a disabled filter not at all', () => {
    const script = compileScript(rulesScript(RULES));
    const list = runScript(script, message({ 'List-Id': '<acme.lists.example>', Subject: 'x' }), LIMITS);
    assert.deepEqual(
      list.map((a) => a.type),
      ['vacation', 'redirect', 'fileinto'],
    );
    const vacation = list[0] as Extract<(typeof list)[0], { type: 'vacation' }>;
    assert.equal(vacation.subject, 'Away "until" Monday \\ back');
    assert.equal(vacation.days, 3);
    assert.deepEqual(
      list.find((a) => a.type === 'fileinto'),
      { type: 'fileinto', mailbox: 'Lists/Acme', flags: [], create: true },
    );
    const invoice = runScript(
      script,
      message({ Subject: 'Your invoice', From: 'scam@x.example' }, 'please make a wire transfer'),
      LIMITS,
    );
    assert.ok(!invoice.some((a) => a.type === 'keep'), 'discarded: no keep');
    const fromAccounts = runScript(
      script,
      message({ Subject: 'Your invoice', From: 'accounts@x.example' }, 'wire transfer'),
      LIMITS,
    );
    assert.ok(fromAccounts.some((a) => a.type === 'keep'));
    const big = runScript(script, message({ Subject: 'x' }, 'x', 2_000_000), LIMITS);
    assert.deepEqual(
      big.find((a) => a.type === 'keep'),
      { type: 'keep', flags: ['\\Flagged'] },
    );
  });

  it('keep hostile text inside its strings', () => {
    const rules = checkRules(
      {
        filters: [
          {
            name: 'x } discard; #',
            conditions: [{ field: 'subject', op: 'contains', value: '"; discard; if true { "' }],
            actions: [{ type: 'fileinto', mailbox: 'a"b\\c' }, { type: 'stop' }],
          },
          {
            name: 'refuse',
            conditions: [{ field: 'subject', op: 'contains', value: 'refuse' }],
            actions: [{ type: 'reject', reason: 'No "invoices";\r\ndiscard;' }],
          },
        ],
      },
      'bob@example.com',
    );
    const actions = runScript(compileScript(rulesScript(rules)), message({ Subject: 'plain' }), LIMITS);
    assert.deepEqual(
      actions.map((a) => a.type),
      ['keep'],
    );
    const hit = runScript(
      compileScript(rulesScript(rules)),
      message({ Subject: 'a "; discard; if true { " b' }),
      LIMITS,
    );
    assert.deepEqual(hit[0], { type: 'fileinto', mailbox: 'a"b\\c', flags: [], create: true });
    const refused = runScript(compileScript(rulesScript(rules)), message({ Subject: 'refuse' }), LIMITS);
    assert.deepEqual(refused, [{ type: 'reject', ereject: false, reason: 'No "invoices";\r\ndiscard;' }]);
  });

  it('refuse what the form cannot mean, saying what to fix', () => {
    const refused = (input: unknown, pattern: RegExp) =>
      assert.throws(
        () => checkRules(input, 'bob@example.com'),
        (e: unknown) => e instanceof RuleError && pattern.test(e.message),
      );
    refused({ forwarding: { enabled: true, to: ['bob@example.com'] } }, /loop/);
    refused({ forwarding: { enabled: true, to: [] } }, /at least one address/);
    refused({ forwarding: { enabled: true, to: ['a@b.example', 'c@d', 'e@f', 'g@h', 'i@j'] } }, /at most 4/);
    refused({ forwarding: { enabled: true, to: ['not an address'] } }, /not an address|user@domain/);
    refused({ vacation: { enabled: true, body: '' } }, /needs a "body"/);
    refused({ vacation: { enabled: true, body: 'x', days: 0 } }, /1 to 30/);
    refused({ vacation: { enabled: true, subject: 'a\r\nBcc: x@y', body: 'x' } }, /line break/);
    refused({ filters: [{ actions: [] }] }, /at least one action/);
    refused(
      { filters: [{ conditions: [{ field: 'date', op: 'is', value: 'x' }], actions: [{ type: 'stop' }] }] },
      /"field"/,
    );
    refused(
      { filters: [{ conditions: [{ field: 'size', op: 'over', value: '1e9' }], actions: [{ type: 'stop' }] }] },
      /number of bytes/,
    );
    refused({ filters: [{ conditions: [], actions: [{ type: 'fileinto', mailbox: 'a//b' }] }] }, /folder name/);
    refused({ filters: [{ conditions: [], actions: [{ type: 'vacation' }] }] }, /"type"/);
    refused(
      {
        filters: [
          { conditions: [{ field: 'header', header: 'a:b', op: 'is', value: 'x' }], actions: [{ type: 'stop' }] },
        ],
      },
      /header field/,
    );
    refused([], /JSON object/);
    refused(
      {
        forwarding: { enabled: true, to: ['a@x.example', 'b@x.example', 'c@x.example'] },
        filters: [
          {
            conditions: [],
            actions: [
              { type: 'redirect', to: 'd@x.example' },
              { type: 'redirect', to: 'e@x.example' },
            ],
          },
        ],
      },
      /5 addresses; at most 4/,
    );
    refused(
      {
        filters: [
          {
            actions: [
              { type: 'reject', reason: 'x' },
              { type: 'fileinto', mailbox: 'X' },
            ],
          },
        ],
      },
      /reject goes alone/,
    );
    refused(
      {
        vacation: { enabled: true, body: 'away' },
        filters: [{ name: 'no', conditions: [], actions: [{ type: 'reject', reason: 'no' }] }],
      },
      /filter "no" rejects mail.*vacation/,
    );
  });
});
