import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Clamd } from './clamd.js';
import { EngineError } from './engine.js';
import { parseRspamdReply, Rspamd, rspamdCheck, rspamdSymbols } from './rspamd.js';
import { parseSpamdReply, Spamd, spamdCheck } from './spamd.js';
import type { FilterInput } from './types.js';

const servers: Array<net.Server | http.Server> = [];
after(() => servers.forEach((s) => s.close()));

async function listen<S extends net.Server | http.Server>(server: S): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const input = (data: string): FilterInput => ({
  qid: 'Q1',
  data: Buffer.from(data),
  head: [],
  scoreSpam: true,
  mailFrom: 'a@example.org',
  client: { ip: '192.0.2.1', helo: 'mx.example.org' },
  accounts: [
    { id: 1, address: 'ann@example.com' },
    { id: 2, address: 'bob@example.com' },
  ],
  recipients: [],
  fromAddresses: [],
});

const spamdAnswer = (spam: string, body: string) =>
  Buffer.from(`SPAMD/1.1 0 EX_OK\r\nContent-length: ${body.length}\r\nSpam: ${spam}\r\n\r\n${body}`);

describe("spamd's answers", () => {
  it('reads SYMBOLS: the verdict, the score, the threshold and the rules', () => {
    assert.deepEqual(parseSpamdReply(spamdAnswer('True ; 1003.3 / 5.0', 'GTUBE,MISSING_DATE,NO_RELAYS')), {
      isSpam: true,
      score: 1003.3,
      threshold: 5,
      rules: ['GTUBE', 'MISSING_DATE', 'NO_RELAYS'],
    });
    assert.deepEqual(parseSpamdReply(spamdAnswer('False ; -0.1 / 5.0', '')), {
      isSpam: false,
      score: -0.1,
      threshold: 5,
      rules: [],
    });
  });

  it('refuses an error status, garbage, a truncated answer and a missing verdict', () => {
    const bad = [
      'SPAMD/1.0 76 Bad header line: garbage\r\n',
      'garbage\r\n\r\n',
      '',
      'SPAMD/1.1 0 EX_OK\r\nContent-length: 20\r\nSpam: True ; 9.0 / 5.0\r\n\r\nGTUBE',
      'SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 9.0',
      'SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\n\r\nGTUBE',
      'SPAMD/1.1 0 EX_OK\r\nSpam: maybe ; x / y\r\n\r\n',
      'SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n<html>not a list</html>',
    ];
    for (const reply of bad) assert.throws(() => parseSpamdReply(Buffer.from(reply)), EngineError, reply);
  });

  it('sends SYMBOLS with the Content-length and gives one SPAMD symbol naming the rules', async () => {
    let request = '';
    const address = await listen(
      net.createServer((s) => {
        s.on('data', (d) => (request += d.toString('latin1')));
        s.on('end', () => s.end(spamdAnswer('True ; 7.5 / 5.0', 'MISSING_DATE,URIBL_X')));
      }),
    );
    const check = spamdCheck(new Spamd({ address, timeoutMs: 5000 }));
    const symbols = await check.check(input('hello\r\n'));
    assert.equal(request, 'SYMBOLS SPAMC/1.5\r\nContent-length: 7\r\n\r\nhello\r\n');
    assert.deepEqual(symbols, [{ name: 'SPAMD', score: 7.5, why: 'spamd: MISSING_DATE, URIBL_X' }]);
    assert.equal(check.isEngine, true);
    assert.deepEqual({ ...check.stats }, { checks: 1, failures: 0 });
  });

  it('talks to spamd over a unix socket', async () => {
    const socketPath = path.join(mkdtempSync(path.join(tmpdir(), 'spamd-')), 'spamd.sock');
    const server = net
      .createServer((s) => s.resume().on('end', () => s.end(spamdAnswer('False ; 1.2 / 5.0', 'X'))))
      .listen(socketPath);
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    assert.equal((await new Spamd({ address: socketPath, timeoutMs: 5000 }).check(Buffer.from('x'))).score, 1.2);
    rmSync(path.dirname(socketPath), { recursive: true, force: true });
  });

  it('fails on a hang, an early close and an endless answer, counting each failure', async () => {
    const hang = await listen(net.createServer(() => {}));
    const early = await listen(net.createServer((s) => s.end('SPAMD/1.1 0 EX_OK\r\nContent-len')));
    const endless = await listen(net.createServer((s) => s.end(Buffer.alloc(100_000, 'A'))));
    const check = spamdCheck(new Spamd({ address: hang, timeoutMs: 100 }));
    await assert.rejects(check.check(input('x')), /spamd did not answer within 100 ms \(failure 1 of 1 checks/);
    await assert.rejects(spamdCheck(new Spamd({ address: early, timeoutMs: 5000 })).check(input('x')), /header/);
    await assert.rejects(new Spamd({ address: endless, timeoutMs: 5000 }).check(Buffer.from('x')), /longer than/);
    await assert.rejects(
      new Spamd({ address: '127.0.0.1:1', timeoutMs: 5000 }).check(Buffer.from('x')),
      /ECONNREFUSED/,
    );
    assert.equal(check.stats.failures, 1);
  });
});

describe("rspamd's answers", () => {
  const gtube =
    '{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"}}';
  const ham =
    '{"is_skipped":false,"score":-0.1,"required_score":15.0,"action":"no action","symbols":{"MIME_GOOD":{"name":"MIME_GOOD","score":-0.100000,"description":"Known content-type","options":["text/plain"]},"ARC_NA":{"name":"ARC_NA","score":0.0}},"messages":{}}';

  it("reads each symbol with rspamd's name and score", () => {
    const r = parseRspamdReply(ham);
    assert.equal(r.action, 'no action');
    assert.deepEqual(rspamdSymbols(r), [
      { name: 'MIME_GOOD', score: -0.1, why: 'Known content-type (text/plain)' },
      { name: 'ARC_NA', score: 0, why: 'rspamd rule' },
    ]);
  });

  it("turns rspamd's forced reject (its GTUBE answer) into RSPAMD_REJECT; a scored reject adds nothing", () => {
    assert.deepEqual(
      rspamdSymbols(parseRspamdReply(gtube)).map((s) => [s.name, s.score, s.why]),
      [
        ['GTUBE', 0, 'rspamd rule'],
        ['RSPAMD_REJECT', 1000, 'rspamd forced a reject: Gtube pattern'],
      ],
    );
    const scored = '{"score":16,"action":"reject","symbols":{"A":{"score":10},"B":{"score":6}}}';
    assert.deepEqual(
      rspamdSymbols(parseRspamdReply(scored)).map((s) => s.name),
      ['A', 'B'],
    );
  });

  it('refuses what is not its JSON', () => {
    for (const reply of [
      '',
      'garbage',
      '[]',
      '{"score":"1","action":"x"}',
      '{"score":1}',
      '{"score":1,"action":"x","symbols":{"A":{}}}',
      '{"score":1,"action":"x","symbols":[1]}',
    ])
      assert.throws(() => parseRspamdReply(reply), EngineError, reply);
  });

  it('posts the message to /checkv2 with the envelope in headers over one kept-alive connection', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const bodies: string[] = [];
    let connections = 0;
    const server = http.createServer((req, res) => {
      seen.push(req.headers);
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${body}`);
        res.end(ham);
      });
    });
    server.on('connection', () => (connections += 1));
    const address = await listen(server);
    const rspamd = new Rspamd({ url: `http://${address}`, timeoutMs: 5000 });
    const check = rspamdCheck(rspamd);
    assert.equal((await check.check(input('one'))).length, 2);
    assert.equal((await check.check(input('two'))).length, 2);
    rspamd.close();
    assert.deepEqual(bodies, ['POST /checkv2 one', 'POST /checkv2 two']);
    assert.equal(connections, 1, 'the second check reused the connection');
    const h = seen[0]!;
    assert.equal(h.ip, '192.0.2.1');
    assert.equal(h.helo, 'mx.example.org');
    assert.equal(h.from, 'a@example.org');
    assert.equal(h.rcpt, 'ann@example.com, bob@example.com');
    assert.equal(h['queue-id'], 'Q1');
  });

  it('sends a check again, once, on a fresh connection when the kept one was closed', async () => {
    const perSocket = new Map<net.Socket, number>();
    const server = http.createServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n === 2) return req.socket.destroy(); // as an rspamd that dropped the idle connection
      req.resume().on('end', () => res.end(ham));
    });
    const rspamd = new Rspamd({ url: `http://${await listen(server)}`, timeoutMs: 5000 });
    await rspamd.check(input('one'));
    assert.equal((await rspamd.check(input('two'))).action, 'no action');
    assert.equal(perSocket.size, 2, 'the second check went out again on a new connection');
    rspamd.close();
  });

  it('fails on a status other than 200, bad JSON and a hang', async () => {
    const status = await listen(http.createServer((_q, res) => res.writeHead(500).end(ham)));
    const bad = await listen(http.createServer((_q, res) => res.end('{"score": ')));
    const hang = await listen(http.createServer(() => {}));
    const fails = async (address: string, timeoutMs: number, why: RegExp) => {
      const rspamd = new Rspamd({ url: `http://${address}/`, timeoutMs });
      await assert.rejects(rspamdCheck(rspamd).check(input('x')), why);
      rspamd.close();
    };
    await fails(status, 5000, /rspamd: HTTP 500 \(failure 1 of 1 checks/);
    await fails(bad, 5000, /not JSON/);
    await fails(hang, 100, /rspamd did not answer within 100 ms/);
    await fails('127.0.0.1:1', 5000, /ECONNREFUSED/);
  });
});

/** A clamd that speaks IDSESSION: answers each INSTREAM with "<n>: stream: OK" (or FOUND for "virus"). */
function fakeClamd(behave: (socket: net.Socket, scans: number) => 'answer' | 'close' | 'hang') {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    let buf = Buffer.alloc(0);
    let scans = 0;
    let content = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.subarray(0, 11).toString() === 'zIDSESSION\0') buf = buf.subarray(11);
        else if (buf.subarray(0, 10).toString() === 'zINSTREAM\0') buf = buf.subarray(10);
        else if (buf.subarray(0, 5).toString() === 'zEND\0') return socket.end();
        else if (buf.length >= 4) {
          const size = buf.readUInt32BE(0);
          if (buf.length < 4 + size) return;
          content = Buffer.concat([content, buf.subarray(4, 4 + size)]);
          buf = buf.subarray(4 + size);
          if (size === 0) {
            scans += 1;
            const what = behave(socket, scans);
            if (what === 'close') return socket.destroy();
            if (what === 'answer')
              socket.write(`${scans}: stream: ${content.includes('virus') ? 'Test.Virus FOUND' : 'OK'}\0`);
            content = Buffer.alloc(0);
          }
        } else return;
      }
    });
  });
  return { server, connections: () => connections };
}

describe('clamd sessions', () => {
  it('runs several scans on one kept connection, in IDSESSION mode', async () => {
    const fake = fakeClamd(() => 'answer');
    const clamd = new Clamd({ address: await listen(fake.server), timeoutMs: 5000 });
    assert.deepEqual(await clamd.scan(Buffer.from('hello')), { kind: 'clean' });
    assert.deepEqual(await clamd.scan(Buffer.from('a virus')), { kind: 'infected', name: 'Test.Virus' });
    assert.deepEqual(await clamd.scan(Buffer.alloc(200_000, 'x')), { kind: 'clean' });
    assert.equal(fake.connections(), 1);
    const both = await Promise.all([clamd.scan(Buffer.from('a')), clamd.scan(Buffer.from('b'))]);
    assert.deepEqual(both, [{ kind: 'clean' }, { kind: 'clean' }]);
    assert.equal(fake.connections(), 2, 'two scans at once take two connections');
    clamd.close();
  });

  it('retries once on a fresh connection when a kept one was closed, but not a hung one', async () => {
    // The first connection answers its first scan, then drops the second without a word.
    const dropping = fakeClamd((_s, scans) => (scans === 2 ? 'close' : 'answer'));
    const clamd = new Clamd({ address: await listen(dropping.server), timeoutMs: 5000 });
    await clamd.scan(Buffer.from('one'));
    assert.deepEqual(await clamd.scan(Buffer.from('two')), { kind: 'clean' });
    assert.equal(dropping.connections(), 2);
    assert.equal(clamd.stats.failures, 0);
    clamd.close();

    const hanging = fakeClamd((_s, scans) => (scans === 2 ? 'hang' : 'answer'));
    const hung = new Clamd({ address: await listen(hanging.server), timeoutMs: 200 });
    await hung.scan(Buffer.from('one'));
    await assert.rejects(hung.scan(Buffer.from('two')), /did not answer within 200 ms \(failure 1 of 2 checks/);
    assert.equal(hanging.connections(), 1, 'a hung scan is not retried');
    assert.deepEqual(await hung.scan(Buffer.from('three')), { kind: 'clean' }, 'the hung session was dropped');
    assert.equal(hanging.connections(), 2);
    hung.close();
  });

  it('fails a scan whose answer is out of order or garbage', async () => {
    const wrong = await listen(net.createServer((s) => s.on('data', () => s.write('7: stream: OK\0'))));
    await assert.rejects(new Clamd({ address: wrong, timeoutMs: 5000 }).scan(Buffer.from('x')), /7: stream: OK/);
  });
});
