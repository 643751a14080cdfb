/**
 * One model under two protocols: random sequences of IMAP commands (ImapFlow) and JMAP calls
 * (jmap-jam) on the same account, interleaved, leave IMAP's view and JMAP's view equal — every
 * message in the same mailbox with the same flags — and JMAP's Email/changes from the first state
 * names exactly the emails created and destroyed since (fast-check, fixed seed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ImapFlow } from 'imapflow';
import JamClient from 'jmap-jam';
import { startTestServer, type TestServer } from './helpers/server.js';

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the test server's self-signed certificate

const USER = 'ann@example.com';
const PASSWORD = 'ann-secret-1';
const BOXES = ['INBOX', 'Work', 'Later'];
const FLAGS = ['\\Seen', '\\Flagged', '$label1'];
const KEYWORD: Record<string, string> = { '\\Seen': '$seen', '\\Flagged': '$flagged', $label1: '$label1' };

type Op =
  | { via: 'imap'; kind: 'append'; box: number }
  | { via: 'imap'; kind: 'flag'; box: number; pick: number; flag: number; add: boolean }
  | { via: 'imap'; kind: 'move'; box: number; pick: number; to: number }
  | { via: 'imap'; kind: 'expunge'; box: number; pick: number }
  | { via: 'jmap'; kind: 'flag'; pick: number; flag: number; add: boolean }
  | { via: 'jmap'; kind: 'move'; pick: number; to: number }
  | { via: 'jmap'; kind: 'destroy'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ via: fc.constant('imap' as const), kind: fc.constant('append' as const), box: fc.nat(2) }),
  fc.record({
    via: fc.constant('imap' as const),
    kind: fc.constant('flag' as const),
    box: fc.nat(2),
    pick: fc.nat(20),
    flag: fc.nat(2),
    add: fc.boolean(),
  }),
  fc.record({
    via: fc.constant('imap' as const),
    kind: fc.constant('move' as const),
    box: fc.nat(2),
    pick: fc.nat(20),
    to: fc.nat(2),
  }),
  fc.record({
    via: fc.constant('imap' as const),
    kind: fc.constant('expunge' as const),
    box: fc.nat(2),
    pick: fc.nat(20),
  }),
  fc.record({
    via: fc.constant('jmap' as const),
    kind: fc.constant('flag' as const),
    pick: fc.nat(20),
    flag: fc.nat(2),
    add: fc.boolean(),
  }),
  fc.record({ via: fc.constant('jmap' as const), kind: fc.constant('move' as const), pick: fc.nat(20), to: fc.nat(2) }),
  fc.record({ via: fc.constant('jmap' as const), kind: fc.constant('destroy' as const), pick: fc.nat(20) }),
);

describe('IMAP and JMAP on one store', () => {
  let t: TestServer;
  let imap: ImapFlow;
  let jam: JamClient;
  let accountId: string;
  let restore: () => void;
  let appended = 0;
  const boxIds = new Map<string, string>();

  before(async () => {
    t = await startTestServer({ listeners: ['imaps', 'https'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount(USER, PASSWORD);
    imap = new ImapFlow({
      host: '127.0.0.1',
      port: t.port('imaps'),
      secure: true,
      auth: { user: USER, pass: PASSWORD },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await imap.connect();
    for (const b of BOXES.slice(1)) await imap.mailboxCreate(b);
    const original = globalThis.fetch;
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    globalThis.fetch = (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', basic);
      return original(input, { ...init, headers });
    };
    restore = () => (globalThis.fetch = original);
    jam = new JamClient({ sessionUrl: `https://127.0.0.1:${t.port('https')}/jmap/session`, bearerToken: 'unused' });
    await jam.session;
    accountId = await jam.getPrimaryAccount();
    const [boxes] = await jam.api.Mailbox.get({ accountId });
    for (const b of boxes.list) boxIds.set(b.name!, b.id!);
  });
  after(async () => {
    restore?.();
    await imap?.logout().catch(() => undefined);
    await t?.stop();
  });

  /** IMAP's view: Message-ID → "mailbox flags", flags sorted, \Recent left out. */
  async function imapView(): Promise<Map<string, string>> {
    const view = new Map<string, string>();
    for (const box of BOXES) {
      const lock = await imap.getMailboxLock(box);
      try {
        for await (const m of imap.fetch('1:*', { envelope: true, flags: true }, { uid: true })) {
          const flags = [...(m.flags ?? [])]
            .filter((f) => f !== '\\Recent' && f !== '\\Deleted')
            .map((f) => KEYWORD[f] ?? f.toLowerCase());
          view.set(m.envelope!.messageId!.replace(/^<|>$/g, ''), `${box} ${flags.sort().join(',')}`);
        }
      } finally {
        lock.release();
      }
    }
    return view;
  }

  /** JMAP's view, the same shape. */
  async function jmapView(): Promise<Map<string, string>> {
    const names = new Map([...boxIds].map(([name, id]) => [id, name]));
    const [q] = await jam.api.Email.query({ accountId });
    const view = new Map<string, string>();
    if (q.ids.length === 0) return view;
    const [got] = await jam.api.Email.get({
      accountId,
      ids: q.ids,
      properties: ['messageId', 'mailboxIds', 'keywords'],
    });
    for (const e of got.list)
      view.set(
        e.messageId![0]!,
        `${names.get(Object.keys(e.mailboxIds!)[0]!)} ${Object.keys(e.keywords!).sort().join(',')}`,
      );
    return view;
  }

  async function uidsOf(box: string): Promise<number[]> {
    const lock = await imap.getMailboxLock(box);
    try {
      return (await imap.search({ all: true }, { uid: true })) || [];
    } finally {
      lock.release();
    }
  }

  async function emailIds(): Promise<string[]> {
    return (await jam.api.Email.query({ accountId, sort: [{ property: 'receivedAt', isAscending: true }] }))[0].ids;
  }

  async function apply(o: Op): Promise<void> {
    if (o.via === 'imap') {
      const box = BOXES[o.box]!;
      if (o.kind === 'append') {
        appended++;
        await imap.append(
          box,
          `From: x@sender.example\r\nSubject: n${appended}\r\nMessage-ID: <n${appended}@sender.example>\r\n\r\nbody ${appended}\r\n`,
        );
        return;
      }
      const uids = await uidsOf(box);
      if (uids.length === 0) return;
      const uid = String(uids[o.pick % uids.length]);
      const lock = await imap.getMailboxLock(box);
      try {
        if (o.kind === 'flag') {
          if (o.add) await imap.messageFlagsAdd(uid, [FLAGS[o.flag]!], { uid: true });
          else await imap.messageFlagsRemove(uid, [FLAGS[o.flag]!], { uid: true });
        } else if (o.kind === 'move') {
          if (BOXES[o.to] !== box) await imap.messageMove(uid, BOXES[o.to]!, { uid: true });
        } else await imap.messageDelete(uid, { uid: true });
      } finally {
        lock.release();
      }
      return;
    }
    const ids = await emailIds();
    if (ids.length === 0) return;
    const id = ids[o.pick % ids.length]!;
    if (o.kind === 'flag')
      await jam.api.Email.set({
        accountId,
        update: { [id]: { [`keywords/${KEYWORD[FLAGS[o.flag]!]}`]: o.add ? true : null } },
      });
    else if (o.kind === 'move')
      await jam.api.Email.set({ accountId, update: { [id]: { mailboxIds: { [boxIds.get(BOXES[o.to]!)!]: true } } } });
    else await jam.api.Email.set({ accountId, destroy: [id] });
  }

  it('leaves both views equal after random interleaved operations, and /changes names what came and went', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        const before = new Set(await emailIds());
        const [start] = await jam.api.Email.get({ accountId, ids: [], properties: ['id'] });
        for (const o of ops) await apply(o);
        const [i, j] = [await imapView(), await jmapView()];
        assert.deepEqual(new Map([...j].sort()), new Map([...i].sort()));
        const now = new Set(await emailIds());
        const [changes] = await jam.api.Email.changes({ accountId, sinceState: start.state });
        assert.deepEqual(new Set(changes.created), new Set([...now].filter((x) => !before.has(x))), 'created');
        assert.deepEqual(new Set(changes.destroyed), new Set([...before].filter((x) => !now.has(x))), 'destroyed');
      }),
      { numRuns: 25, seed: 8620 },
    );
  });
});
