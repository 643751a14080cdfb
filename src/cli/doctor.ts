/** `postern doctor [DOMAIN...] [--json] [--resolver ADDR] [--probe URL]`: exit 0 clean, 1 warnings, 2 errors. */
import { parseListenAddress, type ListenerName } from '../config/schema.js';
import { MailError } from '../lib/errors.js';
import { getHttpsText } from '../lib/https-text.js';
import { createLogger } from '../lib/log.js';
import { parseDuration } from '../lib/units.js';
import { normalizeDomain } from '../mail/address.js';
import { createResolver } from '../mail/dns/resolver.js';
import { runDoctor, type DoctorReport, type Finding } from '../services/doctor/index.js';
import { CertificateRegistry } from '../services/tls/registry.js';
import { withDirectory } from './context.js';
import { detectPublicAddresses, recordInputs } from '../compose/records.js';
import type { Flags } from './main.js';
import { printJson, UsageError } from './output.js';

const DNSBLS = ['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org'];
const LISTENERS: ListenerName[] = [
  'smtp',
  'submission',
  'submissions',
  'lmtp',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'http',
  'https',
];

export async function doctorCommand(flags: Flags, args: string[]): Promise<number> {
  const timeoutMs = flags.timeout === undefined ? 10_000 : parseDuration(flags.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError('--timeout takes a duration such as "10s"');
  if (flags.probe !== undefined && !/^https?:\/\//.test(flags.probe))
    throw new UsageError('--probe takes an http:// or https:// URL');
  const outboundTarget =
    flags['outbound-probe'] === undefined
      ? undefined
      : (parseListenAddress(flags['outbound-probe']) ?? hostPort(flags['outbound-probe']));
  if (flags['outbound-probe'] !== undefined && !outboundTarget)
    throw new UsageError('--outbound-probe takes HOST:PORT');
  let report: DoctorReport | undefined;
  await withDirectory(flags, async (_dir, config, store) => {
    const resolve = createResolver(flags.resolver ? [flags.resolver] : config.dns.resolvers, {
      timeoutMs: Math.min(timeoutMs, 5000),
    });
    const hosted = await store.domains.list();
    const names = args.length
      ? args.map((a) => {
          const n = normalizeDomain(a, { requireDot: true });
          if (!n.ok) throw new MailError('INVALID_INPUT', `"${a}" ${n.reason}`);
          if (!hosted.some((d) => d.name === n.domain))
            throw new MailError('DOMAIN_NOT_FOUND', `domain ${n.domain} is not hosted (postern domain list)`);
          return n.domain;
        })
      : hosted.map((d) => d.name);
    const publicAddresses = config.dns.public_addresses.length ? config.dns.public_addresses : detectPublicAddresses();
    const domains = await Promise.all(
      names.map(async (name) => {
        const keys = await store.dkim.list(name);
        return {
          name,
          aliasOf: hosted.find((d) => d.name === name)?.aliasOf ?? null,
          dkimKeys: keys,
          records: recordInputs(config, name, keys, publicAddresses),
        };
      }),
    );
    const registry = new CertificateRegistry({
      hostname: config.hostname,
      dataDir: config.data_dir,
      certbotDir: config.tls.certbot_dir,
      certificates: config.tls.certificate,
      reloadIntervalMs: 0,
      expiryWarningMs: config.tls.expiry_warning,
      log: createLogger({ level: 'silent' }),
    });
    await registry.reload();
    const listeners = LISTENERS.flatMap((name) =>
      config.listen[name].flatMap((text) => {
        const a = parseListenAddress(text)!;
        if (a.port === 0) return [];
        const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
        return [{ name, host, port: a.port }];
      }),
    );
    const httpsTarget = listeners.find((l) => l.name === 'https');
    let outbound = outboundTarget;
    if (!outbound && !config.outbound.smarthost) {
      // Outgoing port 25 is tested against a large receiver's MX, as an admin would with telnet.
      const mx = (await resolve('gmail.com', 'MX').catch(() => [])) as Array<{ exchange: string; priority: number }>;
      const first = mx.sort((a, b) => a.priority - b.priority)[0];
      if (first) outbound = { host: first.exchange, port: 25 };
    }
    report = await runDoctor({
      hostname: config.hostname,
      heloName: config.outbound.helo_name || config.hostname,
      publicAddresses,
      domains,
      listeners,
      certificateFiles: (await registry.sources()).filter((s) => s.source !== 'self-signed'),
      certificateNames: registry.list().map((c) => c.names),
      allowPlaintextAuth: config.tls.allow_plaintext_auth,
      expiryWarningMs: config.tls.expiry_warning,
      dnsbls:
        flags.dnsbl !== undefined
          ? flags.dnsbl
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : DNSBLS,
      probeUrl: flags.probe,
      outboundTarget: outbound,
      timeoutMs,
      resolve,
      fetchPolicy: (domain) =>
        httpsTarget
          ? fetchPolicy(httpsTarget.host, httpsTarget.port, `mta-sts.${domain}`, timeoutMs)
          : Promise.resolve({ error: 'no [listen] https listener' }),
    });
  });
  const r = report!;
  if (flags.json) printJson(r);
  else process.stdout.write(render(r, process.stdout.isTTY === true && !process.env.NO_COLOR));
  return r.counts.error ? 2 : r.counts.warning ? 1 : 0;
}

function hostPort(text: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/** RFC 8461 §3.3: the policy over HTTPS from this server, with SNI and Host set to mta-sts.D. */
function fetchPolicy(
  host: string,
  port: number,
  name: string,
  timeoutMs: number,
): Promise<{ status: number; body: string } | { error: string }> {
  return getHttpsText({
    host,
    port,
    servername: name,
    path: '/.well-known/mta-sts.txt',
    rejectUnauthorized: false,
    timeoutMs,
    maxBytes: 65_536,
  }).catch((err: Error) => ({ error: err.message }));
}

const COLOURS = {
  error: '\x1b[31m',
  warning: '\x1b[33m',
  info: '\x1b[36m',
  ok: '\x1b[32m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
  bold: '\x1b[1m',
};

/** Grouped by domain (the server's own checks first), each finding with why, observed, expected and the fix. */
export function render(r: DoctorReport, colour: boolean): string {
  const c = (k: keyof typeof COLOURS, s: string) => (colour ? `${COLOURS[k]}${s}${COLOURS.reset}` : s);
  const out: string[] = [
    c('bold', `postern doctor: ${r.hostname}${r.publicAddresses.length ? ` (${r.publicAddresses.join(', ')})` : ''}`),
    '',
  ];
  const scopes = [...new Set([r.hostname, ...r.findings.map((f) => f.scope)])];
  for (const scope of scopes) {
    const list = r.findings.filter((f) => f.scope === scope);
    out.push(c('bold', scope === r.hostname ? `${scope} (server)` : scope));
    if (list.length === 0) out.push(`  ${c('ok', 'ok')}`);
    for (const f of list) out.push(...renderFinding(f, c));
    out.push('');
  }
  if (r.clientSettings.length) {
    out.push(
      c(
        'bold',
        'Mail clients must use these names (never an internal name or an IP address, or the certificate check fails):',
      ),
    );
    for (const s of r.clientSettings) out.push(`  ${s.service.padEnd(28)} ${s.host}:${s.port}`);
    out.push('');
  }
  const { error, warning, info } = r.counts;
  out.push(
    error + warning + info === 0
      ? c('ok', 'no problems found')
      : `${c('error', `${error} error(s)`)}, ${c('warning', `${warning} warning(s)`)}, ${c('info', `${info} note(s)`)}`,
  );
  return `${out.join('\n')}\n`;
}

function renderFinding(f: Finding, c: (k: keyof typeof COLOURS, s: string) => string): string[] {
  const label = { error: 'ERROR', warning: 'WARN ', info: 'NOTE ' }[f.severity];
  const indent = (s: string) =>
    s
      .split('\n')
      .map((l) => `        ${l}`)
      .join('\n');
  return [
    `  ${c(f.severity, label)} ${f.summary} ${c('dim', `[${f.id}]`)}`,
    `      why:      ${f.why}`,
    `      observed: ${f.observed}`,
    `      expected: ${f.expected}`,
    `      fix:`,
    indent(f.fix),
  ];
}
