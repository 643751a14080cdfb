/**
 * TCP listeners from [listen]: plain (with STARTTLS available to the session) or implicit TLS, with
 * per-listener and per-IP connection limits, connection ids, and graceful shutdown. Protocol-agnostic:
 * each listener gets a session factory from main.ts.
 */
import { randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { sourceKey } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';
import { parseClientHello, type ClientHello } from '../lib/tls-hello.js';
import type { Connection, Session, SessionFactory, TlsInfo } from '../protocols/shared/connection.js';

export interface TlsProvider {
  contextFor(servername?: string): SecureContext;
  sniCallback(servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void;
  /** The TLS-ALPN-01 challenge certificate (RFC 8737) for `servername`, while an ACME order waits on it. */
  alpnChallenge?(servername: string): Promise<SecureContext | undefined>;
}

/** RFC 8737 §6.2: the ALPN protocol of TLS-ALPN-01 validation handshakes. */
export const ACME_TLS_ALPN = 'acme-tls/1';

export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
  isImplicitTls: boolean;
  factory: SessionFactory;
  /** Written to a plain connection refused for being over a limit (e.g. "421 4.7.0 Too many connections\r\n"). */
  busyReply?: string;
  /** Answer ACME TLS-ALPN-01 validation handshakes here (the HTTPS listener: RFC 8737 §3 uses port 443). */
  answersAcmeTlsAlpn?: boolean;
  /** ALPN protocols offered after an implicit TLS handshake, e.g. ["http/1.1"]. */
  alpnProtocols?: string[];
}

export interface ListenerLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** IPv6 clients are counted per prefix of this length. */
  ipv6Prefix: number;
  tlsHandshakeTimeoutMs: number;
  shutdownTimeoutMs: number;
}

export interface BoundListener {
  name: string;
  host: string;
  port: number;
  isImplicitTls: boolean;
}

export interface Listeners {
  readonly bound: BoundListener[];
  /** Open connections, all listeners. */
  connectionCount(): number;
  /** Stops accepting, asks sessions to finish, and closes what is left after the timeout. */
  close(timeoutMs?: number): Promise<void>;
}

interface Live {
  conn: ConnectionImpl;
  session: Session | undefined;
  done: Promise<void>;
}

export async function startListeners(
  specs: ListenerSpec[],
  deps: { tls: TlsProvider; limits: ListenerLimits; log: Logger },
): Promise<Listeners> {
  const servers: net.Server[] = [];
  const bound: BoundListener[] = [];
  const live = new Set<Live>();
  let isClosing = false;

  const startOne = (spec: ListenerSpec): Promise<void> => {
    const perIp = new Map<string, number>();
    let open = 0;
    const server = net.createServer({ pauseOnConnect: false, noDelay: true }, (raw) => {
      const ip = sourceKey(raw.remoteAddress ?? 'unknown', deps.limits.ipv6Prefix);
      if (isClosing || open >= deps.limits.maxConnections || (perIp.get(ip) ?? 0) >= deps.limits.maxConnectionsPerIp) {
        deps.log.warn(
          { listener: spec.name, remote: raw.remoteAddress, source: ip, open, perIp: perIp.get(ip) ?? 0 },
          isClosing ? 'connection refused: shutting down' : 'connection refused: limit reached',
        );
        if (spec.busyReply && !spec.isImplicitTls) raw.end(spec.busyReply);
        else raw.destroy();
        return;
      }
      open++;
      perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
      // Counted until the raw socket closes. A library that upgrades the socket itself (smtp-server's
      // STARTTLS) removes the raw socket's listeners, so the end of the session attaches it again.
      let isCounted = true;
      const uncount = () => {
        if (!isCounted) return;
        isCounted = false;
        open--;
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n === 0) perIp.delete(ip);
        else perIp.set(ip, n);
      };
      raw.once('close', uncount);
      raw.on('error', () => {}); // reported by the session or the close below
      const conn = new ConnectionImpl(raw, spec.name, deps.tls, deps.limits.tlsHandshakeTimeoutMs, deps.log, spec);
      const entry: Live = { conn, session: undefined, done: Promise.resolve() };
      live.add(entry);
      entry.done = (async () => {
        try {
          if (spec.isImplicitTls) await conn.startTls();
          if (conn.isAcmeValidation) {
            conn.log.info(
              { remote: conn.remoteAddress, servername: conn.tlsInfo()?.servername },
              'answered an ACME TLS-ALPN-01 validation',
            );
            return;
          }
          conn.log.info({ remote: conn.remoteAddress, port: conn.remotePort, tls: conn.tlsInfo() }, 'connected');
          entry.session = spec.factory(conn);
          await entry.session.run();
        } catch (err) {
          conn.log.info({ reason: (err as Error).message }, 'connection ended with an error');
        } finally {
          conn.close();
          live.delete(entry);
          // The place is held until the socket is gone (at most the 2 s close() gives a peer that
          // does not read), so closing sessions fast cannot hold more than the limit; the listener
          // is added again in case a library removed it (smtp-server's STARTTLS does).
          if (raw.destroyed) uncount();
          else raw.once('close', uncount);
          conn.log.info({}, 'disconnected');
        }
      })();
    });
    server.maxConnections = deps.limits.maxConnections + 16; // our own check answers first
    servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`cannot listen on ${spec.host}:${spec.port} for ${spec.name}: ${(err as Error).message}`)),
      );
      server.listen({ host: spec.host, port: spec.port }, () => {
        const addr = server.address() as net.AddressInfo;
        bound.push({ name: spec.name, host: addr.address, port: addr.port, isImplicitTls: spec.isImplicitTls });
        deps.log.info(
          {
            listener: spec.name,
            address: `${addr.address}:${addr.port}`,
            tls: spec.isImplicitTls ? 'implicit' : 'starttls',
          },
          'listening',
        );
        resolve();
      });
    });
  };

  const closeAll = async (timeoutMs = deps.limits.shutdownTimeoutMs): Promise<void> => {
    isClosing = true;
    // server.close() calls back only once every connection is gone: wait for that last.
    const stopped = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const entry of live) {
      try {
        entry.session?.shutdown();
      } catch (err) {
        entry.conn.log.warn({ reason: (err as Error).message }, 'session shutdown failed');
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...live].map((e) => e.done)), timeout]);
    clearTimeout(timer);
    for (const entry of live) entry.conn.destroy();
    await stopped;
  };

  try {
    for (const spec of specs) await startOne(spec);
  } catch (err) {
    await closeAll(0);
    throw err;
  }
  return { bound, connectionCount: () => live.size, close: closeAll };
}

class ConnectionImpl implements Connection {
  readonly cid = randomBytes(6).toString('base64url');
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly log: Logger;
  socket: Socket | TLSSocket;
  /** The handshake was an ACME validation server's: no session follows. */
  isAcmeValidation = false;

  constructor(
    private readonly raw: Socket,
    readonly listener: string,
    private readonly tls: TlsProvider,
    private readonly handshakeTimeoutMs: number,
    log: Logger,
    private readonly spec: Pick<ListenerSpec, 'answersAcmeTlsAlpn' | 'alpnProtocols'> = {},
  ) {
    this.socket = raw;
    this.remoteAddress = normalizeIp(raw.remoteAddress ?? '');
    this.remotePort = raw.remotePort ?? 0;
    this.localAddress = normalizeIp(raw.localAddress ?? '');
    this.localPort = raw.localPort ?? 0;
    this.log = log.child({ cid: this.cid, listener });
  }

  get isTls(): boolean {
    return this.socket instanceof TLSSocket;
  }

  tlsInfo(): TlsInfo | undefined {
    if (!(this.socket instanceof TLSSocket)) return undefined;
    const s = this.socket as TLSSocket & { servername?: string | false };
    return {
      protocol: s.getProtocol() ?? 'unknown',
      cipher: s.getCipher()?.name ?? 'unknown',
      servername: s.servername || undefined,
    };
  }

  async startTls(): Promise<void> {
    if (this.socket instanceof TLSSocket) throw new Error('TLS is already active');
    const plain = this.socket;
    const started = Date.now();
    let challenge: SecureContext | undefined;
    if (this.spec.answersAcmeTlsAlpn && this.tls.alpnChallenge) {
      const hello = await peekClientHello(plain, this.handshakeTimeoutMs);
      if (hello?.servername && hello.alpn.includes(ACME_TLS_ALPN))
        challenge = await this.tls.alpnChallenge(hello.servername);
    }
    const secure = challenge
      ? // RFC 8737 §3: the validation handshake negotiates acme-tls/1 and gets the challenge certificate.
        new TLSSocket(plain, { isServer: true, secureContext: challenge, ALPNProtocols: [ACME_TLS_ALPN] })
      : new TLSSocket(plain, {
          isServer: true,
          secureContext: this.tls.contextFor(undefined),
          SNICallback: (name, cb) => this.tls.sniCallback(name, cb),
          ...(this.spec.alpnProtocols ? { ALPNProtocols: this.spec.alpnProtocols } : {}),
        });
    this.isAcmeValidation = challenge !== undefined;
    this.socket = secure;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error('TLS handshake timed out')),
        Math.max(1, this.handshakeTimeoutMs - (Date.now() - started)),
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.log.info({ reason: err.message }, 'TLS handshake failed');
        secure.destroy();
        plain.destroy();
        reject(err);
      };
      secure.once('secure', () => {
        clearTimeout(timer);
        secure.off('error', fail);
        secure.on('error', () => {}); // reported by the session through read errors and close
        resolve();
      });
      secure.once('error', fail);
    });
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    // A peer that never reads must not keep the socket alive.
    setTimeout(() => this.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }
}

/** Socket reads a ClientHello may take (64 KB in full-size TCP segments is 45). */
const MAX_HELLO_READS = 64;

/**
 * Reads the ClientHello off a plain socket and puts it back for the TLS layer (which takes bytes
 * already buffered on the socket). Undefined when the bytes are not a hello or time runs out.
 */
function peekClientHello(socket: Socket, timeoutMs: number): Promise<ClientHello | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let reads = 0;
    const done = (hello: ClientHello | undefined) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (buf.length) socket.unshift(buf);
      resolve(hello);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // A hello trickled in tiny pieces is not worth re-reading each time: the handshake gets it as it is.
      const r = ++reads > MAX_HELLO_READS ? undefined : parseClientHello(buf);
      if (r !== 'more') done(r);
    };
    const onClose = () => done(undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
