/** `postern cert list|issue|renew`: the certificates every listener serves, and ACME orders. */
import { createLogger } from '../lib/log.js';
import { createResolver } from '../mail/dns/resolver.js';
import { createAcme } from '../main.js';
import { ChallengeStore } from '../services/tls/challenges.js';
import { CertificateRegistry } from '../services/tls/registry.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';
import { MailError } from '../lib/errors.js';

export async function certCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, domain, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  let code = 0;
  await withDirectory(flags, async (directory, config) => {
    const log = createLogger({ level: 'warn' });
    const acme = config.acme
      ? createAcme(config, {
          directory,
          resolve: createResolver(config.dns.resolvers),
          challenges: new ChallengeStore(config.data_dir),
          log,
        })
      : undefined;
    const needAcme = () => {
      if (!acme)
        throw new MailError(
          'INVALID_INPUT',
          'no [acme] section in the configuration: add directory and email to have certificates issued',
        );
      return acme;
    };
    switch (sub) {
      case 'list': {
        if (domain) throw new UsageError('usage: postern cert list [--json]');
        const registry = new CertificateRegistry({
          hostname: config.hostname,
          dataDir: config.data_dir,
          certbotDir: config.tls.certbot_dir,
          certificates: config.tls.certificate,
          reloadIntervalMs: 0,
          expiryWarningMs: config.tls.expiry_warning,
          log,
        });
        await registry.reload();
        const managed = new Set(((await acme?.plan()) ?? []).map((p) => p.lineage));
        const rows = registry.list().map((c) => {
          const lineage = c.source === 'certbot' ? c.chainFile.split('/').slice(-2, -1)[0] : undefined;
          return {
            names: c.names,
            issuer: commonName(c.issuer),
            notAfter: c.notAfter.toISOString(),
            daysLeft: Math.floor((c.notAfter.getTime() - Date.now()) / 86_400_000),
            source: lineage && managed.has(lineage) ? 'acme' : c.source,
            chain: c.chainFile,
          };
        });
        if (flags.json) return printJson(rows);
        printTable(
          ['NAMES', 'ISSUER', 'EXPIRES', 'DAYS', 'SOURCE'],
          rows.map((r) => [r.names.join(','), r.issuer, r.notAfter.slice(0, 10), String(r.daysLeft), r.source]),
        );
        if (rows.length === 0)
          process.stdout.write('no certificates yet: "postern serve" makes a self-signed one for the host name\n');
        return;
      }
      case 'issue': {
        if (!domain) throw new UsageError('usage: postern cert issue DOMAIN');
        const info = await needAcme()
          .issue(domain)
          .catch((err: Error) => {
            throw new MailError('INVALID_INPUT', err.message);
          });
        process.stdout.write(
          `issued ${info.names.join(', ')} by ${commonName(info.issuer)}, expires ${info.notAfter.toISOString()}\n(a running server serves it within [tls] reload_interval)\n`,
        );
        return;
      }
      case 'renew': {
        const a = needAcme();
        const targets = domain
          ? [domain]
          : (await a.status()).filter((s) => s.due || flags.force).map((s) => s.lineage);
        if (targets.length === 0) process.stdout.write('no certificate is due for renewal\n');
        for (const t of targets) {
          try {
            const info = await a.issue(t);
            process.stdout.write(`renewed ${info.names.join(', ')}, expires ${info.notAfter.toISOString()}\n`);
          } catch (err) {
            process.stderr.write(`postern: ${(err as Error).message}\n`);
            code = 1;
          }
        }
        return;
      }
      default:
        throw new UsageError('usage: postern cert list [--json] | issue DOMAIN | renew [DOMAIN] [--force]');
    }
  });
  return code;
}

function commonName(dn: string): string {
  return /(?:^|\n)CN=([^\n]+)/.exec(dn)?.[1] ?? dn.replace(/\n/g, ', ');
}
