/**
 * The two stacks bench:compare measures, behind one shape: Postern (one process), and Postfix →
 * LMTP → Dovecot from Debian's packages, configured from bench/templates/ in a temp directory on
 * ports chosen at run time. Nothing system-wide is touched: both run with their own config,
 * queue, state and log directories, and are stopped at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../src/services/auth/password.js';
import { freePort } from '../test/helpers/cli.js';
import { startPostern } from './lib.js';

export const USERS = [
  { user: 'bench@example.com', pass: 'bench password 1' },
  { user: 'imap@example.com', pass: 'bench password 1' },
];

export interface Stack {
  name: 'postern' | 'postfix+dovecot';
  smtpPort: number;
  imapPort: number;
  /** Every process of the stack, for memory figures. */
  pids(): number[];
  /** Runs `postern` against the stack's config (Postern only). */
  cli?: (...args: string[]) => void;
  stop(): Promise<void>;
}

/** What bench:compare needs from Debian, with the package that provides it. */
export function missingPeers(): string[] {
  const need: Array<[string, string]> = [
    ['/usr/sbin/postfix', 'postfix'],
    ['/usr/sbin/dovecot', 'dovecot-core'],
    ['/usr/lib/dovecot/imap', 'dovecot-imapd'],
    ['/usr/lib/dovecot/pop3', 'dovecot-pop3d'],
    ['/usr/lib/dovecot/lmtp', 'dovecot-lmtpd'],
  ];
  return need.filter(([file]) => !existsSync(file)).map(([, pkg]) => pkg);
}

/** `extraConfig`: TOML appended to the bench config (sections after [limits]), e.g. a [filter] variant. */
export async function startPosternStack(extraConfig = ''): Promise<Stack> {
  const server = await startPostern(['smtp', 'imap'], { plaintextAuth: true, extraConfig });
  server.cli('account', 'add', USERS[1]!.user, '--password-stdin');
  return {
    name: 'postern',
    smtpPort: server.port('smtp'),
    imapPort: server.port('imap'),
    pids: () => [server.child.pid!],
    cli: (...args) => server.cli(...args),
    stop: () => server.stop(),
  };
}

export async function startPeerStack(): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-peer-'));
  chmodSync(dir, 0o755); // Postfix and Dovecot drop to their own users, which must reach their directories
  const ports = {
    SMTP_PORT: await freePort(),
    LMTP_PORT: await freePort(),
    IMAP_PORT: await freePort(),
    POP3_PORT: await freePort(),
  };
  const mailUser = userInfo().uid === 0 ? idOf('mail') : { uid: userInfo().uid, gid: userInfo().gid };
  const vars: Record<string, string | number> = { DIR: dir, UID: mailUser.uid, GID: mailUser.gid, ...ports };
  const render = (template: string) =>
    readFileSync(path.join(import.meta.dirname, 'templates', template), 'utf8').replace(
      /\{\{(\w+)\}\}/g,
      (_, k: string) => String(vars[k]),
    );
  for (const d of ['postfix/etc', 'postfix/queue', 'postfix/data', 'dovecot/run', 'dovecot/state', 'mail'])
    mkdirSync(path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, 'postfix/etc/main.cf'), render('main.cf'));
  writeFileSync(path.join(dir, 'postfix/etc/master.cf'), render('master.cf'));
  writeFileSync(path.join(dir, 'dovecot/dovecot.conf'), render('dovecot.conf'));
  // The same argon2id hash Postern stores (same parameters), so a login costs both sides the same.
  const lines = await Promise.all(USERS.map(async (u) => `${u.user}:{ARGON2ID}${await hashPassword(u.pass)}`));
  writeFileSync(path.join(dir, 'dovecot/passwd'), lines.join('\n') + '\n', { mode: 0o644 });
  chownSync(path.join(dir, 'mail'), mailUser.uid, mailUser.gid);
  chownSync(path.join(dir, 'postfix/data'), idOf('postfix').uid, idOf('postfix').gid);
  // Dovecot daemonizes; its processes keep inherited pipes open, so none are given.
  execFileSync('/usr/sbin/dovecot', ['-c', path.join(dir, 'dovecot/dovecot.conf')], { stdio: 'ignore' });
  // postfix prints its errors only to a terminal or syslog: run it under script(1) to see them.
  const started = spawnSync('script', ['-qec', `/usr/sbin/postfix -c ${dir}/postfix/etc start`, '/dev/null'], {
    encoding: 'utf8',
    input: '',
    timeout: 60_000,
  });
  if (started.status !== 0) throw new Error(`postfix did not start: ${started.stdout}${started.stderr}`);
  await waitForPort(ports.SMTP_PORT);
  await waitForPort(ports.IMAP_PORT);
  const masterPid = (file: string) => Number(readFileSync(file, 'utf8').trim());
  return {
    name: 'postfix+dovecot',
    smtpPort: ports.SMTP_PORT,
    imapPort: ports.IMAP_PORT,
    pids: () => [
      ...descendants(masterPid(path.join(dir, 'dovecot/run/master.pid'))),
      ...descendants(masterPid(path.join(dir, 'postfix/queue/pid/master.pid'))),
    ],
    async stop() {
      spawnSync('script', ['-qec', `/usr/sbin/postfix -c ${dir}/postfix/etc stop`, '/dev/null'], {
        input: '',
        timeout: 60_000,
      });
      try {
        process.kill(masterPid(path.join(dir, 'dovecot/run/master.pid')), 'SIGTERM');
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 1000));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function idOf(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user} (is the package installed?)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A process and all its descendants, from /proc. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/** Total RSS and PSS (shared pages divided among the processes sharing them) in bytes. */
export function memoryOf(pids: number[]): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024;
    } catch {
      /* exited */
    }
  }
  return { rss, pss };
}

async function waitForPort(port: number): Promise<void> {
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}
