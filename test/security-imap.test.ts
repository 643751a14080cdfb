/**
 * IMAP under attack, over real sockets: each test attacks one defence while a well-behaved ImapFlow
 * client keeps doing round trips, and checks the attack got nowhere, the other client stayed
 * responsive and the server's memory stayed bounded. docs/limits.md lists the limits tested here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import {
  assertFloodBounded,
  assertResponsive,
  memoryInUse,
  Probe,
  RawClient,
  sendUntilClosed,
  sleep,
} from './helpers/attack.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';

const PW = 'ann password 1';
let t: TestServer;
let probeClient: ImapFlow;

function probe(): Probe {
  return new Probe(async () => {
    await probeClient.noop();
  });
}

/** A raw client logged in over TLS with the INBOX selected. */
async function loggedIn(user = 'ann@example.com', pass = PW, keepText = true): Promise<RawClient> {
  const c = await RawClient.connect(t.port('imaps'), { tls: true, keepText });
  await c.waitFor(/^\* OK/);
  c.write(`l LOGIN ${user} "${pass}"\r\ns SELECT INBOX\r\n`);
  await c.waitFor(/\r\ns OK/);
  return c;
}

before(async () => {
  // Logs at info: the flood tests run a million commands, and the test keeps every debug line in memory.
  t = await startTestServer({
    listeners: ['smtp', 'imap', 'imaps'],
    extraConfig: '[limits]\nlogin_timeout = "3s"\n',
    logLevel: 'info',
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', PW);
  await t.server.directory.addAccount('cap@example.com', 'cap password 1', { quotaBytes: 100_000 });
  const smtp = await RawSmtp.connect(t.port('smtp'));
  await smtp.send(
    'x@remote.example',
    ['ann@example.com'],
    `From: x@remote.example\r\nSubject: big\r\n\r\n${'0123456789abcdef'.repeat(65_536)}\r\n`,
  );
  await smtp.send(
    'x@remote.example',
    ['cap@example.com'],
    `From: x@remote.example\r\nSubject: sixty\r\n\r\n${'x'.repeat(60_000)}\r\n`,
  );
  smtp.close();
  probeClient = new ImapFlow({
    host: '127.0.0.1',
    port: t.port('imaps'),
    secure: true,
    auth: { user: 'ann@example.com', pass: PW },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await probeClient.connect();
});

after(async () => {
  await probeClient.logout().catch(() => undefined);
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

describe('IMAP before login', () => {
  it('takes no literal over 8 KB: {n+} ends the connection at once, {n} is refused before its data', async () => {
    const p = probe();
    p.start();
    const plus = await RawClient.connect(t.port('imaps'), { tls: true });
    await plus.waitFor(/^\* OK/);
    const before = memoryInUse();
    plus.write('a LOGIN {52428800+}\r\n');
    // What an attacker would send next: the server must not read (or keep) it.
    const sent = await sendUntilClosed(plus);
    assert.ok(await plus.waitClosed(5000), 'closed');
    console.log(`# sent ${(sent / 1048576).toFixed(1)} MB of the literal before the server stopped reading`);
    assert.ok(sent < 16 << 20, `the server read ${sent} bytes of a literal it refused`);
    assert.match(plus.text, /\* BYE literal of 52428800 bytes is over the limit/);
    const sync = await RawClient.connect(t.port('imaps'), { tls: true });
    await sync.waitFor(/^\* OK/);
    sync.write('b LOGIN {52428800}\r\n');
    await sync.waitFor(/b NO \[TOOBIG\]/);
    sync.write('c NOOP\r\n');
    await sync.waitFor(/c OK/);
    sync.destroy();
    assert.ok(memoryInUse() - before < 32 << 20, 'the literal was not buffered');
    await assertResponsive(p);
  });

  it('refuses an overlong user name without keeping or logging it whole', async () => {
    const c = await RawClient.connect(t.port('imaps'), { tls: true });
    await c.waitFor(/^\* OK/);
    const name = 'n'.repeat(7000);
    c.write(`a LOGIN {${name.length}+}\r\n${name} x\r\n`);
    await c.waitFor(/a NO \[AUTHENTICATIONFAILED\]/);
    c.destroy();
    const failed = t.logs.filter((l) => l.msg === 'login failed' && String(l.user).startsWith('nnnn'));
    assert.ok(failed.length >= 1, 'the failure is logged');
    for (const l of failed)
      assert.ok(String(l.user).length <= 65, `logged name of ${String(l.user).length} characters`);
  });

  it('closes a connection that has not logged in within the login timeout, however slowly it keeps talking', async () => {
    const c = await RawClient.connect(t.port('imap'));
    await c.waitFor(/^\* OK/);
    const started = Date.now();
    const drip = setInterval(() => c.write('a'), 300); // slowloris: a byte at a time, never a whole line
    try {
      assert.ok(await c.waitClosed(10_000), 'closed by the server');
    } finally {
      clearInterval(drip);
    }
    assert.match(c.text, /\* BYE Login timeout/);
    assert.ok(Date.now() - started >= 2500, 'not before the timeout');
  });

  it('drops commands pipelined after STARTTLS instead of running them inside TLS (CVE-2011-0411)', async () => {
    const c = await RawClient.connect(t.port('imap'));
    await c.waitFor(/^\* OK/);
    c.write(`a STARTTLS\r\nb LOGIN ann@example.com "${PW}"\r\nc SELECT INBOX\r\n`);
    await c.waitFor(/a OK/);
    await c.startTls();
    const mark = c.text.length;
    c.write('d CAPABILITY\r\ne SELECT INBOX\r\n');
    await c.waitFor(/\r\ne (OK|NO|BAD)[^\r\n]*\r\n/);
    const inside = c.text.slice(mark);
    assert.doesNotMatch(c.text, /^[bc] (OK|NO|BAD)/m, 'the injected commands never ran');
    assert.match(inside, /\* CAPABILITY [^\r\n]*AUTH=PLAIN/, 'still not logged in');
    assert.match(inside, /e BAD SELECT needs authentication first/);
    c.destroy();
    assert.ok(t.logs.some((l) => l.msg === 'imap: discarded input pipelined after STARTTLS'));
  });
});

describe('IMAP after login', () => {
  it('stops reading a client that pipelines commands and never reads the answers', async () => {
    const p = probe();
    p.start();
    const c = await loggedIn();
    await assertFloodBounded(c, 'n NOOP\r\n');
    await assertResponsive(p);
    c.destroy();
  });

  it('matches LIST wildcards in linear time', async () => {
    await probeClient.mailboxCreate('a'.repeat(60));
    const p = probe();
    p.start();
    const c = await loggedIn();
    c.write(`x LIST "" "${'*a'.repeat(14)}*b"\r\ny LIST "" "${'%a'.repeat(14)}%"\r\n`);
    await c.waitFor(/\r\ny OK/);
    assert.doesNotMatch(c.text.slice(0, c.text.indexOf('x OK')), /"a{60}"/, 'no name ending in b');
    assert.match(c.text.slice(c.text.indexOf('x OK')), /\* LIST \([^)]*\) "\/" "a{60}"\r\n/, '%a…% matches');
    c.destroy();
    await assertResponsive(p);
  });

  it('writes a FETCH of many large sections one at a time to a client that does not read', async () => {
    const p = probe();
    p.start();
    const c = await loggedIn('ann@example.com', PW, false);
    const big = (await probeClient.mailboxOpen('INBOX')).exists;
    assert.ok(big >= 1);
    const before = memoryInUse();
    c.socket.pause();
    c.write(`f FETCH 1 (${Array(300).fill('BODY.PEEK[TEXT]').join(' ')})\r\n`);
    await sleep(2000);
    const grown = memoryInUse() - before;
    console.log(`# FETCH of 300 × 1 MiB to a client that does not read: memory +${(grown / 1048576).toFixed(1)} MB`);
    assert.ok(grown < 64 << 20, `memory grew by ${grown} bytes (the whole answer is 300 MiB)`);
    await assertResponsive(p);
    c.destroy();
    // Written item by item, the answer is still one well-formed response.
    const r = await loggedIn();
    const from = r.bytes;
    r.write('g FETCH 1 (UID BODY.PEEK[TEXT] RFC822.SIZE BODY.PEEK[TEXT] FLAGS)\r\n');
    await r.waitFor(/\r\ng OK/, 30_000);
    assert.ok(r.bytes - from > 2 * 1048578, 'both sections');
    assert.match(
      r.text,
      /\r\n RFC822\.SIZE \d+ BODY\[TEXT\] \{1048578\}\r\n(0123456789abcdef)+\r\n FLAGS \([^)]*\)\)\r\ng OK/,
    );
    r.destroy();
  });

  it('refuses COPY over the quota', async () => {
    const c = await loggedIn('cap@example.com', 'cap password 1');
    c.write('k COPY 1 INBOX\r\n');
    await c.waitFor(/\r\nk NO \[OVERQUOTA\]/);
    c.destroy();
  });

  it('tells an IDLE client of a bulk COPY with one query at a time, not one per message', async () => {
    await probeClient.mailboxCreate('Bulk');
    const idler = await RawClient.connect(t.port('imaps'), { tls: true });
    await idler.waitFor(/^\* OK/);
    idler.write(`l LOGIN ann@example.com "${PW}"\r\ns SELECT Bulk\r\n`);
    await idler.waitFor(/\r\ns OK/);
    idler.write('i IDLE\r\n');
    await idler.waitFor(/\+ idling/);
    const p = probe();
    p.start();
    const before = memoryInUse();
    const c = await loggedIn();
    c.write('a APPEND Bulk {20+}\r\nSubject: x\r\n\r\nbody\r\n\r\n');
    c.write('s SELECT Bulk\r\n');
    await c.waitFor(/\r\ns OK/);
    for (let i = 0; i < 12; i++) {
      // doubling: 4,096 messages, the last COPY 2,048 of them at once
      const mark = c.text.length;
      c.write(`c${i} COPY 1:* Bulk\r\n`);
      c.write(`x${i} SELECT Bulk\r\n`);
      await c.waitFor(new RegExp(`\\r\\nx${i} OK`), 60_000, mark);
      assert.match(c.text.slice(mark), new RegExp(`\\r\\nc${i} OK`), c.text.slice(mark, mark + 300));
    }
    await idler.waitFor(/\* 4096 EXISTS\r\n/, 60_000);
    const grown = memoryInUse() - before;
    console.log(`# 4,095 messages copied while a client IDLEs: memory +${(grown / 1048576).toFixed(1)} MB`);
    assert.ok(grown < 64 << 20, `memory grew by ${grown} bytes`);
    await assertResponsive(p);
    c.destroy();
    idler.destroy();
  });

  it('refuses too many keywords, LIST patterns and TEXT keys in one command', async () => {
    const c = await loggedIn();
    const keywords = Array.from({ length: 70 }, (_, i) => `kw${i}`).join(' ');
    c.write(`k STORE 1 +FLAGS (${keywords})\r\n`);
    await c.waitFor(/\r\nk NO \[LIMIT\]/);
    c.write(`l LIST "" (${Array(65).fill('"*"').join(' ')})\r\n`);
    await c.waitFor(/\r\nl BAD more than 64 LIST patterns/);
    c.write(`t SEARCH ${Array.from({ length: 9 }, (_, i) => `TEXT w${i}`).join(' ')}\r\n`);
    await c.waitFor(/\r\nt BAD more than 8 words in TEXT and BODY keys/);
    c.destroy();
  });

  it('stops a FETCH and a SEARCH whose client went, instead of reading every message for nobody', async () => {
    await t.server.directory.addAccount('many@example.com', 'many password 1');
    const c = await loggedIn('many@example.com', 'many password 1');
    // One MULTIAPPEND of 200 messages of 16 KB.
    const body = `From: x@remote.example\r\nSubject: m\r\nX-Tag: y\r\n\r\n${'z'.repeat(16_000)}\r\n`;
    c.write(`a APPEND INBOX${` {${body.length}+}\r\n${body}`.repeat(200)}\r\n`);
    await c.waitFor(/\r\na OK \[APPENDUID \d+ [\d:,]+\]/, 30_000);
    c.destroy();
    const mailboxes = t.server.mailboxes;
    const content = mailboxes.content.bind(mailboxes);
    let closedAt = Infinity;
    let readsAfter = 0;
    mailboxes.content = async (...args: Parameters<typeof content>) => {
      await sleep(5); // a slow disk: 200 reads take a second
      if (Date.now() > closedAt) readsAfter++;
      return content(...args);
    };
    try {
      for (const command of ['f FETCH 1:* (BODY.PEEK[TEXT])', 's SEARCH HEADER X-Tag y']) {
        const g = await loggedIn('many@example.com', 'many password 1');
        g.write(`${command}\r\n`);
        await sleep(150);
        g.destroy();
        await g.waitClosed(5000);
        closedAt = Date.now() + 50; // what the server was already reading when the close came
        readsAfter = 0;
        await sleep(1500);
        console.log(`# ${command}: ${readsAfter} messages read after the client went`);
        // A few may already be on their way (read ahead); all the rest were read for nobody before.
        assert.ok(readsAfter < 100, `${readsAfter} of 200 messages read after the client went`);
      }
    } finally {
      mailboxes.content = content;
    }
  });

  it('keeps no change subscription for a connection that went while its password was checked', async () => {
    const changes = t.server.store.changes;
    const subscribe = changes.subscribe.bind(changes);
    let live = 0;
    changes.subscribe = (...args: Parameters<typeof subscribe>) => {
      live++;
      const stop = subscribe(...args);
      let stopped = false;
      return () => {
        if (!stopped) live--;
        stopped = true;
        stop();
      };
    };
    try {
      for (let i = 0; i < 5; i++) {
        const c = await RawClient.connect(t.port('imaps'), { tls: true });
        await c.waitFor(/^\* OK/);
        c.write(`l LOGIN ann@example.com "${PW}"\r\n`);
        await sleep(5);
        c.destroy();
      }
      await sleep(1500); // the logins finish meanwhile
      assert.equal(live, 0, `${live} subscriptions left for connections that are gone`);
    } finally {
      changes.subscribe = subscribe;
    }
  });

  it('decodes a message once for BINARY.SIZE[] asked a thousand times, and bounds source routes in a header', async () => {
    const p = probe();
    p.start();
    const c = await loggedIn();
    const b64 = Buffer.alloc(1 << 20, 7)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    const binary = `From: x@remote.example\r\nSubject: b64\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`;
    c.write(`b APPEND INBOX {${binary.length}+}\r\n${binary}\r\n`);
    await c.waitFor(/\r\nb OK \[APPENDUID \d+ (\d+)\]/);
    const uid = /\r\nb OK \[APPENDUID \d+ (\d+)\]/.exec(c.text)![1];
    c.write(`f UID FETCH ${uid} (${Array(1000).fill('BINARY.SIZE[]').join(' ')})\r\n`);
    await c.waitFor(/\r\nf (OK|NO|BAD)/, 60_000);
    assert.match(c.text, /\r\nf OK/, c.text.slice(-300));
    // The header as it is, then the body decoded.
    assert.match(
      c.text.slice(-300),
      new RegExp(`BINARY\\.SIZE\\[\\] ${binary.indexOf('\r\n\r\n') + 4 + (1 << 20)}\\)\r\nf OK`),
    );
    // A From of 600,000 `<@a:` (2.4 MB): each once sought its '>' to the end of the header.
    const routed = `From: ${'<@a:'.repeat(600_000)}\r\nSubject: routes\r\n\r\nx\r\n`;
    c.write(`r APPEND INBOX {${routed.length}+}\r\n${routed}\r\n`);
    await c.waitFor(/\r\nr (OK|NO)/, 60_000);
    c.destroy();
    await assertResponsive(p);
  });

  it('refuses LIST patterns too long in all, and never matches one with more characters than a name may have', async () => {
    const p = probe();
    p.start();
    const c = await loggedIn();
    c.write(
      `l LIST "" (${Array(64)
        .fill(`"${'*a'.repeat(64)}"`)
        .join(' ')})\r\n`,
    );
    await c.waitFor(/\r\nl BAD LIST patterns of more than 4096 characters in all/);
    c.write(`m LIST "" "${'*a'.repeat(1001)}*"\r\n`);
    await c.waitFor(/\r\nm OK/);
    assert.doesNotMatch(c.text.slice(c.text.indexOf('l BAD')), /\* LIST/);
    c.destroy();
    await assertResponsive(p);
  });

  it('refuses APPEND flags that would break FLAGS responses, and appends all of a MULTIAPPEND or none', async () => {
    const c = await loggedIn();
    const mark = c.text.length;
    const lit = (text: string) => `{${Buffer.byteLength(text)}+}\r\n${text}`;
    c.write(`a APPEND INBOX ("a]b" "c)") ${lit('Subject: flags\r\n\r\n')}\r\n`);
    await c.waitFor(/(^|\r\n)a BAD/, 10_000, mark);
    c.write(`m APPEND INBOX ${lit('Subject: first\r\n\r\n')} (\\Recent) ${lit('Subject: second\r\n\r\n')}\r\n`);
    await c.waitFor(/(^|\r\n)m BAD/, 10_000, mark);
    c.write('s SEARCH OR SUBJECT first SUBJECT second\r\nx SELECT INBOX\r\n');
    await c.waitFor(/\r\nx OK/, 10_000, mark);
    assert.match(c.text.slice(mark), /\* SEARCH\r\n/, 'the first message of the failed MULTIAPPEND was not kept');
    assert.doesNotMatch(c.text.slice(mark), /\* (FLAGS|OK \[PERMANENTFLAGS) \([^\r\n]*(a\]b|c\))/);
    c.write(`z APPEND INBOX${` ${lit('Subject: one of many\r\n\r\n')}`.repeat(1001)}\r\n`);
    await c.waitFor(/(^|\r\n)z NO \[LIMIT\] one APPEND takes at most 1000 messages/, 10_000, mark);
    c.destroy();
  });

  it('bounds the names an account may subscribe to (they need no mailbox, and LSUB walks them all)', async () => {
    const account = (await t.server.store.accounts.get('cap@example.com'))!;
    const already = (await t.server.store.mailboxes.subscriptions(account.id)).length;
    for (let i = 0; i < 10_000 - already; i++)
      await t.server.store.mailboxes.setSubscription(account.id, `gone/${i}`, true);
    const c = await loggedIn('cap@example.com', 'cap password 1');
    const mark = c.text.length;
    c.write('s SUBSCRIBE one-more\r\nr SUBSCRIBE gone/5\r\nu UNSUBSCRIBE gone/5\r\nt SUBSCRIBE one-more\r\n');
    await c.waitFor(/(^|\r\n)t (OK|NO|BAD)/, 10_000, mark).catch(() => undefined);
    assert.match(
      c.text.slice(mark),
      /^s NO \[LIMIT\] [^\r\n]*10000 subscriptions\r\nr OK[^\r\n]*\r\nu OK[^\r\n]*\r\nt OK/,
    );
    c.destroy();
  });

  it('lets IDLE that ended in an error announce nothing afterwards, outside a command', async () => {
    const c = await loggedIn();
    c.write('i IDLE\r\n');
    await c.waitFor(/\+ idling\r\n/);
    c.write('DONE {3}\r\nabc\r\n');
    await c.waitFor(/\r\ni BAD[^\r\n]*\r\n/);
    const mark = c.text.length;
    // Another session adds a message: with no command running, this session says nothing.
    await probeClient.append('INBOX', 'Subject: while not idling\r\n\r\nx\r\n');
    await sleep(500);
    assert.equal(c.text.slice(mark), '', 'unprompted responses');
    c.write('n NOOP\r\n');
    await c.waitFor(/\r\nn OK/, 10_000, mark);
    assert.match(c.text.slice(mark), /\* \d+ EXISTS\r\n/, 'told at the next command');
    c.destroy();
  });

  it('ends IDLE on a DONE sent in the same packet', async () => {
    const c = await loggedIn();
    c.write('i IDLE\r\nDONE\r\nj NOOP\r\n');
    await c.waitFor(/\r\nj OK/);
    assert.match(c.text, /\+ idling\r\ni OK IDLE terminated\r\n/);
    c.destroy();
  });
});
