import { execFile } from 'node:child_process';

/** Runs a Python 3 snippet (without blocking the in-process server) and parses the JSON it prints last. */
export function python<T = unknown>(script: string, env: Record<string, string | number> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'python3',
      ['-c', script],
      {
        env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
        timeout: 60_000,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`python failed: ${err.message}\n${stderr}`));
        const last = stdout.trim().split('\n').at(-1) ?? 'null';
        try {
          resolve(JSON.parse(last) as T);
        } catch {
          reject(new Error(`python printed no JSON: ${stdout}\n${stderr}`));
        }
      },
    );
    child.stdin?.end();
  });
}

export function run(
  command: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
