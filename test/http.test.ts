/**
 * The HTTP and HTTPS listeners with curl, openssl and Python's parsers: redirects, ACME http-01
 * answers, HSTS, SNI, the MTA-STS policy, Thunderbird autoconfig, Outlook autodiscover and the
 * Apple profile; garbage gets 400.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ChallengeStore } from '../src/services/tls/challenges.js';
import { peer } from './helpers/peers.js';
import { python, run } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const skip = peer('curl', 'curl') || peer('python3', 'python3') || peer('openssl', 'openssl') || undefined;

describe('HTTP and HTTPS', { skip }, () => {
  let t: TestServer;
  const curl = (...args: string[]) => run('curl', ['-sS', '--max-time', '10', ...args]);
  /** curl to https://NAME:port/PATH, NAME mapped to 127.0.0.1; -k: the test certificates are self-signed. */
  const https = (name: string, pathAndQuery: string, ...args: string[]) =>
    curl(
      '-k',
      '--resolve',
      `${name}:${t.port('https')}:127.0.0.1`,
      ...args,
      `https://${name}:${t.port('https')}${pathAndQuery}`,
    );

  before(async () => {
    t = await startTestServer({ listeners: ['http', 'https', 'imap', 'imaps', 'pop3s', 'submission', 'submissions'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addDomain('example.net', { aliasOf: 'example.com' });
  });
  after(async () => t?.stop());

  it('plain HTTP answers ACME challenges and redirects everything else to HTTPS', async () => {
    const challenges = new ChallengeStore(`${t.dir}/data`);
    await challenges.putHttp('tok-EN_1', 'tok-EN_1.thumbprint');
    const base = `http://mail.example.com:${t.port('http')}`;
    const resolve = `mail.example.com:${t.port('http')}:127.0.0.1`;
    const ok = await curl('--resolve', resolve, '-i', `${base}/.well-known/acme-challenge/tok-EN_1`);
    assert.match(ok.stdout, /^HTTP\/1\.1 200/);
    assert.match(ok.stdout, /\r\n\r\ntok-EN_1\.thumbprint$/);
    assert.match(
      (await curl('--resolve', resolve, '-i', `${base}/.well-known/acme-challenge/unknown`)).stdout,
      /^HTTP\/1\.1 404/,
    );
    assert.match(
      (await curl('--resolve', resolve, '-i', `${base}/.well-known/acme-challenge/..%2F..%2Fetc`)).stdout,
      /^HTTP\/1\.1 404/,
    );
    const redirect = await curl(
      '--resolve',
      resolve,
      '-i',
      `${base}/mail/config-v1.1.xml?emailaddress=ann@example.com`,
    );
    assert.match(redirect.stdout, /^HTTP\/1\.1 301/);
    assert.match(
      redirect.stdout,
      new RegExp(
        `\\r\\nlocation: https://mail\\.example\\.com:${t.port('https')}/mail/config-v1\\.1\\.xml\\?emailaddress=ann@example\\.com\\r\\n`,
        'i',
      ),
    );
    assert.doesNotMatch(redirect.stdout, /strict-transport-security/i, 'no HSTS over plain HTTP (RFC 6797 §7.2)');
  });

  it('HTTPS serves each name its certificate by SNI, with HSTS', async () => {
    for (const name of ['mail.example.com', 'mail.example.org']) {
      const s = await run('openssl', ['s_client', '-connect', `127.0.0.1:${t.port('https')}`, '-servername', name], {
        timeoutMs: 10_000,
      });
      assert.match(
        s.stdout,
        new RegExp(`subject=CN ?= ?${name.replace(/\./g, '\\.')}`),
        `${name} gets its own certificate`,
      );
    }
    const r = await https('mail.example.com', '/', '-i');
    assert.match(r.stdout, /^HTTP\/1\.1 200/);
    assert.match(r.stdout, /\r\nstrict-transport-security: max-age=31536000\r\n/i);
  });

  it('serves the MTA-STS policy at mta-sts.<domain>, exactly, for hosted domains only', async () => {
    const r = await https('mta-sts.example.com', '/.well-known/mta-sts.txt', '-i');
    assert.match(r.stdout, /^HTTP\/1\.1 200/);
    assert.match(r.stdout, /\r\ncontent-type: text\/plain/i);
    assert.equal(
      r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4),
      'version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 604800\r\n',
    );
    assert.match(
      (await https('mta-sts.example.net', '/.well-known/mta-sts.txt')).stdout,
      /^version: STSv1\r\n/,
      'a domain alias has the policy too',
    );
    assert.match((await https('mta-sts.other.example', '/.well-known/mta-sts.txt', '-i')).stdout, /^HTTP\/1\.1 404/);
    assert.match((await https('mail.example.com', '/.well-known/mta-sts.txt', '-i')).stdout, /^HTTP\/1\.1 404/);
  });

  it("Thunderbird autoconfig names the certificate's host and the configured ports", async () => {
    const a = await https('autoconfig.example.com', '/mail/config-v1.1.xml?emailaddress=ann%40example.com');
    const b = await https('example.com', '/.well-known/autoconfig/mail/config-v1.1.xml');
    assert.equal(a.stdout, b.stdout);
    const parsed = await python<{
      id: string;
      domain: string;
      servers: Array<[string, string, string, string, string, string]>;
    }>(
      `
import json, os, xml.etree.ElementTree as ET
root = ET.fromstring(os.environ['XML'])
assert root.tag == 'clientConfig' and root.get('version') == '1.1'
p = root.find('emailProvider')
servers = [(s.tag, s.get('type'), s.findtext('hostname'), s.findtext('port'), s.findtext('socketType'), s.findtext('username')) for s in p if s.tag in ('incomingServer', 'outgoingServer')]
print(json.dumps({'id': p.get('id'), 'domain': p.findtext('domain'), 'servers': servers}))`,
      { XML: a.stdout },
    );
    assert.equal(parsed.id, 'example.com');
    assert.equal(parsed.domain, 'example.com');
    const user = '%EMAILADDRESS%';
    assert.deepEqual(parsed.servers, [
      ['incomingServer', 'imap', 'mail.example.com', String(t.port('imaps')), 'SSL', user],
      ['incomingServer', 'imap', 'mail.example.com', String(t.port('imap')), 'STARTTLS', user],
      ['incomingServer', 'pop3', 'mail.example.com', String(t.port('pop3s')), 'SSL', user],
      ['outgoingServer', 'smtp', 'mail.example.com', String(t.port('submissions')), 'SSL', user],
      ['outgoingServer', 'smtp', 'mail.example.com', String(t.port('submission')), 'STARTTLS', user],
    ]);
    assert.doesNotMatch(a.stdout, /127\.0\.0\.1|localhost/, 'never an IP or an internal name');
    assert.match(
      (await https('autoconfig.not-hosted.example', '/mail/config-v1.1.xml', '-i')).stdout,
      /^HTTP\/1\.1 404/,
    );
  });

  it('Outlook autodiscover answers a POSTed request; bad requests get 400, 404, 405 and 413', async () => {
    const request =
      '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>Ann@Example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>';
    const r = await https(
      'autodiscover.example.com',
      '/Autodiscover/Autodiscover.xml',
      '-H',
      'content-type: text/xml',
      '--data-binary',
      request,
    );
    const parsed = await python<Array<[string, string, string, string, string]>>(
      `
import json, os, xml.etree.ElementTree as ET
ns = {'r': 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006', 'a': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
root = ET.fromstring(os.environ['XML'])
acct = root.find('a:Response/a:Account', ns)
assert acct.findtext('a:AccountType', namespaces=ns) == 'email' and acct.findtext('a:Action', namespaces=ns) == 'settings'
print(json.dumps([(p.findtext('a:Type', namespaces=ns), p.findtext('a:Server', namespaces=ns), p.findtext('a:Port', namespaces=ns), p.findtext('a:SSL', namespaces=ns), p.findtext('a:LoginName', namespaces=ns)) for p in acct.findall('a:Protocol', ns)]))`,
      { XML: r.stdout },
    );
    assert.deepEqual(parsed, [
      ['IMAP', 'mail.example.com', String(t.port('imaps')), 'on', 'ann@example.com'],
      ['POP3', 'mail.example.com', String(t.port('pop3s')), 'on', 'ann@example.com'],
      ['SMTP', 'mail.example.com', String(t.port('submissions')), 'on', 'ann@example.com'],
    ]);
    const status = async (...args: string[]) =>
      /^HTTP\/1\.1 (\d+)/.exec(
        (await https('autodiscover.example.com', '/autodiscover/autodiscover.xml', '-i', ...args)).stdout,
      )?.[1];
    assert.equal(await status('--data-binary', '<Autodiscover>garbage</Autodiscover>'), '400');
    assert.equal(await status('--data-binary', '<EMailAddress>x@not-hosted.example</EMailAddress>'), '404');
    assert.equal(await status(), '405');
    assert.equal(
      await status('--data-binary', `<EMailAddress>${'a'.repeat(70_000)}@example.com</EMailAddress>`),
      '413',
    );
  });

  it('an Apple profile for an address parses as a plist with the IMAP and SMTP settings', async () => {
    const r = await https('mail.example.com', '/mobileconfig?emailaddress=ann%40example.com', '-i');
    assert.match(r.stdout, /\r\ncontent-type: application\/x-apple-aspen-config\r\n/i);
    const body = r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4);
    const p = await python<Record<string, unknown>>(
      `
import json, os, plistlib
d = plistlib.loads(os.environ['PLIST'].encode())
assert d['PayloadType'] == 'Configuration'
print(json.dumps(d['PayloadContent'][0]))`,
      { PLIST: body },
    );
    assert.equal(p.PayloadType, 'com.apple.mail.managed');
    assert.equal(p.EmailAddress, 'ann@example.com');
    assert.equal(p.IncomingMailServerHostName, 'mail.example.com');
    assert.equal(p.IncomingMailServerPortNumber, t.port('imaps'));
    assert.equal(p.IncomingMailServerUseSSL, true);
    assert.equal(p.OutgoingMailServerPortNumber, t.port('submissions'));
    assert.match(
      (await https('mail.example.com', '/mobileconfig?emailaddress=%3Cscript%3E', '-i')).stdout,
      /^HTTP\/1\.1 400/,
    );
  });

  it('answers garbage and oversized headers with 400/431 and keeps serving', async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect(t.port('http'), '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
        s.end(text);
      });
    assert.match(await raw('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(
      await raw(`GET / HTTP/1.1\r\nHost: mail.example.com\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      /^HTTP\/1\.1 431/,
    );
    assert.match(await raw('GET / HTTP/1.1\r\nHost: bad_host!\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match((await https('mail.example.com', '/', '-i')).stdout, /^HTTP\/1\.1 200/);
  });
});
