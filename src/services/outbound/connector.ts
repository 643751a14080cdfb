/**
 * Opening the SMTP client connection of one delivery attempt. To a smarthost: its TLS policy (implicit
 * TLS, STARTTLS required or opportunistic, none) and login, never a password in the clear. To the MX
 * hosts (RFC 5321 §5.1, RFC 7505 null MX): MTA-STS (RFC 8461) filters the hosts and requires a valid
 * certificate when enforced, DANE (RFC 7672) checks the certificate against validated TLSA records,
 * and each TLS result is recorded for TLS-RPT. Set-up in progress is cut off at shutdown.
 */
import type { TLSSocket } from 'node:tls';
import { rootCertificates } from 'node:tls';
import mxConnect, { type MxConnection } from 'mx-connect';
import { verifyCertAgainstTlsa } from 'mx-connect/lib/dane.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { RelayTarget } from '../../config/schema.js';
import { isLoopbackHost } from '../../lib/ip.js';
import type { TlsaRecord } from '../../mail/dns/tlsa.js';
import type { MtaStsPolicy } from './mta-sts.js';
import type { OutboundDeps, OutboundOptions } from './options.js';
import { connect, DeliveryError, describe, destroyConnection, Session } from './session.js';

export class Connector {
  /** Connections still being set up (greeting, STARTTLS, login): cut off at shutdown too. */
  private readonly opening = new Set<() => void>();

  constructor(
    private readonly options: OutboundOptions,
    private readonly deps: OutboundDeps,
    /** Whether the service is shutting down: no new connection is set up then. */
    private readonly isStopping: () => boolean,
  ) {}

  /** A connection for mail to `domain`: through `relay` when one applies, else to the domain's MX. */
  async open(domain: string, relay: RelayTarget | undefined): Promise<Session> {
    if (relay) return this.openRelay(relay);
    return this.openMx(domain);
  }

  /** Shutdown: closes every connection still being set up. */
  abortOpening(): void {
    for (const abort of this.opening) abort();
  }

  private common() {
    return {
      name: this.options.heloName,
      connectionTimeout: this.options.connectTimeoutMs,
      greetingTimeout: this.options.commandTimeoutMs,
      socketTimeout: this.options.commandTimeoutMs,
      ...(this.options.sourceAddress ? { localAddress: this.options.sourceAddress } : {}),
    };
  }

  /**
   * A connection to the smarthost with its TLS policy: implicit TLS (smtps://), STARTTLS required,
   * STARTTLS when the relay offers it, or none. A relay that does not offer STARTTLS where it is
   * required is a temporary failure that says so, and no password is sent to it.
   */
  private async openRelay(relay: RelayTarget): Promise<Session> {
    const conn = new SMTPConnection({
      ...this.common(),
      host: relay.host,
      port: relay.port,
      secure: relay.tls === 'implicit',
      ...(relay.tls === 'none' ? { ignoreTLS: true } : relay.tls === 'implicit' ? {} : { opportunisticTLS: true }),
      // "may" is opportunistic, as Postfix's smtp_tls_security_level = may: encrypted when offered,
      // the certificate unchecked; "required" and smtps:// check it, and so does a relay off loopback
      // that is sent a password (to whoever answered in its place, it would be given away).
      tls: {
        servername: relay.host,
        rejectUnauthorized: relay.tls !== 'may' || (relay.user !== undefined && !isLoopbackHost(relay.host)),
        ...this.caOption(),
      },
    });
    return this.whileOpening(conn, () => this.setUpRelay(conn, relay));
  }

  private async setUpRelay(conn: SMTPConnection, relay: RelayTarget): Promise<Session> {
    await connect(conn, relay.host);
    if (relay.tls === 'required' && !conn.secure) {
      conn.close();
      const reason = `relay ${relay.host}:${relay.port} does not offer STARTTLS, required by [outbound] smarthost (add "?tls=may" to allow it in the clear)`;
      this.deps.log.warn({ relay: relay.host, port: relay.port }, reason);
      throw new DeliveryError(`4.7.10 ${reason}`, false, relay.host);
    }
    if (relay.user && !conn.secure && !isLoopbackHost(relay.host)) {
      // As Postfix's smtp_sasl_security_options = noplaintext: a password never crosses the network in the clear.
      conn.close();
      const reason = `relay ${relay.host}:${relay.port} is not encrypted, so the password in [outbound] smarthost is not sent to it (use STARTTLS or smtps://)`;
      this.deps.log.warn({ relay: relay.host, port: relay.port }, reason);
      throw new DeliveryError(`4.7.10 ${reason}`, false, relay.host);
    }
    if (relay.user) {
      await new Promise<void>((resolve, reject) =>
        conn.login({ user: relay.user!, pass: relay.pass ?? '' }, (err) =>
          err
            ? reject(new DeliveryError(`relay ${relay.host} refused our login: ${describe(err)}`, false, relay.host))
            : resolve(),
        ),
      );
    }
    return new Session(conn, relay.host);
  }

  /**
   * Runs a connection's set-up (greeting, STARTTLS, login) where stop() can cut it off; a set-up
   * that fails closes its connection.
   */
  private async whileOpening(
    conn: SMTPConnection,
    setUp: () => Promise<Session>,
    socket?: { destroy(): void },
  ): Promise<Session> {
    const close = () => {
      destroyConnection(conn);
      socket?.destroy(); // given to conn, which has not taken it if set-up never began
    };
    let cut!: () => void;
    const cutOff = new Promise<never>(
      (_, reject) => (cut = () => reject(new DeliveryError('4.4.2 connection closed at shutdown', false))),
    );
    const abort = () => {
      close();
      cut(); // a login or STARTTLS in progress may never call back on a closed connection
    };
    this.opening.add(abort);
    try {
      if (this.isStopping()) throw new DeliveryError('4.4.2 not delivering: shutting down', false);
      const setting = setUp();
      setting.catch(() => undefined); // when cut off first, its own failure is of no interest
      return await Promise.race([setting, cutOff]);
    } catch (err) {
      close();
      throw err;
    } finally {
      this.opening.delete(abort);
    }
  }

  private caOption(): { ca?: string[] } {
    return this.options.extraCa.length ? { ca: [...rootCertificates, ...this.options.extraCa] } : {};
  }

  /** RFC 5321 §5.1: MX records by preference, else the domain's own address; RFC 7505 null MX refuses. */
  private async mxHosts(domain: string): Promise<Array<{ exchange: string; priority: number }>> {
    let records: Array<{ exchange: string; priority: number }>;
    try {
      records = (await this.deps.resolve(domain, 'MX')) as Array<{ exchange: string; priority: number }>;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOTFOUND')
        throw new DeliveryError(`5.1.2 domain ${domain} does not exist (DNS: no such domain)`, true);
      if (code !== 'ENODATA')
        throw new DeliveryError(`4.4.3 DNS lookup of the MX of ${domain} failed: ${code ?? describe(err)}`, false);
      records = [];
    }
    if (records.some((r) => r.exchange === '' || r.exchange === '.')) {
      if (records.length === 1) throw new DeliveryError(`5.1.10 ${domain} accepts no mail (null MX, RFC 7505)`, true);
      records = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
    }
    if (records.length === 0) return [{ exchange: domain, priority: 0 }];
    return records
      .map((r) => ({ exchange: r.exchange.replace(/\.$/, '').toLowerCase(), priority: r.priority }))
      .sort((a, b) => a.priority - b.priority);
  }

  private async openMx(domain: string): Promise<Session> {
    let mx = await this.mxHosts(domain);
    const policy = this.deps.mtaSts ? await this.deps.mtaSts.policy(domain) : undefined;
    const enforce = policy?.mode === 'enforce';
    if (policy && policy.mode !== 'none') {
      const allowed = mx.filter((m) => this.deps.mtaSts!.matches(m.exchange, policy));
      if (allowed.length === 0) {
        await this.tlsResult(domain, 'sts', mx[0]?.exchange ?? domain, 'validation-failure');
        if (enforce)
          throw new DeliveryError(
            `4.7.5 no MX host of ${domain} is allowed by its MTA-STS policy (${policy.mx.join(', ')})`,
            false,
          );
      } else if (enforce) mx = allowed;
    }
    const resolve = this.deps.resolve;
    let connection: MxConnection;
    try {
      connection = await mxConnect({
        target: domain,
        port: this.options.port,
        mx,
        maxConnectTime: this.options.connectTimeoutMs,
        ...(this.options.sourceAddress ? { localAddress: this.options.sourceAddress } : {}),
        localHostname: this.options.heloName,
        dnsOptions: {
          resolve: (name, type, cb) => {
            const [rr, done] = typeof type === 'function' ? ['A', type] : [type, cb!];
            resolve(name, rr).then(
              (r) => done(null, r),
              (e: Error) => done(e),
            );
          },
        },
        dane: {
          enabled: this.options.dane,
          verify: false,
          // RFC 7672 §2.2: only TLSA records the resolver validated count; insecure ones are ignored.
          resolveTlsa: async (name) => {
            const answer = await this.deps.tlsa(name);
            return answer.authenticated ? answer.records : [];
          },
        },
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new DeliveryError(
        `4.4.1 cannot connect to the MX of ${domain} (${mx.map((m) => m.exchange).join(', ')}): ${code ? `${code} ` : ''}${describe(err)}`,
        false,
      );
    }
    const tlsa = (connection.tlsaRecords ?? []).filter((r) => r.usage === 2 || r.usage === 3) as TlsaRecord[];
    const dane = this.options.dane && tlsa.length > 0;
    const requireTls = dane || enforce;
    const conn = new SMTPConnection({
      ...this.common(),
      connection: connection.socket,
      host: connection.host,
      port: connection.port,
      secure: false,
      requireTLS: requireTls,
      opportunisticTLS: !requireTls,
      tls: {
        servername: connection.hostname,
        // MTA-STS (RFC 8461 §4.2) validates the certificate for the MX name; DANE checks TLSA below.
        rejectUnauthorized: enforce && !dane,
        ...this.caOption(),
      },
    });
    return this.whileOpening(
      conn,
      () => this.setUpMx(conn, connection, { domain, policy, enforce, dane, tlsa }),
      connection.socket,
    );
  }

  private async setUpMx(
    conn: SMTPConnection,
    connection: MxConnection,
    p: { domain: string; policy: MtaStsPolicy | undefined; enforce: boolean; dane: boolean; tlsa: TlsaRecord[] },
  ): Promise<Session> {
    const { domain, policy, enforce, dane, tlsa } = p;
    try {
      await connect(conn, connection.hostname);
    } catch (err) {
      if (dane) await this.tlsResult(domain, 'tlsa', connection.hostname, 'starttls-not-supported');
      else if (enforce) await this.tlsResult(domain, 'sts', connection.hostname, 'certificate-host-mismatch');
      throw err instanceof DeliveryError ? err : new DeliveryError(describe(err), false, connection.hostname);
    }
    const socket = (conn as unknown as { _socket?: TLSSocket })._socket;
    const secure = Boolean(conn.secure);
    if (dane) {
      const peer = secure ? socket?.getPeerX509Certificate() : undefined;
      // mx-connect re-derives the SPKI with createPublicKey(cert.publicKey), which on Node 20 takes a PEM, not a KeyObject.
      const cert = peer && { raw: peer.raw, publicKey: peer.publicKey.export({ type: 'spki', format: 'pem' }) };
      const check = cert ? verifyCertAgainstTlsa(cert, tlsa) : { valid: false, error: 'no TLS' };
      if (!check.valid) {
        conn.close();
        await this.tlsResult(domain, 'tlsa', connection.hostname, 'tlsa-invalid');
        throw new DeliveryError(
          `4.7.5 the certificate of ${connection.hostname} matches none of its DANE TLSA records (${check.error ?? 'mismatch'}); not delivering`,
          false,
          connection.hostname,
        );
      }
    }
    await this.tlsResult(
      domain,
      dane ? 'tlsa' : enforce || policy?.mode === 'testing' ? 'sts' : 'no-policy-found',
      connection.hostname,
      secure ? 'success' : 'no-tls',
    );
    return new Session(conn, connection.hostname);
  }

  private async tlsResult(policyDomain: string, policyType: string, mxHost: string, result: string): Promise<void> {
    await this.deps.store.queue.recordTls([{ policyDomain, policyType, mxHost, result }]).catch(() => undefined);
  }
}
