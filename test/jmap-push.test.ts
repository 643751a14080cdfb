/**
 * JMAP push subscriptions (RFC 8620 §7.2) driven by jmap-jam: the server POSTs a PushVerification to
 * an HTTPS receiver the test runs (its certificate trusted through [outbound] ca_file), the client
 * echoes the code, and a delivery by swaks is then POSTed as a StateChange — encrypted as RFC 8291
 * says when the client gave keys, decrypted here with node:crypto alone. A server on the default
 * config refuses every URL that reaches this machine or a private network, while a client is served.
 */
import assert from 'node:assert/strict';
import { createECDH, createDecipheriv, createHmac, randomBytes, type ECDH } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type JamClient from 'jmap-jam';
import { generate } from 'selfsigned';
import { assertResponsive, Probe } from './helpers/attack.js';
import { basic, jamClient, type Login } from './helpers/jmap.js';
import { peer } from './helpers/peers.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { messageFile, swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

// The clients' side: the test server's own certificate is self-signed. The server's pushes check
// certificates whatever this says (lib/public-https.ts), against the receiver's, given as ca_file.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

const ANN = { user: 'ann@example.com', password: 'ann-secret-1' };
const BOB = { user: 'bob@example.com', password: 'bob-secret-1' };

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** An HTTPS push receiver on 127.0.0.1: keeps what is POSTed, answers `status(path)` (201 by default). */
async function startReceiver(status: (path: string) => number): Promise<{
  port: number;
  cert: string;
  got: Received[];
  next(path: string, count: number): Promise<Received[]>;
  close(): void;
}> {
  const pems = await generate([{ name: 'commonName', value: 'push.test' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const got: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status(req.url ?? '')).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    cert: pems.cert,
    got,
    /** The POSTs to `path` once there are `count` of them (the test's own timeout bounds the wait). */
    async next(p, count) {
      for (;;) {
        const those = got.filter((g) => g.path === p);
        if (those.length >= count) return those;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    close: () => server.close(),
  };
}

/** RFC 8291 §3.4 and RFC 8188 §2: the user agent's side, from its key pair and auth secret. */
function decryptPush(body: Buffer, ua: ECDH, auth: Buffer): unknown {
  const salt = body.subarray(0, 16);
  const idLength = body[20]!;
  const serverKey = body.subarray(21, 21 + idLength);
  const cipher = body.subarray(21 + idLength);
  const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();
  const secret = ua.computeSecret(serverKey);
  const ikm = hmac(
    hmac(auth, secret),
    Buffer.concat([Buffer.from('WebPush: info\0'), ua.getPublicKey(), serverKey, Buffer.from([1])]),
  );
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const gcm = createDecipheriv('aes-128-gcm', cek, nonce);
  gcm.setAuthTag(cipher.subarray(cipher.length - 16));
  const plain = Buffer.concat([gcm.update(cipher.subarray(0, cipher.length - 16)), gcm.final()]);
  let end = plain.length - 1;
  while (plain[end] === 0) end--;
  assert.equal(plain[end], 2, 'the last record ends with the delimiter 2');
  return JSON.parse(plain.subarray(0, end).toString('utf8'));
}

interface SetError {
  type: string;
  properties?: string[];
}
interface SetResult {
  created: Record<string, { id: string; expires: string }> | null;
  updated: Record<string, unknown> | null;
  notCreated: Record<string, SetError> | null;
  notUpdated: Record<string, SetError> | null;
  notDestroyed: Record<string, SetError> | null;
}
interface GetResult {
  list: Array<Record<string, unknown> & { id: string }>;
  notFound: string[];
}
/** PushSubscription/set and /get through jmap-jam's request (its typings leave these methods out). */
async function pushCall<T>(c: JamClient, method: string, args: object): Promise<T> {
  const [result] = await (c.request as unknown as (call: [string, object]) => Promise<[unknown]>)([method, args]);
  return result as T;
}
const pushSet = (c: JamClient, args: object) => pushCall<SetResult>(c, 'PushSubscription/set', args);
const pushGet = (c: JamClient, args: object) => pushCall<GetResult>(c, 'PushSubscription/get', args);

const json = (r: Received) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

describe('JMAP push subscriptions', { skip: peer('swaks', 'swaks') }, () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let jam: JamClient;
  let bobJam: JamClient;
  const dir = tempDir('jmap-push');
  const deliver = async (name: string) =>
    assert.match(
      await swaksReply(t.port('smtp'), [
        '--from',
        'x@sender.example',
        '--to',
        ANN.user,
        ...messageFile(dir, name, name),
      ]),
      /^250 /,
    );
  const url = (p: string) => `https://127.0.0.1:${receiver.port}${p}`;
  const client = (login: Login) => jamClient(`https://127.0.0.1:${t.port('https')}`, login);
  const emailState = async () => {
    const [r] = await jam.api.Email.get({ accountId: await jam.getPrimaryAccount(), ids: [] });
    return r.state;
  };

  before(async () => {
    receiver = await startReceiver((p) => (p.startsWith('/gone') ? 410 : 201));
    const caFile = path.join(dir, 'receiver.pem');
    writeFileSync(caFile, receiver.cert);
    t = await startTestServer({
      listeners: ['smtp', 'https'],
      extraConfig: `[jmap]\npush_private_addresses = true\n[outbound]\nca_file = "${caFile}"\n`,
    });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount(ANN.user, ANN.password);
    await t.server.directory.addAccount(BOB.user, BOB.password);
    jam = await client(ANN);
    bobJam = await client(BOB);
    await jam.session;
  });
  after(async () => {
    receiver?.close();
    await t?.stop();
  });

  it('verifies a subscription by the code POSTed to its url, then POSTs each change as a StateChange', async () => {
    const set = await pushSet(jam, {
      create: { phone: { deviceClientId: 'phone-1', url: url('/ann'), types: null } },
    });
    const created = set.created!.phone!;
    assert.match(created.id, /^p\d+$/);
    assert.ok(Date.parse(created.expires!) <= Date.now() + 7 * 86_400_000 + 1000, 'a week at most');
    const [verification] = await receiver.next('/ann', 1);
    assert.equal(verification!.headers['content-type'], 'application/json');
    assert.ok(Number(verification!.headers.ttl) > 0, 'RFC 8030 TTL');
    const body = json(verification!);
    assert.equal(body['@type'], 'PushVerification');
    assert.equal(body.pushSubscriptionId, created.id);

    // Not verified: a delivery pushes nothing.
    await deliver('unverified');
    const wrong = await pushSet(jam, { update: { [created.id]: { verificationCode: 'guess' } } });
    assert.equal(wrong.notUpdated![created.id]!.type, 'invalidProperties');
    const right = await pushSet(jam, {
      update: { [created.id]: { verificationCode: body.verificationCode as string } },
    });
    assert.deepEqual(Object.keys(right.updated!), [created.id]);
    assert.equal(
      receiver.got.filter((g) => g.path === '/ann').length,
      1,
      'nothing but the verification before the code came back',
    );

    const got = await pushGet(jam, { ids: null });
    assert.deepEqual(got.list, [
      {
        id: created.id,
        deviceClientId: 'phone-1',
        verificationCode: body.verificationCode,
        expires: created.expires,
        types: null,
      },
    ]);
    assert.ok(!('url' in got.list[0]!) && !('keys' in got.list[0]!), 'url and keys are never read back');

    await deliver('pushed');
    const [, change] = await receiver.next('/ann', 2);
    const state = await emailState();
    assert.deepEqual(json(change!), {
      '@type': 'StateChange',
      changed: {
        [await jam.getPrimaryAccount()]: { Mailbox: state, Email: state, Thread: state, EmailDelivery: state },
      },
    });

    // Only the types asked for.
    await pushSet(jam, { update: { [created.id]: { types: ['Mailbox'] } } });
    await deliver('mailbox only');
    const [, , third] = await receiver.next('/ann', 3);
    assert.deepEqual(Object.keys(Object.values(json(third!).changed as object)[0] as object), ['Mailbox']);
    await pushSet(jam, { destroy: [created.id] });
  });

  it('encrypts every push to a client that gave keys (RFC 8291, aes128gcm)', async () => {
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const auth = randomBytes(16);
    const set = await pushSet(jam, {
      create: {
        web: {
          deviceClientId: 'browser',
          url: url('/sealed'),
          keys: { p256dh: ua.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
        },
      },
    });
    const id = set.created!.web!.id;
    const [sealed] = await receiver.next('/sealed', 1);
    assert.equal(sealed!.headers['content-encoding'], 'aes128gcm');
    assert.ok(!sealed!.body.includes('PushVerification'), 'not readable on the way');
    const verification = decryptPush(sealed!.body, ua, auth) as Record<string, string>;
    assert.equal(verification['@type'], 'PushVerification');
    await pushSet(jam, { update: { [id]: { verificationCode: verification.verificationCode! } } });
    await deliver('sealed');
    const [, change] = await receiver.next('/sealed', 2);
    assert.equal((decryptPush(change!.body, ua, auth) as Record<string, unknown>)['@type'], 'StateChange');
    // Keys that are not a P-256 key and a 16-byte secret are refused.
    const bad = await pushSet(jam, {
      create: { bad: { deviceClientId: 'x', url: url('/bad'), keys: { p256dh: 'AAAA', auth: 'AAAA' } } },
    });
    assert.equal(bad.notCreated!.bad!.type, 'invalidProperties');
    await pushSet(jam, { destroy: [id] });
  });

  it("checks the push service's certificate, whatever NODE_TLS_REJECT_UNAUTHORIZED says", async () => {
    const stranger = await startReceiver(() => 201); // its certificate is not in ca_file
    try {
      const set = await pushSet(jam, {
        create: { s: { deviceClientId: 's', url: `https://127.0.0.1:${stranger.port}/x` } },
      });
      const id = set.created!.s!.id;
      const failed = () =>
        t.logs.find(
          (l) =>
            l.msg === 'push failed' &&
            l.host === `127.0.0.1:${stranger.port}` &&
            l.subscription === Number(id.slice(1)),
        );
      for (let i = 0; i < 100 && !failed(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(String(failed()?.err), /self.signed|certificate/i);
      assert.deepEqual(stranger.got, [], 'nothing was sent to it');
      await pushSet(jam, { destroy: [id] });
    } finally {
      stranger.close();
    }
  });

  it('forgets a subscription whose push service answers 410 Gone', async () => {
    const set = await pushSet(jam, { create: { g: { deviceClientId: 'old', url: url('/gone') } } });
    const id = set.created!.g!.id;
    await receiver.next('/gone', 1);
    for (let i = 0; i < 50; i++) {
      const got = await pushGet(jam, { ids: [id] });
      if (got.notFound?.includes(id)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('the subscription is still there');
  });

  it("bounds subscriptions (20 per account, a week at most) and never shows or changes another account's", async () => {
    const ann = await pushSet(jam, {
      create: { a: { deviceClientId: 'a', url: url('/bounds'), expires: '2099-01-01T00:00:00Z' } },
    });
    const id = ann.created!.a!.id;
    assert.ok(Date.parse(ann.created!.a!.expires!) < Date.now() + 8 * 86_400_000, 'capped to a week');
    const bobGet = await pushGet(bobJam, { ids: [id] });
    assert.deepEqual([bobGet.list, bobGet.notFound], [[], [id]]);
    const bobSet = await pushSet(bobJam, {
      update: { [id]: { types: ['Email'] } },
      destroy: [id],
    });
    assert.equal(bobSet.notUpdated![id]!.type, 'notFound');
    assert.equal(bobSet.notDestroyed![id]!.type, 'notFound');

    const refused = await pushSet(jam, {
      create: {
        past: { deviceClientId: 'p', url: url('/p'), expires: '2001-01-01T00:00:00Z' },
        code: { deviceClientId: 'c', url: url('/c'), verificationCode: 'mine' },
        extra: { deviceClientId: 'e', url: url('/e'), id: 'p1' },
        noDevice: { url: url('/d') },
      },
      update: { [id]: { url: url('/elsewhere') } },
    });
    for (const [cid, property] of [
      ['past', 'expires'],
      ['code', 'verificationCode'],
      ['extra', 'id'],
      ['noDevice', 'deviceClientId'],
    ] as const) {
      assert.equal(refused.notCreated![cid]!.type, 'invalidProperties', cid);
      assert.deepEqual(refused.notCreated![cid]!.properties, [property], cid);
    }
    assert.deepEqual(refused.notUpdated![id]!.properties, ['url']);

    const many = await pushSet(jam, {
      create: Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`n${i}`, { deviceClientId: `d${i}`, url: url('/many') }]),
      ),
    });
    assert.equal(Object.keys(many.created!).length, 19, 'with the one above, 20');
    assert.equal(many.notCreated!.n19!.type, 'overQuota');
    const all = await pushGet(jam, { ids: null });
    await pushSet(jam, { destroy: all.list.map((s) => s.id) });
  });
});

describe('JMAP push subscriptions on the default config', { skip: peer('swaks', 'swaks') }, () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver(() => 201);
    t = await startTestServer({ listeners: ['https'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount(ANN.user, ANN.password);
  });
  after(async () => {
    receiver?.close();
    await t?.stop();
  });

  it('refuses URLs that reach this machine or a private network, while a client is served', async () => {
    const api = async (methodCalls: unknown[]) => {
      const r = await fetch(`https://127.0.0.1:${t.port('https')}/jmap/api`, {
        method: 'POST',
        headers: { authorization: basic(ANN), 'content-type': 'application/json' },
        body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'], methodCalls }),
      });
      assert.equal(r.status, 200);
      return ((await r.json()) as { methodResponses: Array<[string, Record<string, unknown>, string]> })
        .methodResponses;
    };
    const probe = new Probe(async () => {
      const [[name]] = (await api([['Mailbox/get', { accountId: 'a1', ids: null }, '0']])) as unknown as [[string]];
      assert.equal(name, 'Mailbox/get');
    });
    probe.start();
    const urls = [
      `https://127.0.0.1:${receiver.port}/push`,
      `https://localhost:${receiver.port}/push`,
      `https://[::1]:${receiver.port}/push`,
      `https://[::ffff:127.0.0.1]:${receiver.port}/push`,
      `https://[::ffff:7f00:1]:${receiver.port}/push`,
      'https://10.0.0.1/push',
      'https://192.168.1.1/push',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/push',
      'https://[fd00::1]/push',
      'https://[fe80::1]/push',
      'https://0.0.0.0/push',
      'https://2130706433/push', // 127.0.0.1 as one number
      'https://0x7f.1/push',
      'http://push.example/push',
      'https://user:pass@push.example/push',
      'javascript:alert(1)',
    ];
    const [[, set]] = (await api([
      [
        'PushSubscription/set',
        { create: Object.fromEntries(urls.map((u, i) => [`c${i}`, { deviceClientId: 'x', url: u }])) },
        '0',
      ],
    ])) as unknown as [
      [string, { created: unknown; notCreated: Record<string, { type: string; properties: string[] }> }],
    ];
    assert.equal(set.created, null);
    urls.forEach((u, i) => {
      assert.equal(set.notCreated[`c${i}`]?.type, 'invalidProperties', u);
      assert.deepEqual(set.notCreated[`c${i}`]?.properties, ['url'], u);
    });
    await assertResponsive(probe);
    assert.deepEqual(receiver.got, [], 'nothing reached the receiver');
  });
});
