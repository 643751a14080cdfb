/**
 * TCP listeners from [listen]: plain (with STARTTLS available to the session) or implicit TLS, with
 * per-listener and per-IP connection limits, connection ids, and graceful shutdown. Protocol-agnostic:
 * each listener gets a session factory from main.ts. The connection itself (addresses, TLS, SNI,
 * TLS-ALPN-01) is connection.ts.
 */
import net from 'node:net';
import { sourceKey } from '../lib/ip.js';
import type { Logger } from '../lib/log.js';
import type { Session, SessionFactory } from '../protocols/shared/connection.js';
import { ConnectionImpl, type TlsProvider } from './connection.js';

export { ACME_TLS_ALPN, type TlsProvider } from './connection.js';

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

/** What the listeners share: their servers and addresses, the open connections, whether closing began. */
interface ListenerSet {
  servers: net.Server[];
  bound: BoundListener[];
  live: Set<Live>;
  isClosing: boolean;
}

interface ListenerDeps {
  tls: TlsProvider;
  limits: ListenerLimits;
  log: Logger;
}

/** Open connections of one listener, in all and per source (IPv6: per prefix). */
interface ConnectionCounts {
  open: number;
  perIp: Map<string, number>;
}

export async function startListeners(specs: ListenerSpec[], deps: ListenerDeps): Promise<Listeners> {
  const set: ListenerSet = { servers: [], bound: [], live: new Set<Live>(), isClosing: false };
  const closeAll = (timeoutMs = deps.limits.shutdownTimeoutMs): Promise<void> => closeListeners(set, timeoutMs);
  try {
    for (const spec of specs) await listen(spec, deps, set);
  } catch (err) {
    await closeAll(0);
    throw err;
  }
  return { bound: set.bound, connectionCount: () => set.live.size, close: closeAll };
}

/** Binds one listener; resolves once it listens, rejects when the address cannot be bound. */
function listen(spec: ListenerSpec, deps: ListenerDeps, set: ListenerSet): Promise<void> {
  const counts: ConnectionCounts = { open: 0, perIp: new Map<string, number>() };
  const server = net.createServer({ pauseOnConnect: false, noDelay: true }, (raw) =>
    accept(raw, spec, deps, set, counts),
  );
  server.maxConnections = deps.limits.maxConnections + 16; // our own check answers first
  set.servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot listen on ${spec.host}:${spec.port} for ${spec.name}: ${(err as Error).message}`)),
    );
    server.listen({ host: spec.host, port: spec.port }, () => {
      const addr = server.address() as net.AddressInfo;
      set.bound.push({ name: spec.name, host: addr.address, port: addr.port, isImplicitTls: spec.isImplicitTls });
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
}

/** Takes a connection within the limits (or refuses it) and runs its session to the end. */
function accept(
  raw: net.Socket,
  spec: ListenerSpec,
  deps: ListenerDeps,
  set: ListenerSet,
  counts: ConnectionCounts,
): void {
  const { perIp } = counts;
  const ip = sourceKey(raw.remoteAddress ?? 'unknown', deps.limits.ipv6Prefix);
  if (
    set.isClosing ||
    counts.open >= deps.limits.maxConnections ||
    (perIp.get(ip) ?? 0) >= deps.limits.maxConnectionsPerIp
  ) {
    deps.log.warn(
      { listener: spec.name, remote: raw.remoteAddress, source: ip, open: counts.open, perIp: perIp.get(ip) ?? 0 },
      set.isClosing ? 'connection refused: shutting down' : 'connection refused: limit reached',
    );
    if (spec.busyReply && !spec.isImplicitTls) raw.end(spec.busyReply);
    else raw.destroy();
    return;
  }
  counts.open++;
  perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
  // Counted until the raw socket closes. A library that upgrades the socket itself (smtp-server's
  // STARTTLS) removes the raw socket's listeners, so the end of the session attaches it again.
  let isCounted = true;
  const uncount = () => {
    if (!isCounted) return;
    isCounted = false;
    counts.open--;
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n === 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };
  raw.once('close', uncount);
  raw.on('error', () => {}); // reported by the session or the close below
  const conn = new ConnectionImpl(raw, spec.name, deps.tls, deps.limits.tlsHandshakeTimeoutMs, deps.log, spec);
  const entry: Live = { conn, session: undefined, done: Promise.resolve() };
  set.live.add(entry);
  entry.done = serve(entry, raw, spec, set, uncount);
}

/** The life of one accepted connection: implicit TLS, the session, then the close. */
async function serve(
  entry: Live,
  raw: net.Socket,
  spec: ListenerSpec,
  set: ListenerSet,
  uncount: () => void,
): Promise<void> {
  const conn = entry.conn;
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
    set.live.delete(entry);
    // The place is held until the socket is gone (at most the 2 s close() gives a peer that
    // does not read), so closing sessions fast cannot hold more than the limit; the listener
    // is added again in case a library removed it (smtp-server's STARTTLS does).
    if (raw.destroyed) uncount();
    else raw.once('close', uncount);
    conn.log.info({}, 'disconnected');
  }
}

/** Stops accepting, asks sessions to finish, and destroys what is left after `timeoutMs`. */
async function closeListeners(set: ListenerSet, timeoutMs: number): Promise<void> {
  set.isClosing = true;
  // server.close() calls back only once every connection is gone: wait for that last.
  const stopped = Promise.all(set.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  for (const entry of set.live) {
    try {
      entry.session?.shutdown();
    } catch (err) {
      entry.conn.log.warn({ reason: (err as Error).message }, 'session shutdown failed');
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([Promise.all([...set.live].map((e) => e.done)), timeout]);
  clearTimeout(timer);
  for (const entry of set.live) entry.conn.destroy();
  await stopped;
}
