/**
 * `postern serve` stops promptly on SIGTERM, as systemd restarts and upgrades expect: after mail
 * submitted over STARTTLS and delivered outbound as after plain inbound traffic, and with a delivery
 * still in flight, or a relay that never greets, it waits at most [limits] shutdown_timeout, leaving
 * the message queued.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { postern, startServe } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** A relay on loopback (no STARTTLS); `stall` holds every DATA until released. */
async function relay(options: { stall?: boolean } = {}) {
  const got: string[] = [];
  const held: Array<() => void> = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        const done = () => {
          got.push(session.envelope.rcptTo.map((r) => r.address).join(','));
          cb(null);
        };
        if (options.stall) held.push(done);
        else done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    got,
    held,
    port: (server.server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function config(dir: string, relayPort: number, extra = ''): string {
  const file = path.join(dir, 'postern.toml');
  const listen = ['smtp', 'submissions', 'lmtp', 'imap', 'imaps', 'pop3', 'pop3s', 'managesieve', 'http', 'https']
    .map((l) => `${l} = []`)
    .join('\n');
  writeFileSync(
    file,
    `hostname = "mail.example.com"\ndata_dir = "data"\n[tls]\ncertbot_dir = "${dir}/none"\n[listen]\nsubmission = ["127.0.0.1:0"]\n${listen}\n` +
      `[outbound]\nsmarthost = "127.0.0.1:${relayPort}"\n[auth]\nfailure_delay = "0s"\n${extra}`,
  );
  assert.equal(postern(['--config', file, 'domain', 'add', 'example.com']).code, 0);
  assert.equal(
    postern(['--config', file, 'account', 'add', 'ann@example.com', '--password-stdin'], { input: 'ann password 1\n' })
      .code,
    0,
  );
  return file;
}

async function submit(port: number, to: string): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    auth: { user: 'ann@example.com', pass: 'ann password 1' },
    tls: { rejectUnauthorized: false },
  });
  await transport.sendMail({ from: 'ann@example.com', to, subject: 'out', text: 'out\n' });
}

/** Sends SIGTERM and resolves with how long the process took to exit, and its exit code. */
async function terminate(child: ChildProcess): Promise<{ ms: number; code: number | null }> {
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  return { ms: Date.now() - started, code };
}

const relays: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const r of relays) await r.close();
});

describe('postern serve shutdown', () => {
  it('exits at once on SIGTERM after delivering outbound mail, not after shutdown_timeout', async () => {
    const r = await relay();
    relays.push(r);
    const dir = tempDir();
    // A shutdown_timeout far longer than a prompt exit: exiting before it shows nothing was waited on.
    const { child, port } = await startServe(config(dir, r.port, '[limits]\nshutdown_timeout = "60s"\n'), 'submission');
    await submit(port, 'x@remote.example');
    for (const end = Date.now() + 15_000; r.got.length === 0 && Date.now() < end;)
      await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(r.got, ['x@remote.example']);
    const { ms, code } = await terminate(child);
    console.log(`# exited ${ms} ms after SIGTERM`);
    assert.equal(code, 0);
    assert.ok(ms < 15_000, `exited ${ms} ms after SIGTERM: it waited for something`);
  });

  it('gives an in-flight delivery shutdown_timeout, then exits and keeps the message queued', async () => {
    const r = await relay({ stall: true });
    relays.push(r);
    const dir = tempDir();
    const file = config(dir, r.port, '[limits]\nshutdown_timeout = "2s"\n');
    const { child, port } = await startServe(file, 'submission');
    await submit(port, 'y@remote.example');
    for (const end = Date.now() + 15_000; r.held.length === 0 && Date.now() < end;)
      await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.held.length, 1, 'the relay holds the message');
    const { ms, code } = await terminate(child);
    console.log(`# exited ${ms} ms after SIGTERM with a delivery in flight`);
    assert.equal(code, 0);
    assert.ok(ms >= 1900, `exited ${ms} ms after SIGTERM: before shutdown_timeout`);
    assert.ok(ms < 30_000, `exited ${ms} ms after SIGTERM: long after shutdown_timeout`);
    const queue = postern(['--config', file, 'queue', 'list', '--json']);
    const entries = JSON.parse(queue.stdout) as Array<{ recipients: Array<{ recipient: string }> }>;
    assert.deepEqual(
      entries.flatMap((e) => e.recipients.map((x) => x.recipient)),
      ['y@remote.example'],
      'still queued for the next start',
    );
  });

  it('cuts off a connection to a relay that never greets (connect and command timeouts are minutes) and keeps the message queued', async () => {
    const { createServer } = await import('node:net');
    const held: Array<{ destroy(): void }> = [];
    const silent = createServer((socket) => held.push(socket)); // accepts, never says 220
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    relays.push({
      close: () =>
        new Promise<void>((resolve) => {
          for (const c of held) c.destroy();
          silent.close(() => resolve());
        }),
    });
    const dir = tempDir();
    const file = config(dir, (silent.address() as { port: number }).port, '[limits]\nshutdown_timeout = "2s"\n');
    const { child, port } = await startServe(file, 'submission');
    await submit(port, 'z@remote.example');
    for (const end = Date.now() + 15_000; held.length === 0 && Date.now() < end;)
      await new Promise((res) => setTimeout(res, 50));
    assert.equal(held.length, 1, 'the outbound runner connected');
    const { ms, code } = await terminate(child);
    console.log(`# exited ${ms} ms after SIGTERM while waiting for a greeting`);
    assert.equal(code, 0);
    // connect_timeout is 30 s and command_timeout 5 min: half the first is far past shutdown_timeout.
    assert.ok(ms < 15_000, `exited ${ms} ms after SIGTERM: it waited for the greeting`);
    const queue = postern(['--config', file, 'queue', 'list', '--json']);
    const entries = JSON.parse(queue.stdout) as Array<{ recipients: Array<{ recipient: string }> }>;
    assert.deepEqual(
      entries.flatMap((e) => e.recipients.map((x) => x.recipient)),
      ['z@remote.example'],
    );
  });
});
