import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileScript, SieveError } from './compile.js';
import { runScript, SieveRuntimeError, wildcardMatch, type SieveAction, type SieveMessage } from './interpret.js';
import { buildVacationReply } from './replies.js';
import { parseHeaders } from '../mime/headers.js';

const LIMITS = { maxRedirects: 4, maxActions: 32 };

function message(headers: Record<string, string[]>, extra: Partial<SieveMessage> = {}): SieveMessage {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    header: (name) => lower.get(name.toLowerCase()) ?? [],
    envelope: { from: 'alice@example.org', to: 'bob+lists@example.com' },
    size: 2048,
    body: () => ['Hello Bob,\r\nthe quarterly report is attached.\r\n'],
    mailboxExists: (name) => name === 'INBOX' || name === 'Lists',
    ...extra,
  };
}

function run(
  script: string,
  msg = message({
    From: ['Alice <alice@example.org>'],
    To: ['bob@example.com'],
    Subject: ['[acme-users] [fwd] version 1.0 is out'],
  }),
): SieveAction[] {
  return runScript(compileScript(script), msg, LIMITS);
}

function errorLine(script: string): { line: number; message: string } {
  try {
    compileScript(script);
  } catch (err) {
    assert.ok(err instanceof SieveError, String(err));
    return { line: err.line, message: err.message };
  }
  assert.fail('script compiled');
}

describe('sieve parser and checks', () => {
  it('reports the line of syntax errors', () => {
    assert.equal(errorLine('require "fileinto";\nfileinto "x"\nkeep;').line, 3);
    assert.equal(errorLine('keep;\n\n"oops";').line, 3);
    assert.equal(errorLine('if true {\n keep;\n').line, 3);
    assert.equal(errorLine('/* never closed').line, 1);
    assert.equal(errorLine('keep;\n"unterminated').line, 2);
    assert.equal(errorLine('fileinto "x";').message, 'command "fileinto" needs require "fileinto"');
    assert.match(errorLine('frobnicate;').message, /unknown command "frobnicate"/);
    assert.match(errorLine('require "regex";').message, /unsupported extension "regex"/);
    assert.match(errorLine('keep;\nrequire "fileinto";').message, /require must come before/);
    assert.match(errorLine('if header :is :contains "a" "b" { keep; }').message, /cannot be used together/);
    assert.match(errorLine('if size { keep; }').message, /size needs :over or :under/);
    assert.match(errorLine('if size 100 { keep; }').message, /size takes 0 arguments/);
    assert.match(errorLine('elsif true { keep; }').message, /without a preceding if/);
    assert.match(errorLine('if header :comparator "i;unknown" "a" "b" { keep; }').message, /unknown comparator/);
    assert.match(errorLine('if header "bad name:" "b" { keep; }').message, /invalid header name/);
    assert.match(
      errorLine('require "relational";\nif header :value "xx" "a" "b" { keep; }').message,
      /unknown relation/,
    );
    assert.match(errorLine('redirect;').message, /takes 1 argument/);
  });

  it('bounds nesting', () => {
    const deep = 'if true { '.repeat(40) + 'keep;' + ' }'.repeat(40);
    assert.match(errorLine(deep).message, /nested too deeply/);
    const notChain = `if ${'not '.repeat(40)}true { keep; }`;
    assert.match(errorLine(notChain).message, /nested too deeply/);
  });

  it('reads multi-line strings, comments, numbers with quantifiers', () => {
    const script = compileScript(
      'require "vacation"; # comment\n/* block\ncomment */\nif size :over 1K { vacation :days 3 text:\nAway.\n..dot\n.\n; }',
    );
    assert.equal(script.commands.length, 2);
    const acts = runScript(script, message({}), LIMITS);
    const vacation = acts.find((a) => a.type === 'vacation');
    assert.ok(vacation && vacation.type === 'vacation');
    assert.equal(vacation.reason, 'Away.\r\n.dot\r\n');
    assert.equal(vacation.days, 3);
  });

  it('decodes encoded characters when required', () => {
    const acts = run('require ["encoded-character", "fileinto"]; fileinto "${hex:4C 69}st${unicode:E9}";');
    assert.deepEqual(acts, [{ type: 'fileinto', mailbox: 'Listé', create: false, flags: [] }]);
  });
});

describe('sieve interpreter', () => {
  it('keeps implicitly when nothing matches', () => {
    assert.deepEqual(run('if header :contains "subject" "nothing" { discard; }'), [{ type: 'keep', flags: [] }]);
  });

  it('files by header, address parts and envelope', () => {
    const script = `require ["fileinto", "envelope", "subaddress"];
      if address :domain :is "from" "EXAMPLE.org" { fileinto "From-org"; }
      if envelope :detail "to" "lists" { fileinto "Lists"; }
      if header :matches "subject" "*version*" { fileinto "Releases"; stop; }
      fileinto "never";`;
    assert.deepEqual(
      run(script).map((a) => a.type === 'fileinto' && a.mailbox),
      ['From-org', 'Lists', 'Releases'],
    );
  });

  it('discard cancels the implicit keep; keep and fileinto INBOX are one action', () => {
    assert.deepEqual(run('discard;'), []);
    assert.deepEqual(run('require "fileinto"; keep; fileinto "INBOX";'), [
      { type: 'fileinto', mailbox: 'INBOX', create: false, flags: [] },
    ]);
  });

  it('redirect and :copy', () => {
    assert.deepEqual(run('redirect "carol@example.net";'), [{ type: 'redirect', address: 'carol@example.net' }]);
    assert.deepEqual(run('require "copy"; redirect :copy "carol@example.net";'), [
      { type: 'redirect', address: 'carol@example.net' },
      { type: 'keep', flags: [] },
    ]);
    assert.throws(
      () => run('redirect "a@b.c"; redirect "d@b.c"; redirect "e@b.c"; redirect "f@b.c"; redirect "g@b.c";'),
      SieveRuntimeError,
    );
    assert.throws(() => run('redirect "not an address";'), SieveRuntimeError);
  });

  it('imap4flags on keep and fileinto', () => {
    const acts = run(
      'require ["imap4flags", "fileinto"]; addflag "\\\\Seen"; addflag ["$Work", "\\\\seen"]; fileinto "Work"; removeflag "$Work"; keep;',
    );
    assert.deepEqual(acts, [
      { type: 'fileinto', mailbox: 'Work', create: false, flags: ['\\Seen', '$Work'] },
      { type: 'keep', flags: ['\\Seen'] },
    ]);
    assert.deepEqual(
      run('require "imap4flags"; setflag "\\\\Flagged"; if hasflag "\\\\flagged" { keep :flags "$Done"; }'),
      [{ type: 'keep', flags: ['$Done'] }],
    );
  });

  it('variables and match variables (shortest match first)', () => {
    const acts = run(
      'require ["fileinto", "variables"]; if header :matches "subject" "[*] *" { set :upperfirst "list" "${1}"; fileinto "Lists/${list}"; }',
    );
    assert.deepEqual(acts, [{ type: 'fileinto', mailbox: 'Lists/Acme-users', create: false, flags: [] }]);
    assert.deepEqual(
      run(
        'require ["variables", "fileinto"]; set :length "n" "héllo"; if string :is "${n}" "5" { fileinto "five"; }',
      ).map((a) => a.type === 'fileinto' && a.mailbox),
      ['five'],
    );
  });

  it('relational with i;ascii-numeric', () => {
    const msg = message({ 'X-Spam-Score': ['7'], Received: ['a', 'b', 'c'] });
    const script =
      'require ["relational", "comparator-i;ascii-numeric", "fileinto"]; if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "Junk"; } if header :count "gt" :comparator "i;ascii-numeric" "received" "2" { addflag "x"; }';
    assert.throws(() => compileScript(script), /needs require "imap4flags"/);
    assert.deepEqual(
      run(script.replace('addflag "x";', 'fileinto "Hops";'), msg).map((a) => a.type === 'fileinto' && a.mailbox),
      ['Junk', 'Hops'],
    );
  });

  it('body, size, exists, mailboxexists', () => {
    const msg = message({ Subject: ['x'] });
    assert.deepEqual(
      run('require ["body", "fileinto"]; if body :contains "QUARTERLY report" { fileinto "Reports"; }', msg).map(
        (a) => a.type === 'fileinto' && a.mailbox,
      ),
      ['Reports'],
    );
    assert.deepEqual(
      run('if allof (size :over 1K, size :under 3K, exists "subject", not exists "x-none") { discard; }', msg),
      [],
    );
    assert.deepEqual(
      run('require ["mailbox", "fileinto"]; if mailboxexists "Lists" { fileinto :create "New"; }', msg),
      [{ type: 'fileinto', mailbox: 'New', create: true, flags: [] }],
    );
  });

  it('reject, ereject and vacation', () => {
    assert.deepEqual(run('require "reject"; reject "no thanks";'), [
      { type: 'reject', reason: 'no thanks', ereject: false },
    ]);
    assert.throws(() => run('require ["reject", "vacation"]; vacation "away"; reject "no";'), SieveRuntimeError);
    const [v] = run(
      'require "vacation"; vacation :subject "Away" :addresses ["bob@example.com"] :handle "h1" "I am away";',
    );
    assert.deepEqual(v, {
      type: 'vacation',
      reason: 'I am away',
      days: 7,
      subject: 'Away',
      from: undefined,
      addresses: ['bob@example.com'],
      mime: false,
      handle: 'h1',
    });
  });

  it(':matches is bounded on hostile patterns', () => {
    assert.deepEqual(wildcardMatch('*@*.*', 'bob@example.com', true), ['bob@example.com', 'bob', 'example', 'com']);
    assert.equal(wildcardMatch('a\\*b?', 'a*bc', false)?.[1], 'c');
    assert.equal(wildcardMatch('*a*a*a*a*a*a*b', 'a'.repeat(100_000), false), undefined);
    assert.deepEqual(wildcardMatch('*.*', 'a.b.c', false), ['a.b.c', 'a', 'b.c']);
  });
});

describe('vacation replies', () => {
  it('folds References one msg-id per line and drops ids with spaces or line breaks', () => {
    const ids = Array.from({ length: 30 }, (_, i) => `<${String(i).padStart(3, '0')}.${'x'.repeat(230)}@example.com>`);
    const headers = parseHeaders(
      `Message-ID: <orig@example.com>\r\nReferences: ${ids.join(' ')} <bad id@x> <ok@y>\r\nSubject: hi\r\n`,
    );
    const reply = buildVacationReply(
      {
        type: 'vacation',
        reason: 'away',
        subject: undefined,
        from: undefined,
        addresses: [],
        mime: false,
        handle: 'h',
        days: 7,
      },
      { headers, from: '<ann@example.com>', to: 'bob@example.org', hostname: 'mail.example.com' },
    ).toString();
    const head = reply.slice(0, reply.indexOf('\r\n\r\n'));
    for (const line of head.split('\r\n')) assert.ok(line.length <= 998, `a line of ${line.length} characters`);
    const refs = parseHeaders(head)
      .find((f) => f.key === 'references')!
      .value.split(' ');
    assert.equal(refs.length, 21, 'the last 20, then the original');
    assert.equal(refs.at(-1), '<orig@example.com>');
    assert.equal(refs.at(-2), '<ok@y>');
    assert.ok(!refs.includes('id@x>'));
  });
});
