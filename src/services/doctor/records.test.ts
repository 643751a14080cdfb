import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADDRESS_PLACEHOLDER, recordsFor, renderZone, type RecordInputs } from './records.js';

const inputs = (publicAddresses: string[]): RecordInputs => ({
  domain: 'example.com',
  hostname: 'mail.example.com',
  publicAddresses,
  dkimKeys: [],
  mtaStsId: '20261202',
  webNames: ['mta-sts.example.com', 'autoconfig.example.com'],
  srv: [{ service: '_imaps._tcp', port: 993 }],
});

describe('postern dns records', () => {
  it('prints every address record and the PTR with one placeholder, and one comment saying what to fill in, without public_addresses', () => {
    const records = recordsFor(inputs([]));
    const addressed = records.filter((r) => r.value === ADDRESS_PLACEHOLDER).map((r) => `${r.name} ${r.type}`);
    assert.deepEqual(addressed, ['mail.example.com. A', 'mta-sts.example.com. A', 'autoconfig.example.com. A']);
    assert.ok(
      records.some(
        (r) => r.type === 'PTR' && r.name === '<reversed public IPv4>.in-addr.arpa.' && r.value === 'mail.example.com.',
      ),
    );
    const zone = renderZone(records);
    assert.equal(zone.match(/set \[dns\] public_addresses/g)?.length, 1, 'said once');
    assert.match(
      zone.split('\n')[0]!,
      /^; <public IPv4 of this server> below stands for this server's public IPv4 address/,
    );
  });

  it('prints real addresses, IPv6 as AAAA, and their PTRs when they are configured', () => {
    const records = recordsFor(inputs(['192.0.2.10', '2001:db8::10']));
    assert.ok(!records.some((r) => r.value === ADDRESS_PLACEHOLDER));
    assert.deepEqual(
      records.filter((r) => r.name === 'mta-sts.example.com.').map((r) => `${r.type} ${r.value}`),
      ['A 192.0.2.10', 'AAAA 2001:db8::10'],
    );
    assert.deepEqual(
      records.filter((r) => r.type === 'PTR').map((r) => r.name),
      ['10.2.0.192.in-addr.arpa.', '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.'],
    );
    assert.doesNotMatch(renderZone(records), /public_addresses/);
  });
});
