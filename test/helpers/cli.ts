import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const BIN = path.resolve('bin/postern.js');

/** Runs the built `postern` binary (npm test builds it first). */
export function postern(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  if (!existsSync(path.resolve('dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build (npm test does)');
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: options.input ?? '',
    encoding: 'utf8',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function posternAsync(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Runs `postern` without blocking the event loop (for use next to an in-process server or DNS). A
 * command still running after `timeoutMs` (60 s) is killed and answers code null with what it wrote.
 */
export function posternRun(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = posternAsync(args, options.env ? { env: options.env } : {});
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    stderr += `\n(killed: still running after ${options.timeoutMs ?? 60_000} ms)`;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** `postern serve` in a child process; resolves with the port of `listener` once the server has started. */
/** `output()` is what the process has written so far (its last 50 KB). */
export async function startServe(
  config: string,
  listener: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; port: number; output(): string }> {
  const child = posternAsync(['serve', '--config', config], env ? { env } : {});
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
  const listening = new RegExp(`"msg":"listening","listener":"${listener}","address":"127\\.0\\.0\\.1:(\\d+)"`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = listening.exec(out);
    if (m && out.includes('postern started')) return { child, port: Number(m[1]), output: () => out };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`postern serve did not start:\n${out}`);
}

/** Sends `signal` (unless the process has already exited) and resolves once it has exited. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A TCP port that was free a moment ago, for a peer that cannot be told to pick its own. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
