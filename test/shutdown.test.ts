/**
 * `postern serve` stops promptly on SIGTERM, as systemd restarts and upgrades expect: after mail
 * submitted over STARTTLS and delivered outbound as after plain inbound traffic, and with a delivery
 * still in flight it waits at most [limits] shutdown_timeout, leaving the message queued.
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
    logger: false, disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true,
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
    got, held, port: (server.server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function config(dir: string, relayPort: number, extra = ''): string {
  const file = path.join(dir, 'postern.toml');
  const listen = ['smtp', 'submissions', 'lmtp', 'imap', 'imaps', 'pop3', 'pop3s', 'managesieve', 'http', 'https'].map((l) => `${l} = []`).join('\n');
  writeFileSync(file, `hostname = "mail.example.com"\ndata_dir = "data"\n[tls]\ncertbot_dir = "${dir}/none"\n[listen]\nsubmission = ["127.0.0.1:0"]\n${listen}\n` +
    `[outbound]\nsmarthost = "127.0.0.1:${relayPort}"\n[auth]\nfailure_delay = "0s"\n${extra}`);
  assert.equal(postern(['--config', file, 'domain', 'add', 'example.com']).code, 0);
  assert.equal(postern(['--config', file, 'account', 'add', 'ann@example.com', '--password-stdin'], { input: 'ann password 1\n' }).code, 0);
  return file;
}

async function submit(port: number, to: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, auth: { user: 'ann@example.com', pass: 'ann password 1' }, tls: { rejectUnauthorized: false } });
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
  it('exits within a second or two of SIGTERM after delivering outbound mail', async () => {
    const r = await relay();
    relays.push(r);
    const dir = tempDir();
    const { child, port } = await startServe(config(dir, r.port), 'submission');
    await submit(port, 'x@remote.example');
    for (const end = Date.now() + 15_000; r.got.length === 0 && Date.now() < end; ) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(r.got, ['x@remote.example']);
    const { ms, code } = await terminate(child);
    console.log(`# exited ${ms} ms after SIGTERM`);
    assert.equal(code, 0);
    assert.ok(ms < 3000, `exited ${ms} ms after SIGTERM`);
  });

  it('gives an in-flight delivery shutdown_timeout, then exits and keeps the message queued', async () => {
    const r = await relay({ stall: true });
    relays.push(r);
    const dir = tempDir();
    const file = config(dir, r.port, '[limits]\nshutdown_timeout = "1s"\n');
    const { child, port } = await startServe(file, 'submission');
    await submit(port, 'y@remote.example');
    for (const end = Date.now() + 15_000; r.held.length === 0 && Date.now() < end; ) await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.held.length, 1, 'the relay holds the message');
    const { ms, code } = await terminate(child);
    console.log(`# exited ${ms} ms after SIGTERM with a delivery in flight`);
    assert.equal(code, 0);
    assert.ok(ms >= 900 && ms < 4000, `exited ${ms} ms after SIGTERM`);
    const queue = postern(['--config', file, 'queue', 'list', '--json']);
    const entries = JSON.parse(queue.stdout) as Array<{ recipients: Array<{ recipient: string }> }>;
    assert.deepEqual(entries.flatMap((e) => e.recipients.map((x) => x.recipient)), ['y@remote.example'], 'still queued for the next start');
  });
});
