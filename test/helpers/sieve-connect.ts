/** sieve-connect (Debian's ManageSieve client) against a listener on 127.0.0.1, the password given on fd 3. */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

export function sieveConnect(
  port: number,
  user: string,
  password: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = ['--server', '127.0.0.1', '--port', String(port), '--user', user, '--passwordfd', '3'];
    const child = spawn('sieve-connect', [...base, '--notlsverify', ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    (child.stdio[3] as Writable).end(`${password}\n`);
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
