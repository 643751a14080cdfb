/**
 * What a TLS handshake shows about the certificate served for a name: it covers the name, is not
 * expired or expiring, and chains to a trusted root. Findings are merged, so one certificate problem
 * seen on several listeners is one finding that names them all.
 */
import tls, { type TLSSocket } from 'node:tls';
import type { Finding } from './findings.js';
import type { NetInputs } from './net.js';

/** TLS findings, merged so one certificate problem seen on several listeners is one finding. */
export class TlsFindings {
  private readonly seen = new Map<string, { finding: Finding; listeners: string[] }>();
  constructor(private readonly i: NetInputs) {}

  check(socket: TLSSocket, name: string, scope: string, listener: string): void {
    const cert = socket.getPeerCertificate(true);
    const add = (f: Omit<Finding, 'scope'>) => {
      const key = `${f.id}|${scope}|${name}`;
      const entry = this.seen.get(key);
      if (entry) entry.listeners.push(listener);
      else this.seen.set(key, { finding: { ...f, scope }, listeners: [listener] });
    };
    if (!cert || !cert.raw) {
      add({
        id: 'tls.handshake',
        severity: 'error',
        summary: `no certificate for ${name}`,
        why: 'TLS cannot be used',
        observed: 'none',
        expected: 'a certificate',
        fix: `postern cert issue ${scope}`,
      });
      return;
    }
    const names = (cert.subjectaltname ?? '')
      .split(/,\s*/)
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    const issueFix = `postern cert issue ${scope === this.i.hostname ? this.i.hostname.split('.').slice(1).join('.') || scope : scope}   # with [acme] in postern.toml; or install a certificate for ${name} (certbot layout or [[tls.certificate]])`;
    if (tls.checkServerIdentity(name, cert) !== undefined) {
      add({
        id: 'tls.name-mismatch',
        severity: 'error',
        summary: `the certificate served for ${name} does not cover it`,
        why: `clients and MTA-STS/DANE senders check the name: connecting to ${name} fails with a certificate name error`,
        observed: names.join(', ') || String(cert.subject?.CN ?? '') || 'no names',
        expected: name,
        fix: issueFix,
      });
    }
    const notAfter = new Date(cert.valid_to);
    const left = notAfter.getTime() - Date.now();
    if (left <= 0) {
      add({
        id: 'tls.expired',
        severity: 'error',
        summary: `the certificate for ${name} expired on ${notAfter.toISOString().slice(0, 10)}`,
        why: 'clients refuse expired certificates, and MTA-STS senders stop delivering',
        observed: `notAfter ${notAfter.toISOString()}`,
        expected: 'a valid certificate',
        fix: `postern cert renew --force   # or renew it with certbot`,
      });
    } else if (left < this.i.expiryWarningMs) {
      add({
        id: 'tls.expiring',
        severity: 'warning',
        summary: `the certificate for ${name} expires in ${Math.floor(left / 86_400_000)} days`,
        why: 'it must be renewed before then; automatic renewal seems not to be working',
        observed: `notAfter ${notAfter.toISOString()}`,
        expected: `more than ${Math.round(this.i.expiryWarningMs / 86_400_000)} days`,
        fix: 'postern cert renew   # and check the ACME log lines',
      });
    }
    const code = socket.authorizationError
      ? String((socket.authorizationError as unknown as { code?: string }).code ?? socket.authorizationError)
      : '';
    if (/SELF_SIGNED/.test(code)) {
      add({
        id: 'tls.self-signed',
        severity: 'error',
        summary: `the certificate for ${name} is self-signed`,
        why: 'mail clients warn or refuse, and senders that verify certificates (MTA-STS) will not deliver',
        observed: `issuer ${String(cert.issuer?.CN ?? '')}`,
        expected: 'a certificate from a public CA',
        fix: issueFix,
      });
    } else if (/UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF/.test(code)) {
      add({
        id: 'tls.chain',
        severity: 'error',
        summary: `the certificate chain for ${name} does not reach a trusted root (${code})`,
        why: 'clients cannot verify the certificate: usually the intermediate certificate is missing',
        observed: `issuer ${String(cert.issuer?.CN ?? '')}`,
        expected: 'leaf and intermediates (fullchain.pem)',
        fix: 'serve fullchain.pem, not cert.pem ([[tls.certificate]] chain = ".../fullchain.pem")',
      });
    } else if (code && code !== 'CERT_HAS_EXPIRED' && code !== 'CERT_NOT_YET_VALID' && !/ALTNAME|HOSTNAME/.test(code)) {
      add({
        id: 'tls.untrusted',
        severity: 'error',
        summary: `the certificate for ${name} does not verify (${code})`,
        why: 'clients refuse it',
        observed: code,
        expected: 'a verified chain',
        fix: issueFix,
      });
    }
  }

  flush(): void {
    for (const { finding, listeners } of this.seen.values())
      this.i.findings.add({ ...finding, observed: `${finding.observed} (on ${[...new Set(listeners)].join(', ')})` });
  }
}
