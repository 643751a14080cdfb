import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileScript, SieveError, SIEVE_EXTENSIONS } from './compile.js';
import { runScript, type SieveMessage } from './interpret.js';
import { decidesVerdict, spamtestValue, spamVerdict, virustestValue } from './spamtest.js';

const LIMITS = { maxRedirects: 4, maxActions: 32 };

/** A message whose header fields are given top to bottom. */
function message(headers: Array<[string, string]>): SieveMessage {
  return {
    header: (name) => headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v),
    envelope: { from: 'x@sender.example', to: 'ann@example.com' },
    size: 1000,
    body: () => ['hello'],
    mailboxExists: () => true,
  };
}

const status = (score: number, required = 5, yes = score >= required): [string, string] => [
  'X-Spam-Status',
  `${yes ? 'Yes' : 'No'}, score=${score} required=${required}`,
];

/** Where the script files the message: the mailboxes of its keep/fileinto actions. */
function filed(script: string, headers: Array<[string, string]>): string[] {
  return runScript(compileScript(script), message(headers), LIMITS).map((a) =>
    a.type === 'keep' ? 'INBOX' : a.type === 'fileinto' ? a.mailbox : a.type,
  );
}

function compileError(script: string): string {
  try {
    compileScript(script);
  } catch (err) {
    assert.ok(err instanceof SieveError, String(err));
    return err.message;
  }
  assert.fail('script compiled');
}

const NUMERIC = 'require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric"];\n';

describe('sieve spamtest and virustest (RFC 5235)', () => {
  it('are advertised in the SIEVE capability', () => {
    for (const e of ['spamtest', 'spamtestplus', 'virustest'])
      assert.ok((SIEVE_EXTENSIONS as readonly string[]).includes(e), e);
  });

  it('maps the score linearly between 0 and the junk score: 1 at or under 0, 10 from the junk score', () => {
    const v = (score: number, required = 5) => spamtestValue({ score, required, isSpam: score >= required }, false);
    assert.equal(v(-3), '1');
    assert.equal(v(0), '1');
    assert.equal(v(0.1), '2');
    assert.equal(v(2.5), '6');
    assert.equal(v(4.99), '9');
    assert.equal(v(5), '10');
    assert.equal(v(1000), '10');
    assert.equal(spamtestValue(undefined, false), '0', 'not tested');
    const p = (score: number, required = 5) => spamtestValue({ score, required, isSpam: score >= required }, true);
    assert.equal(p(-1), '0');
    assert.equal(p(1), '20');
    assert.equal(p(4.99), '99');
    assert.equal(p(5), '100');
    assert.equal(p(50), '100');
    assert.equal(spamtestValue(undefined, true), '0');
  });

  it('reads only the topmost X-Spam-Status and X-Virus-Status, as the filter writes them', () => {
    const header = (fields: Array<[string, string]>) => message(fields).header;
    assert.deepEqual(spamVerdict(header([status(7.5), status(-10)])), { score: 7.5, required: 5, isSpam: true });
    assert.deepEqual(spamVerdict(header([['X-Spam-Status', 'No, score=-0.5 required=6.5']])), {
      score: -0.5,
      required: 6.5,
      isSpam: false,
    });
    assert.equal(spamVerdict(header([['X-Spam-Status', 'garbage']])), undefined);
    assert.equal(spamVerdict(header([['Subject', 'hi']])), undefined);
    assert.deepEqual(spamVerdict(header([['X-Spamd-Result', 'default: True [16.20 / 15.00]; GTUBE(0.00)']])), {
      score: 16.2,
      required: 15,
      isSpam: true,
    });
    assert.equal(virustestValue(header([['X-Virus-Status', 'Clean on mail.example.com']])), '1');
    assert.equal(virustestValue(header([['X-Virus-Status', 'Unchecked (scanner unavailable) on mx']])), '0');
    assert.equal(virustestValue(header([['X-Virus-Status', 'Infected (Eicar) on mx']])), '5');
    assert.equal(virustestValue(header([])), '0');
    assert.equal(
      virustestValue(
        header([
          ['X-Virus-Status', 'Unchecked (scanner unavailable) on mx'],
          ['X-Virus-Status', 'Clean'],
        ]),
      ),
      '0',
      'a lower field written by the sender does not count',
    );
    const long = `No, ${'score=1 '.repeat(20_000)}`;
    assert.equal(spamVerdict(header([['X-Spam-Status', long]])), undefined, 'a long field is read in bounded time');
  });

  it('runs spamtest :value with i;ascii-numeric, and "0" for mail that was not scored', () => {
    const script = `${NUMERIC}if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Spammy"; }
elsif spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "Unscored"; }`;
    assert.deepEqual(filed(script, [status(3)]), ['Spammy'], '3 of 5 is 6');
    assert.deepEqual(filed(script, [status(2)]), ['INBOX'], '2 of 5 is 5');
    assert.deepEqual(filed(script, [status(9)]), ['Spammy']);
    assert.deepEqual(filed(script, [['Subject', 'from a logged-in user']]), ['Unscored']);
    assert.deepEqual(
      filed(script, [['Subject', 'x'], status(9)]),
      ['Spammy'],
      'the filter field is found under other fields',
    );
    // The default comparator is i;ascii-casemap (RFC 5235 §3.1, RFC 5228 §2.7.3): "10" sorts before "6".
    assert.deepEqual(
      filed('require ["spamtest", "fileinto", "relational"];\nif spamtest :value "ge" "6" { fileinto "S"; }', [
        status(9),
      ]),
      ['INBOX'],
    );
    assert.deepEqual(
      filed('require ["spamtest", "fileinto"];\nif spamtest "10" { fileinto "S"; }', [status(9)]),
      ['S'],
      ':is by default',
    );
  });

  it('runs spamtest :percent with spamtestplus, which implies spamtest', () => {
    const script = `require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "Unscored"; }
elsif spamtest :percent :value "ge" :comparator "i;ascii-numeric" "50" { fileinto "Half"; }`;
    assert.equal(compileScript(script).requires.has('spamtest'), true);
    assert.deepEqual(filed(script, [status(2.5)]), ['Half']);
    assert.deepEqual(filed(script, [status(2.4)]), ['INBOX']);
    assert.deepEqual(filed(script, [status(0)]), ['INBOX'], 'scored 0: tested, not spam');
    assert.deepEqual(filed(script, []), ['Unscored']);
    assert.deepEqual(
      filed(
        'require ["spamtestplus", "fileinto", "variables"];\nif spamtest :percent :matches "*" { fileinto "p${1}"; }',
        [status(1)],
      ),
      ['p20'],
    );
  });

  it('runs virustest: 0 not scanned, 1 clean, 5 infected', () => {
    const script = `require ["virustest", "fileinto", "relational", "comparator-i;ascii-numeric"];
if virustest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "Unscanned"; }
elsif virustest :value "ge" :comparator "i;ascii-numeric" "4" { fileinto "Virus"; }
elsif virustest "1" { fileinto "Clean"; }`;
    assert.deepEqual(filed(script, [['X-Virus-Status', 'Clean on mx']]), ['Clean']);
    assert.deepEqual(filed(script, [['X-Virus-Status', 'Unchecked (scanner unavailable) on mx']]), ['Unscanned']);
    assert.deepEqual(filed(script, []), ['Unscanned']);
    assert.deepEqual(filed(script, [['X-Virus-Status', 'Infected (Eicar) on mx']]), ['Virus']);
  });

  it('refuses scripts that use the tests without require, or with wrong arguments', () => {
    assert.match(compileError('if spamtest "5" { discard; }'), /test "spamtest" needs require "spamtest"/);
    assert.match(compileError('if virustest "1" { discard; }'), /test "virustest" needs require "virustest"/);
    assert.match(
      compileError('require "spamtest";\nif spamtest :percent "50" { discard; }'),
      /:percent needs require "spamtestplus"/,
    );
    assert.match(compileError('require "virustest";\nif virustest :percent "50" { discard; }'), /has no tag :percent/);
    assert.match(
      compileError('require "spamtest";\nif spamtest :value "ge" "5" { discard; }'),
      /:value needs require "relational"/,
    );
    assert.match(
      compileError(
        'require ["spamtest", "relational"];\nif spamtest :value "ge" :comparator "i;ascii-numeric" "5" { discard; }',
      ),
      /needs require "comparator-i;ascii-numeric"/,
    );
    assert.match(compileError('require "spamtest";\nif spamtest { discard; }'), /takes 1 argument/);
    assert.match(compileError('require "spamtest";\nif spamtest ["1", "2"] { discard; }'), /must be a string/);
  });

  it('tells delivery when a script takes over the verdict', () => {
    assert.equal(decidesVerdict(compileScript('require "fileinto"; keep;').requires), false);
    assert.equal(decidesVerdict(compileScript('require "spamtest"; keep;').requires), true);
    assert.equal(decidesVerdict(compileScript('require "spamtestplus"; keep;').requires), true);
    assert.equal(decidesVerdict(compileScript('require "virustest"; keep;').requires), true);
  });
});
