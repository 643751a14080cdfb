import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render } from '../../cli/doctor.js';
import { checkHostName } from './dns.js';
import { Findings, isPrivateAddress, nameCovered } from './findings.js';

describe('doctor helpers', () => {
  it('tells private and loopback addresses from public ones', () => {
    for (const ip of [
      '10.1.2.3',
      '172.18.0.1',
      '192.168.1.1',
      '127.0.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '::1',
      'fd00::1',
      'fe80::1',
    ])
      assert.ok(isPrivateAddress(ip), ip);
    for (const ip of ['192.0.2.10', '8.8.8.8', '172.32.0.1', '2001:db8::1']) assert.ok(!isPrivateAddress(ip), ip);
  });

  it('matches certificate names, wildcards one label deep (RFC 6125 §6.4.3)', () => {
    assert.ok(nameCovered(['mail.example.com'], 'MAIL.example.com.'));
    assert.ok(nameCovered(['*.example.com'], 'mail.example.com'));
    assert.ok(!nameCovered(['*.example.com'], 'a.mail.example.com'));
    assert.ok(!nameCovered(['*.example.com'], 'example.com'));
  });

  it('tells generic provider host names and internal names from real ones', async () => {
    const idsFor = async (hostname: string) => {
      const findings = new Findings();
      checkHostName(hostname, findings);
      return findings.list.map((f) => f.id).filter((id) => id.startsWith('host.name'));
    };
    for (const h of [
      'ec2-203-0-113-10.compute-1.amazonaws.com',
      'static.10.113.0.203.clients.your-server.de',
      'ip-203-0-113-10.example.net',
      'dsl-42.provider.example.net',
    ])
      assert.deepEqual(await idsFor(h), ['host.name.generic'], h);
    for (const h of ['mail.example.com', 'server1.example.com', 'mx.mail-host.example.org'])
      assert.deepEqual(await idsFor(h), [], h);
    for (const h of ['dovecot', 'mail.lan', 'mx.corp', '172.18.0.1'])
      assert.deepEqual(await idsFor(h), ['host.name.internal'], h);
  });

  it('renders findings grouped by scope, coloured only when asked', () => {
    const report = {
      hostname: 'mail.example.com',
      publicAddresses: ['192.0.2.10'],
      clientSettings: [{ service: 'IMAP (TLS)', host: 'mail.example.com', port: 993 }],
      findings: [
        {
          id: 'spf.syntax',
          severity: 'error' as const,
          scope: 'example.com',
          summary: 'bad SPF',
          why: 'w',
          observed: 'o',
          expected: 'e',
          fix: 'a\nb',
        },
      ],
      counts: { error: 1, warning: 0, info: 0 },
    };
    const plain = render(report, false);
    assert.match(plain, /^mail\.example\.com \(server\)\n  ok$/m);
    assert.match(plain, /^example\.com\n  ERROR bad SPF \[spf\.syntax\]$/m);
    assert.match(plain, /fix:\n {8}a\n {8}b/);
    assert.doesNotMatch(plain, /\x1b/);
    assert.match(render(report, true), /\x1b\[31mERROR\x1b\[0m/);
  });
});
