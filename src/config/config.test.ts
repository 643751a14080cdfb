import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/helpers/tmp.js';
import { renderConfig } from './init.js';
import { ConfigError, loadConfig, parseConfig } from './load.js';
import { isLoopbackHost } from '../lib/ip.js';
import { ConfigSchema, parseRelay } from './schema.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, 'postern.toml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('fills defaults from a minimal file and freezes the result', () => {
    const c = parseConfig('hostname = "mail.example.com"\ndata_dir = "data"\n', '/etc/postern/postern.toml');
    assert.deepEqual(c.listen.smtp, ['0.0.0.0:25']);
    assert.equal(c.data_dir, '/etc/postern/data', 'relative data_dir is relative to the config file');
    assert.equal(c.store.backend, 'sqlite');
    assert.equal(c.tls.allow_plaintext_auth, false);
    assert.ok(Object.isFrozen(c.listen));
  });

  it('parses durations and sizes once, into milliseconds and bytes', () => {
    const c = parseConfig(
      'hostname = "mail.example.com"\n[smtp]\nidle_timeout = "90s"\n[limits]\nmax_message_size = "2MB"\n[managesieve]\nmax_script_size = "1KB"\n',
      '/etc/postern/postern.toml',
    );
    assert.equal(c.smtp.idle_timeout, 90_000);
    assert.equal(c.limits.max_message_size, 2 * 1024 * 1024);
    assert.equal(c.managesieve.max_script_size, 1024);
    assert.equal(c.imap.idle_timeout, 30 * 60_000, 'defaults are parsed too');
    assert.equal(c.pop3.max_bad_commands, 10);
    assert.deepEqual(problems('hostname = "a.example"\n[imap]\nidle_timeout = "soon"\n'), [
      'postern.toml: imap.idle_timeout = "soon" is not a duration (write "30s", "10m", "1h")',
    ]);
  });

  it('refuses the PostgreSQL backend until it exists', () => {
    assert.deepEqual(
      problems('hostname = "a.example"\n[store]\nbackend = "postgres"\nurl = "postgres://x@127.0.0.1/db"\n'),
      ['postern.toml: store.backend = "postgres" is not available in this version (use backend = "sqlite")'],
    );
  });

  it('names an unknown key and suggests the right spelling', () => {
    assert.deepEqual(problems('hostname = "a.example"\n[listen]\nsmpt = []\n'), [
      'postern.toml: unknown key "listen.smpt" — did you mean "listen.smtp"?',
    ]);
    const [line] = problems('hostname = "a.example"\n[wibble]\nx = 1\n');
    assert.match(line!, /unknown key "wibble" — remove it \(known keys here: hostname, data_dir, listen/);
  });

  it('names a bad listen address and shows the fix', () => {
    const [line] = problems('hostname = "a.example"\n[listen]\nimap = ["0.0.0.0"]\n');
    assert.match(line!, /^postern.toml: listen.imap\[0\] = "0.0.0.0" is not "address:port".*"0.0.0.0:25"/);
    assert.match(
      problems('hostname = "a.example"\n[listen]\nimap = ["mail.example.com:143"]\n')[0]!,
      /listen.imap\[0\]/,
    );
    assert.match(problems('hostname = "a.example"\n[listen]\nimap = ["1.2.3.4:70000"]\n')[0]!, /listen.imap\[0\]/);
  });

  it('reports every problem, one line each', () => {
    const lines = problems('[listen]\nimap = 5\n[store]\nbackend = "mysql"\n');
    assert.deepEqual(lines, [
      'postern.toml: hostname is missing — add hostname = "mail.example.com"',
      'postern.toml: listen.imap must be a list, not 5',
      'postern.toml: store.backend = "mysql" is not one of "sqlite", "postgres"',
    ]);
  });

  it('reports a TOML syntax error with its line', () => {
    assert.match(problems('hostname = \n')[0]!, /^postern.toml:1:\d+: TOML syntax error/);
  });

  it('says how to create a missing file', () => {
    const dir = tempDir();
    assert.throws(
      () => loadConfig(path.join(dir, 'postern.toml')),
      (e: unknown) => e instanceof ConfigError && /no such file — run "postern init --hostname/.test(e.message),
    );
  });

  it('accepts the file postern init writes, which names every key of the schema', () => {
    const text = renderConfig({ hostname: 'mail.example.com', dataDir: '/var/lib/postern' });
    const dir = tempDir();
    writeFileSync(path.join(dir, 'postern.toml'), text);
    const c = loadConfig(path.join(dir, 'postern.toml'));
    assert.deepEqual(
      c,
      parseConfig('hostname = "mail.example.com"\ndata_dir = "/var/lib/postern"\n', path.join(dir, 'x.toml')),
      'the commented file states the defaults',
    );
    const uncommented = text.replace(
      /^# (\[acme\]|directory|email|challenge|subdomains|group|key_type|renew_before|check_interval|retry_min|retry_max|eab_kid|eab_hmac_key|ca_file|\[\[tls|names|key|chain|url|quarantine_score)/gm,
      '$1',
    );
    for (const [section, schema] of Object.entries(ConfigSchema.shape)) {
      assert.ok(uncommented.includes(section), `init template mentions ${section}`);
      const inner = (
        schema as unknown as {
          def: { innerType?: { shape?: object }; in?: { def?: { innerType?: { shape?: object } } } };
        }
      ).def;
      const shape = inner.innerType?.shape ?? inner.in?.def?.innerType?.shape;
      for (const key of Object.keys(shape ?? {}))
        assert.match(
          uncommented,
          new RegExp(`^${key}\\s*=|\\.${key}\\]`, 'm'),
          `init template mentions ${section}.${key}`,
        );
    }
  });
});

describe('smarthost TLS policy (as Postfix smtp_tls_security_level)', () => {
  it('requires STARTTLS when a password is sent or the relay is not on loopback, and takes ?tls= to say otherwise', () => {
    assert.deepEqual(parseRelay('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525, tls: 'may' });
    assert.deepEqual(parseRelay('relay.example.net:587'), { host: 'relay.example.net', port: 587, tls: 'required' });
    assert.deepEqual(parseRelay('smtp://u:p%20w@127.0.0.1:25'), {
      host: '127.0.0.1',
      port: 25,
      tls: 'required',
      user: 'u',
      pass: 'p w',
    });
    assert.deepEqual(parseRelay('smtp://relay.example.net?tls=may'), {
      host: 'relay.example.net',
      port: 587,
      tls: 'may',
    });
    assert.deepEqual(parseRelay('relay.example.net:25?tls=none'), { host: 'relay.example.net', port: 25, tls: 'none' });
    assert.deepEqual(parseRelay('smtps://u:p@relay.example.net'), {
      host: 'relay.example.net',
      port: 465,
      tls: 'implicit',
      user: 'u',
      pass: 'p',
    });
    for (const bad of [
      'smtps://relay.example.net?tls=none',
      'relay.example.net?tls=maybe',
      'relay.example.net?x=1',
      'http://relay.example.net',
    ])
      assert.equal(parseRelay(bad), undefined, bad);
    // A relay is on loopback only by address or the name localhost, never by a name that merely starts with 127.
    assert.equal(parseRelay('127.example.net:25')!.tls, 'required');
    assert.equal(parseRelay('[::1]:2525')!.tls, 'may');
    for (const h of ['127.0.0.1', '127.9.9.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST'])
      assert.ok(isLoopbackHost(h), h);
    for (const h of ['127.example.net', '128.0.0.1', '::2', '::ffff:10.0.0.1', 'localhost.example.net', '10.127.0.1'])
      assert.ok(!isLoopbackHost(h), h);
    assert.match(
      problems('hostname = "mail.example.com"\n[outbound]\nsmarthost = "relay.example.net?tls=sometimes"\n').join('\n'),
      /\?tls=required/,
    );
  });
});
