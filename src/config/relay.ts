/**
 * Relay addresses of [outbound] smarthost and sender_smarthost: "host:port", "smtp://[user:pass@]host[:port]"
 * or "smtps://…", with the TLS policy Postfix's smtp_tls_security_level would apply.
 */
import { isLoopbackHost } from '../lib/ip.js';

/** How a relay's connection is protected: implicit TLS, STARTTLS required, STARTTLS when offered, or none. */
export type RelayTls = 'implicit' | 'required' | 'may' | 'none';

export interface RelayTarget {
  host: string;
  port: number;
  tls: RelayTls;
  user?: string;
  pass?: string;
}

export function parseRelay(value: string): RelayTarget | undefined {
  const [address, query = ''] = value.split('?', 2) as [string, string | undefined];
  const asked = /^(?:tls=(required|may|none))?$/.exec(query);
  if (!asked) return undefined;
  let target: RelayTarget;
  if (!address.includes('://')) {
    const m = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(address);
    if (!m) return undefined;
    target = { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2] ?? 587), tls: 'may' };
  } else {
    try {
      const url = new URL(address);
      if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return undefined;
      const isImplicit = url.protocol === 'smtps:';
      target = {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : isImplicit ? 465 : 587,
        tls: isImplicit ? 'implicit' : 'may',
      };
      if (url.username) target.user = decodeURIComponent(url.username);
      if (url.password) target.pass = decodeURIComponent(url.password);
    } catch {
      return undefined;
    }
  }
  if (!target.host) return undefined;
  if (target.tls === 'implicit') return asked[1] === undefined ? target : undefined; // smtps:// is always TLS
  // Postfix's smtp_tls_security_level: a password never crosses the network in the clear, and mail
  // leaving this host is encrypted unless the admin says otherwise; a relay on loopback may be plain.
  target.tls = (asked[1] as RelayTls | undefined) ?? (target.user || !isLoopbackHost(target.host) ? 'required' : 'may');
  return target;
}
