/** Every CLI command through the real built binary, good and bad input. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { postern, posternAsync } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const dir = tempDir();
const config = path.join(dir, 'postern.toml');
const run = (args: string[], input?: string) =>
  postern(['--config', config, ...args], input === undefined ? {} : { input });

/** Bad input: exit non-zero, one line on stderr, nothing printed on stdout. */
function refused(r: ReturnType<typeof postern>, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got ${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, pattern);
}

function snapshot(): string {
  return JSON.stringify([
    run(['domain', 'list', '--json']).stdout,
    run(['account', 'list', '--json']).stdout,
    run(['alias', 'list', '--json']).stdout,
  ]);
}

describe('postern CLI', () => {
  before(() => {
    const r = postern(['init', '--hostname', 'mail.example.com', '--data', './data', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
  });

  it('init writes a commented config, refuses to overwrite, and check-config accepts it', () => {
    const text = readFileSync(config, 'utf8');
    assert.match(text, /^hostname = "mail.example.com"/m);
    assert.match(text, /^# /m);
    refused(postern(['init', '--hostname', 'mail.example.com', '--config', config]), /already exists; pass --force/);
    refused(
      postern(['init', '--hostname', 'not a host', '--config', path.join(dir, 'other.toml')]),
      /hostname = "not a host" is not a host name/,
    );
    refused(postern(['init', '--config', path.join(dir, 'other.toml')]), /usage: postern init --hostname/);
    const ok = run(['check-config']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK \(hostname mail.example.com/);
  });

  it('check-config names the bad key and the fix, and says how to create a missing file', () => {
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(bad, 'hostname = "mail.example.com"\n[listen]\nimap = ["0.0.0.0"]\n');
    refused(postern(['check-config', '--config', bad]), /listen.imap\[0\] = "0.0.0.0" is not "address:port"/);
    writeFileSync(bad, 'hostname = "mail.example.com"\n[lisen]\n');
    refused(postern(['check-config', '--config', bad]), /unknown key "lisen" — did you mean "listen"\?/);
    refused(postern(['check-config', '--config', path.join(dir, 'missing.toml')]), /no such file — run "postern init/);
    const viaEnv = postern(['check-config'], { env: { POSTERN_CONFIG: config } });
    assert.equal(viaEnv.code, 0, 'POSTERN_CONFIG names the file');
    writeFileSync(
      bad,
      `hostname = "mail.example.com"\n[[tls.certificate]]\nkey = "${dir}/nokey.pem"\nchain = "${dir}/nochain.pem"\n`,
    );
    const missing = postern(['check-config', '--config', bad]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /tls.certificate\[0\].key = .* cannot be read \(ENOENT\)/);
  });

  it('domain add|list|remove, with IDN normalised and bad names refused', () => {
    assert.match(run(['domain', 'add', 'Example.COM']).stdout, /domain example.com added/);
    assert.match(run(['domain', 'add', 'Bücher.example']).stdout, /domain xn--bcher-kva.example added/);
    assert.match(
      run(['domain', 'add', 'example.net', '--alias-of', 'example.com']).stdout,
      /example.net added as an alias of example.com/,
    );
    const before = snapshot();
    refused(run(['domain', 'add', 'example.com']), /domain example.com already exists/);
    refused(run(['domain', 'add', 'bad..example']), /"bad..example" has an empty label/);
    refused(run(['domain', 'add', 'localhost']), /needs at least two labels/);
    refused(
      run(['domain', 'add', 'x.example', '--alias-of', 'nowhere.example']),
      /domain nowhere.example is not hosted/,
    );
    refused(run(['domain', 'add']), /usage: postern domain add DOMAIN/);
    refused(run(['domain', 'remove', 'nowhere.example']), /domain nowhere.example is not hosted/);
    refused(run(['domain', 'frobnicate']), /usage: postern domain/);
    assert.equal(snapshot(), before, 'refused commands change nothing');
    const list = JSON.parse(run(['domain', 'list', '--json']).stdout) as Array<{
      name: string;
      aliasOf: string | null;
    }>;
    assert.deepEqual(
      list.map((d) => [d.name, d.aliasOf]),
      [
        ['example.com', null],
        ['example.net', 'example.com'],
        ['xn--bcher-kva.example', null],
      ],
    );
    assert.match(
      run(['domain', 'list']).stdout,
      /^DOMAIN\s+ACCOUNTS\s+ALIAS OF\nexample.com\s+0\s+-\nexample.net\s+0\s+example.com/,
    );
  });

  it('account add|list|passwd|quota|remove, password from stdin', () => {
    assert.match(
      run(['account', 'add', 'Ann@Example.com', '--password-stdin', '--quota', '2G'], 'correct horse battery\n').stdout,
      /account ann@example.com added\n/,
    );
    const generated = run(['account', 'add', 'bob@example.com']);
    assert.match(generated.stdout, /account bob@example.com added; password: \S{12,}/);
    const before = snapshot();
    refused(
      run(['account', 'add', 'ann@example.com', '--password-stdin'], 'another password\n'),
      /account ann@example.com already exists/,
    );
    refused(
      run(['account', 'add', 'cy@nowhere.example', '--password-stdin'], 'long enough pw\n'),
      /domain nowhere.example is not hosted; add it first/,
    );
    refused(
      run(['account', 'add', 'not-an-address', '--password-stdin'], 'long enough pw\n'),
      /is not an address of the form user@domain/,
    );
    refused(
      run(['account', 'add', 'cy@example.com', '--password-stdin'], 'short\n'),
      /password is shorter than 8 characters/,
    );
    refused(run(['account', 'add', 'cy@example.com', '--password-stdin'], ''), /no password on standard input/);
    refused(
      run(['account', 'add', 'cy@example.net', '--password-stdin'], 'long enough pw\n'),
      /example.net is a domain alias/,
    );
    refused(run(['account', 'add', 'cy@example.com', '--quota', 'lots'], ''), /"lots" is not a size/);
    refused(run(['account', 'add', 'cy@example.com', '--bogus']), /Unknown option '--bogus'/);
    refused(run(['account', 'passwd', 'ann@example.com']), /needs --password-stdin/);
    refused(
      run(['account', 'passwd', 'zed@example.com', '--password-stdin'], 'long enough pw\n'),
      /account zed@example.com does not exist/,
    );
    refused(run(['account', 'quota', 'ann@example.com']), /usage: postern account quota/);
    refused(run(['account', 'remove', 'zed@example.com']), /account zed@example.com does not exist/);
    assert.equal(snapshot(), before, 'refused commands change nothing');

    assert.equal(run(['account', 'passwd', 'ann@example.com', '--password-stdin'], 'a new passphrase\n').code, 0);
    assert.match(run(['account', 'quota', 'ANN@example.com', '500M']).stdout, /quota of ann@example.com set to 500MB/);
    assert.equal(run(['account', 'quota', 'bob@example.com', '--quota', '0']).code, 0);
    const accounts = JSON.parse(run(['account', 'list', '--json']).stdout) as Array<{
      address: string;
      quotaBytes: number;
    }>;
    assert.deepEqual(
      accounts.map((a) => [a.address, a.quotaBytes]),
      [
        ['ann@example.com', 500 * 1024 ** 2],
        ['bob@example.com', 0],
      ],
    );
    assert.match(run(['account', 'list', 'example.com']).stdout, /ann@example.com\s+0B\s+500MB\s+yes/);
    assert.equal(run(['account', 'remove', 'bob@example.com']).code, 0);
    assert.deepEqual((JSON.parse(run(['account', 'list', '--json']).stdout) as unknown[]).length, 1);
  });

  it('alias add|list|remove, with catch-all and several destinations', () => {
    assert.match(
      run(['alias', 'add', 'info@example.com', 'ann@example.com', 'someone@elsewhere.example']).stdout,
      /alias info@example.com -> ann@example.com, someone@elsewhere.example/,
    );
    assert.equal(run(['alias', 'add', '@Example.com', 'ann@example.com']).code, 0);
    const before = snapshot();
    refused(run(['alias', 'add', 'info@example.com']), /at least one destination/);
    refused(run(['alias', 'add', 'x@nowhere.example', 'ann@example.com']), /domain nowhere.example is not hosted/);
    refused(run(['alias', 'add', 'loop@example.com', 'LOOP@example.com']), /cannot deliver to itself/);
    refused(run(['alias', 'add', 'y@example.com', 'bad address']), /is not an address/);
    refused(run(['alias', 'remove', 'none@example.com']), /alias none@example.com does not exist/);
    assert.equal(snapshot(), before, 'refused commands change nothing');
    const aliases = JSON.parse(run(['alias', 'list', '--json']).stdout) as Array<{
      source: string;
      destinations: string[];
    }>;
    assert.deepEqual(aliases, [
      { source: '@example.com', destinations: ['ann@example.com'] },
      { source: 'info@example.com', destinations: ['ann@example.com', 'someone@elsewhere.example'] },
    ]);
    assert.equal(run(['alias', 'remove', 'info@example.com', 'someone@elsewhere.example']).code, 0);
    assert.equal(run(['alias', 'remove', '@example.com']).code, 0);
    assert.deepEqual(JSON.parse(run(['alias', 'list', '--json']).stdout), [
      { source: 'info@example.com', destinations: ['ann@example.com'] },
    ]);
  });

  it('sieve put|list|show|activate|deactivate|remove|check, broken scripts refused with their line', () => {
    const good = path.join(dir, 'rules.sieve');
    writeFileSync(
      good,
      'require ["fileinto"];\n# moved from Dovecot\nif header :contains "subject" "[list]" { fileinto "Lists"; }\n',
    );
    const broken = path.join(dir, 'broken.sieve');
    writeFileSync(broken, 'require "fileinto";\nfileinto "x"\nkeep;\n');
    assert.match(run(['sieve', 'check', good]).stdout, /script is valid/);
    refused(run(['sieve', 'check', broken]), /line 3: unexpected "keep"/);
    refused(run(['sieve', 'check', path.join(dir, 'missing.sieve')]), /cannot read .*ENOENT/);
    assert.match(
      run(['sieve', 'put', 'ann@example.com', 'rules', good, '--activate']).stdout,
      /script rules stored and active/,
    );
    assert.match(run(['sieve', 'put', 'ann@example.com', 'stdin', '-'], 'keep;\n').stdout, /script stdin stored/);
    refused(run(['sieve', 'put', 'ann@example.com', 'bad', broken]), /line 3:/);
    refused(run(['sieve', 'put', 'zed@example.com', 'rules', good]), /no account zed@example.com/);
    refused(run(['sieve', 'put', 'ann@example.com']), /usage: postern sieve/);
    const list = JSON.parse(run(['sieve', 'list', 'ann@example.com', '--json']).stdout) as Array<{
      name: string;
      isActive: boolean;
    }>;
    assert.deepEqual(
      list.map((s) => [s.name, s.isActive]),
      [
        ['rules', true],
        ['stdin', false],
      ],
    );
    assert.equal(run(['sieve', 'show', 'ann@example.com', 'rules']).stdout, readFileSync(good, 'utf8'));
    refused(
      run(['sieve', 'remove', 'ann@example.com', 'rules']),
      /script rules is active: "postern sieve deactivate ann@example.com" first/,
    );
    assert.match(run(['sieve', 'activate', 'ann@example.com', 'stdin']).stdout, /script stdin is active/);
    assert.match(run(['sieve', 'remove', 'ann@example.com', 'rules']).stdout, /script rules removed/);
    refused(run(['sieve', 'activate', 'ann@example.com', 'rules']), /no script named rules/);
    assert.match(run(['sieve', 'deactivate', 'ann@example.com']).stdout, /no script is active/);
    assert.match(run(['sieve', 'list', 'ann@example.com']).stdout, /^NAME\s+ACTIVE\s+SIZE\s+CHANGED\nstdin\s+6 /);
  });

  it('spam learn reads a message file, an mbox and a maildir; learning again is counted once; spam stats', () => {
    const msg = (n: number, word: string) =>
      `From: s${n}@spam.example\nSubject: ${word} offer ${n}\nMessage-ID: <${word}${n}@x>\n\n${word} money now ${n}\n`;
    const maildir = path.join(dir, 'Junk');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
    writeFileSync(path.join(maildir, 'cur', '1:2,S'), msg(1, 'cheap'));
    writeFileSync(path.join(maildir, 'new', '2'), msg(2, 'cheap'));
    writeFileSync(path.join(maildir, 'tmp', '3'), msg(3, 'cheap')); // being delivered: not a message yet
    const mbox = path.join(dir, 'spam.mbox');
    writeFileSync(
      mbox,
      `From a@b Mon Jan  1 00:00:00 2024\n${msg(4, 'pills')}\nFrom a@b Mon Jan  1 00:00:00 2024\n${msg(5, 'pills')}>From here\n`,
    );
    const one = path.join(dir, 'one.eml');
    writeFileSync(one, msg(6, 'loans'));
    assert.match(
      run(['spam', 'learn', '--spam', maildir, mbox, one]).stdout,
      /^5 messages learnt as spam into the global model \(0 of them learnt the other way before, 0 already learnt\)/,
    );
    assert.match(run(['spam', 'learn', '--spam', one]).stdout, /^0 messages learnt as spam .* 1 already learnt/);
    assert.match(
      run(['spam', 'learn', '--ham', '--account', 'ann@example.com', one]).stdout,
      /^1 messages learnt as ham into ann@example.com/,
    );
    const global = JSON.parse(run(['spam', 'stats', '--json']).stdout) as {
      spam: number;
      ham: number;
      features: number;
    };
    assert.equal(global.spam, 5);
    assert.equal(global.ham, 0);
    assert.ok(global.features > 20);
    assert.match(
      run(['spam', 'stats', '--account', 'ann@example.com']).stdout,
      /^MODEL\s+SPAM\s+HAM\s+FEATURES\nann@example.com\s+0\s+1\s+\d+/,
    );
    refused(run(['spam', 'learn', one]), /usage: postern spam/);
    refused(run(['spam', 'learn', '--spam', '--ham', one]), /usage: postern spam/);
    refused(run(['spam', 'learn', '--spam', path.join(dir, 'missing')]), /cannot read .*ENOENT/);
    refused(run(['spam', 'learn', '--spam', '--account', 'zed@example.com', one]), /no account zed@example.com/);
  });

  it('refuses to remove a domain with accounts unless --force', () => {
    const before = snapshot();
    refused(run(['domain', 'remove', 'example.com']), /still has 1 account\(s\); remove them first or pass --force/);
    assert.equal(snapshot(), before);
    assert.equal(run(['domain', 'remove', 'example.com', '--force']).code, 0);
    assert.deepEqual(
      (JSON.parse(run(['domain', 'list', '--json']).stdout) as Array<{ name: string }>).map((d) => d.name),
      ['xn--bcher-kva.example'],
    );
    assert.deepEqual(JSON.parse(run(['account', 'list', '--json']).stdout), []);
  });

  it('rejects unknown commands with usage help', () => {
    refused(run(['frobnicate']), /unknown command "frobnicate"/);
    assert.match(postern(['--help']).stdout, /usage: postern <command>/);
  });

  it('serve starts, logs JSON lines, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const serveConfig = path.join(dir, 'serve.toml');
    const empty = Object.fromEntries(
      [
        'smtp',
        'submission',
        'submissions',
        'lmtp',
        'imap',
        'imaps',
        'pop3',
        'pop3s',
        'managesieve',
        'http',
        'https',
      ].map((k) => [k, '[]']),
    );
    empty.imaps = `["127.0.0.1:${port}"]`;
    writeFileSync(
      serveConfig,
      `hostname = "mail.example.com"\ndata_dir = "serve-data"\n[tls]\ncertbot_dir = "${dir}/none"\n[listen]\n${Object.entries(
        empty,
      )
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
    );
    const child = posternAsync(['serve', '--config', serveConfig]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('postern started') && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /postern started/, out);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    assert.ok(
      lines.some((l) => l.msg === 'certificate loaded'),
      'every line is a JSON object',
    );
    assert.equal(
      statSync(path.join(dir, 'serve-data', 'tls', 'self-signed', 'privkey.pem')).mode & 0o077,
      0,
      'the private key is not readable by others',
    );
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    assert.match(out, /"msg":"postern stopped"/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
