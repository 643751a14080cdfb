import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const BIN = path.resolve('bin/postern.js');

/** Runs the built `postern` binary (npm test builds it first). */
export function postern(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  if (!existsSync(path.resolve('dist/cli/main.js'))) throw new Error('dist/ is missing: run npm run build (npm test does)');
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: options.input ?? '', encoding: 'utf8', cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function posternAsync(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
