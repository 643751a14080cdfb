import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../lib/log.js';
import type { DeliveryPlan, InboundMessage } from '../delivery/index.js';
import type { SenderAuthResult } from '../sender-auth/index.js';
import { Acceptance, type AcceptRequest } from './index.js';

/** Acceptance with every collaborator faked: what it decides and what it hands to delivery, with no socket or store. */
function setup(auth: Partial<SenderAuthResult> = {}) {
  const planned: InboundMessage[] = [];
  const acceptance = new Acceptance({
    hostname: 'mail.example.com',
    directory: { ownsAddress: async (user, address) => address === user },
    delivery: {
      mayRedirect: async () => false,
      plan: async (msg) => {
        planned.push(msg);
        return { msg } as DeliveryPlan;
      },
      apply: async (plan) => plan.msg.recipients.map((r) => ({ address: r.address, status: 'delivered' as const })),
    },
    dkim: {
      sign: async (content, domain) => Buffer.concat([Buffer.from(`DKIM-Signature: d=${domain}\r\n`), content]),
      sealingKey: async () => undefined,
    },
    senderAuth: {
      stripOurResults: (data) => data,
      check: async (data) =>
        ({
          headers: 'Authentication-Results: mail.example.com; spf=pass\r\n',
          content: data,
          verdict: 'accept',
          fromJudged: true,
          spf: 'pass',
          dmarc: undefined,
          ...auth,
        }) as SenderAuthResult,
    },
  });
  return { acceptance, planned };
}

const request = (over: Partial<AcceptRequest>): AcceptRequest => ({
  mode: 'mx',
  qid: 'Q1',
  data: Buffer.from('From: ann@example.org\r\nSubject: hi\r\n\r\nbody\r\n'),
  mailFrom: 'ann@example.org',
  recipients: [{ address: 'bob@example.com', destinations: [], isRemote: false }],
  client: { ip: '192.0.2.1', helo: 'client.example.org' },
  received: 'Received: from client.example.org',
  log: createLogger({ level: 'silent' }),
  ...over,
});

describe('acceptance pipeline', () => {
  it('MX: trace fields on top, then delivery with one transaction per message', async () => {
    const { acceptance, planned } = setup();
    const outcome = await acceptance.accept(request({}));
    assert.deepEqual(outcome, { kind: 'accepted', results: [{ address: 'bob@example.com', status: 'delivered' }] });
    const msg = planned[0]!;
    assert.match(msg.content.toString(), /^Received: from client\.example\.org\r\nAuthentication-Results: /);
    assert.equal(msg.folder, undefined);
    assert.equal(msg.enforceQuota, true, 'one recipient: quota and Sieve reject answered in the protocol');
  });

  it('MX: DMARC quarantine files to Junk, reject refuses before delivery', async () => {
    const junk = setup({ verdict: 'junk' });
    await junk.acceptance.accept(request({}));
    assert.equal(junk.planned[0]!.folder, 'Junk');
    const reject = setup({ verdict: 'reject', reason: 'DMARC policy of example.org rejects this message' });
    const outcome = await reject.acceptance.accept(request({}));
    assert.equal(outcome.kind, 'refused');
    assert.equal(reject.planned.length, 0);
  });

  it('submission: From must be owned; Message-ID and Date added; signed by the From domain; remote recipients queued', async () => {
    const { acceptance, planned } = setup();
    const stranger = await acceptance.accept(request({ mode: 'submission', user: 'eve@example.org' }));
    assert.equal(stranger.kind, 'refused');
    assert.equal(stranger.kind === 'refused' && stranger.refusal.code, 'SENDER_NOT_OWNED');
    await acceptance.accept(
      request({
        mode: 'submission',
        user: 'ann@example.org',
        recipients: [
          { address: 'bob@example.com', destinations: [], isRemote: false },
          { address: 'carl@remote.example', destinations: [], isRemote: true },
        ],
      }),
    );
    const msg = planned[0]!;
    assert.match(
      msg.content.toString(),
      /^Received: [^\r]*\r\nDKIM-Signature: d=example\.org\r\nMessage-ID: <.*\r\nDate: /,
    );
    assert.deepEqual(msg.outbound, [{ address: 'carl@remote.example', notify: undefined, orcpt: undefined }]);
    assert.equal(msg.recipients.length, 1);
    assert.equal(msg.enforceQuota, false, 'several recipients: a full mailbox does not refuse the others');
  });
});
