/** ManageSieve (RFC 5804) against sieve-connect, Python's ssl sockets and raw garbage. */
import { manageSieveLimits } from '../src/protocols/shared/limits.js';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/lib/log.js';
import { ManageSieveSession } from '../src/protocols/managesieve/session.js';
import type { Connection } from '../src/protocols/shared/connection.js';
import type { Auth } from '../src/services/auth/index.js';
import { SIEVE_LIMITS, SieveScripts } from '../src/services/sieve/index.js';
import { peer } from './helpers/peers.js';
import { sieveConnect as runSieveConnect } from './helpers/sieve-connect.js';
import { python } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

let t: TestServer;
const ids = new Map<string, number>();

before(async () => {
  t = await startTestServer({ listeners: ['managesieve'] });
  await t.server.directory.addDomain('example.com');
  for (const u of ['ann', 'bob', 'cy', 'dee']) {
    await t.server.directory.addAccount(`${u}@example.com`, `${u} password 1`);
    ids.set(u, (await t.server.store.accounts.get(`${u}@example.com`))!.id);
  }
});
after(async () => {
  for (const l of t.logs) if (l.level === 'error') console.log('SERVER ERROR', JSON.stringify(l));
  await t.stop();
});

const GOOD = 'require ["fileinto"];\n# größer als\nif header :contains "subject" "[list]" {\n  fileinto "Lists";\n}\n';
/** RFC 5228: a missing ";" after `fileinto "x"` is found at `keep`, on line 3. */
const MISSING_SEMICOLON = 'require "fileinto";\nfileinto "x"\nkeep;\n';
const UNKNOWN_COMMAND = 'keep;\nfrobnicate;\n';

/** Log lines must never carry passwords or script text. */
function assertNoSecretsLogged(): void {
  const text = JSON.stringify(t.logs);
  for (const secret of [
    'ann password 1',
    'bob password 1',
    'cy password 1',
    'dee password 1',
    'fileinto "Lists"',
    'frobnicate',
  ]) {
    assert.ok(!text.includes(secret), `the log contains ${secret}`);
  }
}

describe('ManageSieve with sieve-connect', () => {
  const sieveConnect = (user: string, password: string, args: string[]) =>
    runSieveConnect(t.port('managesieve'), user, password, args);

  it(
    'uploads, lists, activates, downloads, checks, deactivates and deletes over STARTTLS',
    { skip: peer('sieve-connect', 'sieve-connect') },
    async () => {
      const dir = tempDir();
      const file = (name: string, text: string) => {
        const f = path.join(dir, name);
        writeFileSync(f, text);
        return f;
      };
      const ann = (...args: string[]) => sieveConnect('ann@example.com', 'ann password 1', args);
      const id = ids.get('ann')!;

      const up = await ann('--upload', '--localsieve', file('good.sieve', GOOD), '--remotesieve', 'main filter');
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.equal(
        (await t.server.store.sieve.get(id, 'main filter'))?.content,
        GOOD,
        'stored byte for byte (UTF-8 included)',
      );
      assert.equal(
        (await ann('--upload', '--localsieve', file('other.sieve', 'keep;\n'), '--remotesieve', 'other')).code,
        0,
      );

      let list = await ann('--list');
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(list.stdout.trim().split('\n').sort(), ['"main filter"', '"other"']);

      const act = await ann('--activate', '--remotesieve', 'main filter');
      assert.equal(act.code, 0, act.stderr);
      assert.equal((await t.server.store.sieve.active(id))?.name, 'main filter');
      list = await ann('--list');
      assert.ok(list.stdout.split('\n').includes('"main filter" ACTIVE'), list.stdout);

      const out = path.join(dir, 'downloaded.sieve');
      const down = await ann('--download', '--remotesieve', 'main filter', '--localsieve', out);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(readFileSync(out, 'utf8'), GOOD);

      const check = await ann('--checkscript', '--localsieve', file('good2.sieve', GOOD));
      assert.equal(check.code, 0, check.stderr);
      const badCheck = await ann('--checkscript', '--localsieve', file('broken.sieve', MISSING_SEMICOLON));
      assert.notEqual(badCheck.code, 0);
      assert.match(badCheck.stderr, /CHECKSCRIPT failed: NO "line 3: unexpected \\"keep\\"/);

      const broken = await ann('--upload', '--localsieve', path.join(dir, 'broken.sieve'), '--remotesieve', 'broken');
      assert.notEqual(broken.code, 0, 'a script that does not compile is refused');
      assert.match(broken.stderr, /PUTSCRIPT\(broken\) failed: NO "line 3: unexpected \\"keep\\"/);
      const unknown = await ann(
        '--upload',
        '--localsieve',
        file('unknown.sieve', UNKNOWN_COMMAND),
        '--remotesieve',
        'broken',
      );
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /NO "line 2: unknown command \\"frobnicate\\""/);
      assert.equal(await t.server.store.sieve.get(id, 'broken'), undefined, 'nothing stored');

      const delActive = await ann('--delete', '--remotesieve', 'main filter');
      assert.notEqual(delActive.code, 0);
      assert.match(delActive.stderr, /NO \(ACTIVE\)/);
      assert.ok(await t.server.store.sieve.get(id, 'main filter'), 'the active script is kept');

      const deact = await ann('--deactivate');
      assert.equal(deact.code, 0, deact.stderr);
      assert.equal(await t.server.store.sieve.active(id), undefined);
      const del = await ann('--delete', '--remotesieve', 'main filter');
      assert.equal(del.code, 0, del.stderr);
      assert.equal(await t.server.store.sieve.get(id, 'main filter'), undefined);
      assert.deepEqual(
        (await t.server.store.sieve.list(id)).map((s) => s.name),
        ['other'],
      );

      const wrong = await sieveConnect('ann@example.com', 'not the password', ['--list']);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /Authentication refused by server/);
      assert.equal((await ann('--list')).stdout.trim(), '"other"', 'the server is still usable after a failed login');
      assertNoSecretsLogged();
    },
  );
});

/** A ManageSieve client over Python sockets: responses are lists of lines, literals inlined as sent. */
const PY = `
import socket, ssl, json, os, re, base64
class MS:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.f = self.s.makefile('rb')
    def starttls(self):
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(self.s, server_hostname='mail.example.com')
        self.f = self.s.makefile('rb')
    def line(self):
        out = b''
        while True:
            l = self.f.readline()
            if not l:
                raise EOFError('connection closed after ' + repr(out))
            m = re.search(rb'\\{(\\d+)\\+?\\}\\r\\n$', l)
            if not m:
                x = out + l
                return (x[:-2] if x.endswith(b'\\r\\n') else x.rstrip(b'\\n')).decode('utf-8')
            out += l + self.f.read(int(m.group(1)))
    def response(self):
        lines = []
        while True:
            lines.append(self.line())
            if re.match(r'^(OK|NO|BYE)\\b', lines[-1]):
                return lines
    def send(self, data):
        self.s.sendall(data.encode('utf-8') if isinstance(data, str) else data)
    def cmd(self, text):
        self.send(text + '\\r\\n')
        return self.response()
def plain(user, password):
    return base64.b64encode(('\\0' + user + '\\0' + password).encode()).decode()
def lit(text, sync=False):
    b = text.encode('utf-8')
    return '{%d%s}\\r\\n' % (len(b), '' if sync else '+') + text
out = {}
`;

describe('ManageSieve transcripts (Python sockets and ssl)', () => {
  it('greets with capabilities, needs STARTTLS before AUTHENTICATE, then manages scripts', async () => {
    const out = await python<Record<string, string[]>>(
      `${PY}
c = MS(int(os.environ['P']))
out['greeting'] = c.response()
out['auth_plain'] = c.cmd('AUTHENTICATE "PLAIN" "%s"' % plain('bob@example.com', 'bob password 1'))
out['list_unauth'] = c.cmd('LISTSCRIPTS')
out['starttls'] = c.cmd('STARTTLS')
c.starttls()
out['caps_tls'] = c.response()
out['auth'] = c.cmd('AUTHENTICATE "PLAIN" "%s"' % plain('bob@example.com', 'bob password 1'))
out['auth_again'] = c.cmd('AUTHENTICATE "PLAIN" "%s"' % plain('bob@example.com', 'bob password 1'))
out['caps_authed'] = c.cmd('CAPABILITY')
script = os.environ['GOOD']
out['put'] = c.cmd('PUTSCRIPT "one" ' + lit(script))
out['put_sync'] = c.cmd('PUTSCRIPT ' + lit('two', True) + ' ' + lit('keep;\\r\\n', True))
out['list'] = c.cmd('LISTSCRIPTS')
out['get'] = c.cmd('GETSCRIPT "one"')
out['setactive'] = c.cmd('SETACTIVE "one"')
out['list_active'] = c.cmd('LISTSCRIPTS')
out['delete_active'] = c.cmd('DELETESCRIPT "one"')
out['rename_exists'] = c.cmd('RENAMESCRIPT "two" "one"')
out['rename_missing'] = c.cmd('RENAMESCRIPT "nope" "x"')
out['rename'] = c.cmd('RENAMESCRIPT "two" "deux"')
out['get_missing'] = c.cmd('GETSCRIPT "nope"')
out['setactive_missing'] = c.cmd('SETACTIVE "nope"')
out['delete_missing'] = c.cmd('DELETESCRIPT "nope"')
out['havespace_big'] = c.cmd('HAVESPACE "x" 999999999')
out['havespace'] = c.cmd('HAVESPACE "x" 100')
out['put_bad_name'] = c.cmd('PUTSCRIPT "a/b" ' + lit('keep;'))
out['check_bad'] = c.cmd('CHECKSCRIPT ' + lit(os.environ['BROKEN']))
out['put_bad'] = c.cmd('PUTSCRIPT "bad" ' + lit(os.environ['BROKEN']))
out['noop_tag'] = c.cmd('noop "tag"')
out['noop'] = c.cmd('NOOP')
c.send('NOOP "a"\\r\\nNOOP {1+}\\r\\nb\\r\\nLISTSCRIPTS\\r\\n')
out['pipelined'] = c.response() + c.response() + c.response()
out['deactivate'] = c.cmd('SETACTIVE ""')
out['unauth'] = c.cmd('UNAUTHENTICATE')
out['list_after_unauth'] = c.cmd('LISTSCRIPTS')
c.send('AUTHENTICATE "PLAIN"\\r\\n')
out['challenge'] = [c.line()]
out['auth_exchange'] = c.cmd('"%s"' % plain('bob@example.com', 'bob password 1'))
out['unauth_again'] = c.cmd('UNAUTHENTICATE')
c.send('AUTHENTICATE "PLAIN"\\r\\n')
c.line()
out['auth_cancel'] = c.cmd('"*"')
out['logout'] = c.cmd('LOGOUT')
try:
    out['after_logout'] = [c.f.readline().decode()]
except Exception as e:
    out['after_logout'] = ['ERROR ' + str(e)]
print(json.dumps(out))`,
      { P: t.port('managesieve'), GOOD, BROKEN: MISSING_SEMICOLON },
    );
    const greeting = out.greeting!;
    assert.equal(greeting[0], '"IMPLEMENTATION" "Postern"');
    assert.ok(greeting.includes('"SASL" ""'), 'no mechanism before TLS (allow_plaintext_auth is off)');
    assert.ok(greeting.includes('"STARTTLS"'));
    assert.ok(greeting.includes('"VERSION" "1.0"'));
    assert.ok(greeting.includes('"MAXREDIRECTS" "4"'));
    const sieveCap = greeting.find((l) => l.startsWith('"SIEVE" '))!;
    for (const ext of ['fileinto', 'vacation', 'imap4flags', 'variables'])
      assert.ok(sieveCap.split(/[ "]/).includes(ext), sieveCap);
    assert.ok(!greeting.some((l) => l.startsWith('"OWNER"')));
    assert.match(greeting.at(-1)!, /^OK "/);
    assert.match(out.auth_plain!.at(-1)!, /^NO \(ENCRYPT-NEEDED\) "/);
    assert.match(out.list_unauth!.at(-1)!, /^NO "LISTSCRIPTS needs authentication first"/);
    assert.match(out.starttls!.at(-1)!, /^OK/);
    const capsTls = out.caps_tls!;
    assert.ok(capsTls.includes('"SASL" "PLAIN"') && !capsTls.includes('"STARTTLS"'), capsTls.join('\n'));
    assert.match(capsTls.at(-1)!, /^OK/, 'capabilities are sent again after STARTTLS, unasked (§2.2)');
    assert.match(out.auth!.at(-1)!, /^OK/);
    assert.match(out.auth_again!.at(-1)!, /^NO /);
    assert.ok(out.caps_authed!.includes('"OWNER" "bob@example.com"'), out.caps_authed!.join('\n'));
    assert.deepEqual(out.put, ['OK']);
    assert.deepEqual(out.put_sync, ['OK'], '{n} is taken without a continuation');
    assert.deepEqual(out.list, ['"one"', '"two"', 'OK']);
    const size = Buffer.byteLength(GOOD);
    assert.deepEqual(out.get, [`{${size}}\r\n${GOOD}`, 'OK'], 'GETSCRIPT returns the same bytes');
    assert.deepEqual(out.setactive, ['OK']);
    assert.deepEqual(out.list_active, ['"one" ACTIVE', '"two"', 'OK']);
    assert.match(out.delete_active![0]!, /^NO \(ACTIVE\) "/);
    assert.match(out.rename_exists![0]!, /^NO \(ALREADYEXISTS\) "/);
    assert.match(out.rename_missing![0]!, /^NO \(NONEXISTENT\) "/);
    assert.deepEqual(out.rename, ['OK']);
    assert.match(out.get_missing![0]!, /^NO \(NONEXISTENT\) "/);
    assert.match(out.setactive_missing![0]!, /^NO \(NONEXISTENT\) "/);
    assert.match(out.delete_missing![0]!, /^NO \(NONEXISTENT\) "/);
    assert.match(out.havespace_big![0]!, /^NO \(QUOTA\/MAXSIZE\) "/);
    assert.deepEqual(out.havespace, ['OK']);
    assert.match(out.put_bad_name![0]!, /^NO "invalid script name"/);
    assert.match(out.check_bad![0]!, /^NO "line 3: unexpected \\"keep\\"/, 'a quoted string escapes its quotes');
    assert.match(out.put_bad![0]!, /^NO "line 3: /);
    assert.deepEqual(out.noop_tag, ['OK (TAG "tag") "Done"']);
    assert.deepEqual(out.noop, ['OK "Done"']);
    assert.deepEqual(out.pipelined, ['OK (TAG "a") "Done"', 'OK (TAG "b") "Done"', '"deux"', '"one" ACTIVE', 'OK']);
    assert.deepEqual(out.deactivate, ['OK']);
    assert.equal(await t.server.store.sieve.active(ids.get('bob')!), undefined);
    assert.deepEqual(out.unauth, ['OK']);
    assert.match(out.list_after_unauth![0]!, /^NO /);
    assert.deepEqual(out.challenge, ['""'], 'PLAIN without an initial response gets an empty challenge');
    assert.match(out.auth_exchange!.at(-1)!, /^OK/);
    assert.match(out.auth_cancel![0]!, /^NO "Authentication cancelled"/);
    assert.match(out.logout![0]!, /^OK/);
    assert.deepEqual(out.after_logout, [''], 'the server closes after LOGOUT');
    const stored = await t.server.store.sieve.list(ids.get('bob')!);
    assert.deepEqual(
      stored.map((s) => s.name),
      ['deux', 'one'],
    );
    assertNoSecretsLogged();
  });

  it('reports the line of a script error, and sends a NO text with CRLF as a literal', async () => {
    const out = await python<Record<string, string[]>>(
      `${PY}
c = MS(int(os.environ['P']))
c.response(); c.cmd('STARTTLS'); c.starttls(); c.response()
c.cmd('AUTHENTICATE "PLAIN" "%s"' % plain('cy@example.com', 'cy password 1'))
out['unterminated'] = c.cmd('CHECKSCRIPT ' + lit('keep;\\r\\n/* never closed'))
out['crlf_name'] = c.cmd('GETSCRIPT ' + lit('a\\r\\nb'))
out['noop'] = c.cmd('NOOP')
print(json.dumps(out))`,
      { P: t.port('managesieve') },
    );
    assert.deepEqual(out.unterminated, ['NO "line 2: unterminated comment"']);
    const text = 'no script named a\r\nb';
    assert.deepEqual(out.crlf_name, [`NO (NONEXISTENT) {${text.length}}\r\n${text}`]);
    assert.deepEqual(out.noop, ['OK "Done"']);
  });
});

/** A raw ManageSieve connection from node: everything received, and waiting for a pattern in what is new. */
class Raw {
  private received = '';
  private mark = 0;
  isClosed = false;

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.listen();
  }

  static async connect(): Promise<Raw> {
    const socket = net.connect(t.port('managesieve'), '127.0.0.1');
    socket.on('error', () => {});
    const raw = new Raw(socket);
    await raw.until(/^OK .*\r\n/m);
    return raw;
  }

  private listen(): void {
    this.socket.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    this.socket.on('close', () => (this.isClosed = true));
  }

  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  drained(): Promise<boolean> {
    return new Promise((resolve) => {
      this.socket.once('drain', () => resolve(true));
      this.socket.once('close', () => resolve(false));
    });
  }

  /** Waits until the input after the last match matches `re`; returns that input. */
  async until(re: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fresh = this.received.slice(this.mark);
      const m = re.exec(fresh);
      if (m) {
        this.mark += m.index + m[0].length;
        return fresh.slice(0, m.index + m[0].length);
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(fresh.slice(0, 500))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async cmd(line: string | Buffer): Promise<string> {
    this.write(typeof line === 'string' ? `${line}\r\n` : line);
    return this.until(/^(OK|NO|BYE)\b.*\r\n/m);
  }

  async startTls(): Promise<void> {
    await this.cmd('STARTTLS');
    this.socket.removeAllListeners('data');
    const secure = tls.connect({
      socket: this.socket as net.Socket,
      rejectUnauthorized: false,
      servername: 'mail.example.com',
    });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.listen();
    await this.until(/^OK .*\r\n/m);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isClosed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('ManageSieve against garbage', () => {
  it('answers NO to unknown commands, bad strings and literals and binary bytes, and keeps serving', async () => {
    const c = await Raw.connect();
    assert.match(await c.cmd('FROBNICATE'), /^NO "Unknown command FROBNICATE"\r\n$/);
    assert.match(await c.cmd('NOOP "unterminated'), /^NO "Unterminated quoted string"/);
    assert.match(await c.cmd('NOOP {abc+}'), /^NO "Invalid literal"/);
    assert.match(await c.cmd('NOOP "a\\x"'), /^NO "Invalid escape in quoted string"/);
    assert.match(await c.cmd(Buffer.from([0x00, 0xff, 0x01, 0x80, 0x0d, 0x0a])), /^NO "Invalid character"/);
    assert.match(
      await c.cmd(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0x22, 0xc3, 0x28, 0x22, 0x0d, 0x0a])),
      /^NO "Quoted string is not valid UTF-8"/,
    );
    assert.match(await c.cmd('NOOP "a" "b"'), /^NO "Wrong number of arguments for NOOP"/);
    assert.match(await c.cmd('HAVESPACE "x" 10'), /^NO "HAVESPACE needs authentication first"/);
    assert.match(await c.cmd(`NOOP "${'x'.repeat(10_000)}"`), /^NO "Line too long"/);
    assert.match(await c.cmd('NOOP "still here"'), /^OK \(TAG "still here"\)/);
    c.close();
  });

  it('says BYE after 10 invalid commands in a row, and closes', async () => {
    const c = await Raw.connect();
    c.write('XYZZY\r\n'.repeat(12));
    const got = await c.until(/^BYE "Too many invalid commands"\r\n/m);
    assert.equal(got.match(/^NO /gm)?.length, 10);
    await c.waitClosed();
  });

  it('ends the connection at once on a literal announcing 100 MB, without reading it', async () => {
    const c = await Raw.connect();
    const started = Date.now();
    c.write('PUTSCRIPT "huge" {104857600+}\r\n');
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let sent = 0;
    while (sent < 100 << 20 && !c.isClosed) {
      sent += chunk.length;
      if (
        !c.write(chunk) &&
        !(await Promise.race([c.drained(), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]))
      )
        break;
    }
    assert.match(await c.until(/^BYE .*\r\n/m), /^BYE "Literal of 104857600 bytes is too large"/);
    assert.ok(Date.now() - started < 2000, `BYE after ${Date.now() - started} ms`);
    await c.waitClosed();
    assert.ok(sent < 100 << 20, `the server read all ${sent} bytes`);
  });

  it('refuses a script literal over the size limit with QUOTA/MAXSIZE and goes on', async () => {
    const c = await Raw.connect();
    await c.startTls();
    assert.match(
      await c.cmd(`AUTHENTICATE "PLAIN" "${Buffer.from('\0dee@example.com\0dee password 1').toString('base64')}"`),
      /^OK/,
    );
    const size = 200 * 1024; // over SIEVE_LIMITS.maxScriptBytes + 1024, under the skip budget
    assert.match(
      await c.cmd(`PUTSCRIPT "big" {${size}+}\r\n${'#'.repeat(size - 2)}\r\n`),
      /^NO \(QUOTA\/MAXSIZE\) "Literal of 204800 bytes is too large"/,
    );
    assert.match(await c.cmd('LISTSCRIPTS'), /^OK/);
    assert.equal((await t.server.store.sieve.list(ids.get('dee')!)).length, 0);
    c.close();
  });

  it('answers a wrong password with NO and stays usable', async () => {
    const c = await Raw.connect();
    await c.startTls();
    const b64 = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');
    assert.match(
      await c.cmd(`AUTHENTICATE "PLAIN" "${b64('dee@example.com', 'wrong')}"`),
      /^NO "Authentication failed"/,
    );
    assert.match(
      await c.cmd('AUTHENTICATE "PLAIN" "not base64!"'),
      /^NO "Invalid SASL response: invalid base64 in PLAIN response"/,
    );
    assert.match(await c.cmd('AUTHENTICATE "DIGEST-MD5"'), /^NO "Mechanism DIGEST-MD5 is not supported"/);
    assert.match(
      await c.cmd(
        `AUTHENTICATE "PLAIN" {${b64('dee@example.com', 'dee password 1').length}+}\r\n${b64('dee@example.com', 'dee password 1')}`,
      ),
      /^OK/,
    );
    assert.match(await c.cmd('LISTSCRIPTS'), /^OK/);
    c.close();
  });

  it('says BYE "Autologout" to an idle client and closes', async () => {
    const log = createLogger({ level: 'silent' });
    const sieve = new SieveScripts({ store: t.server.store, log, limits: SIEVE_LIMITS });
    const server = net.createServer((socket) => {
      const conn: Connection = {
        cid: 'idle',
        listener: 'managesieve',
        remoteAddress: '127.0.0.1',
        remotePort: 0,
        localAddress: '127.0.0.1',
        localPort: 0,
        log,
        socket,
        isTls: false,
        tlsInfo: () => undefined,
        startTls: () => Promise.reject(new Error('no TLS here')),
        close: () => socket.end(),
      };
      const limits = {
        ...manageSieveLimits({ loginTimeoutMs: 60_000, idleTimeoutMs: 300, maxScriptBytes: 1024 }),
        allowPlaintextAuth: false,
        maxBadCommands: 3,
      };
      void new ManageSieveSession(conn, { hostname: 'mail.example.com', auth: {} as Auth, sieve, limits }).run();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      const started = Date.now();
      await new Promise((r) => socket.on('close', r));
      assert.ok(Date.now() - started >= 250, 'not before the idle time');
      assert.match(text, /^"IMPLEMENTATION" "Postern"\r\n[^]*\r\nOK "[^"]*"\r\nBYE "Autologout"\r\n$/);
    } finally {
      server.close();
    }
  });

  it('says BYE (TRYLATER) to connected clients when the server shuts down', async () => {
    const own = await startTestServer({ listeners: ['managesieve'] });
    let isStopped = false;
    try {
      const socket = net.connect(own.port('managesieve'), '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      const closed = new Promise((r) => socket.on('close', r));
      while (!/^OK /m.test(text)) await new Promise((r) => setTimeout(r, 10));
      await own.stop();
      isStopped = true;
      await closed;
      assert.match(text, /\r\nBYE \(TRYLATER\) "Server shutting down"\r\n$/);
    } finally {
      if (!isStopped) await own.stop();
    }
  });
});
