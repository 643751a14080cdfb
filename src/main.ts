/**
 * Composition root: config → store → services → listeners. The only module (with compose/ and cli/)
 * that knows every layer: compose/services.ts builds the services, compose/protocols.ts the session
 * factories, compose/timers.ts the periodic work; this file starts and stops them in order.
 */
import type { Config, ListenerName } from './config/schema.js';
import { parseListenAddress } from './config/schema.js';
import type { Logger } from './lib/log.js';
import { startListeners, type Listeners, type ListenerSpec, type TlsProvider } from './listeners/index.js';
import { protocolFactories, type ProtocolEntry } from './compose/protocols.js';
import { buildServices, createAcme, type Services } from './compose/services.js';
import { startTimers } from './compose/timers.js';
import type { RecentLog } from './lib/recent-log.js';
import type { Acme } from './services/tls/acme.js';

export { createAcme } from './compose/services.js';

export interface Server extends Pick<
  Services,
  'store' | 'directory' | 'delivery' | 'outbound' | 'mailboxes' | 'sieve' | 'dkim' | 'tls' | 'administration'
> {
  /** Present when [acme] is configured. */
  acme: Acme | undefined;
  listeners: Listeners;
  /** Listeners configured but not started, with the reason. */
  skipped: Array<{ name: ListenerName; reason: string }>;
  stop(timeoutMs?: number): Promise<void>;
}

const IMPLICIT_TLS: ReadonlySet<ListenerName> = new Set(['submissions', 'imaps', 'pop3s', 'https']);

/** `recentLog`: the log's newest lines, for the admin UI's log viewer (when the caller's log sink feeds it). */
export async function startServer(
  config: Readonly<Config>,
  log: Logger,
  options: { recentLog?: RecentLog } = {},
): Promise<Server> {
  const services = await buildServices(config, log, options);
  const { store, tls, challenges, outbound } = services;
  await tls.start();
  const timers = startTimers(config, {
    store,
    dkim: services.dkim,
    quarantine: services.quarantine,
    metrics: services.metrics,
    doctor: services.operations.doctorWatch,
    scheduled: services.scheduledSubmissions,
    log,
  });
  let listeners: Listeners | undefined;
  const factories: Partial<Record<ListenerName, ProtocolEntry>> = protocolFactories(
    config,
    services,
    log,
    () => listeners,
  );
  const { specs, skipped } = listenerSpecs(config, factories);
  for (const s of skipped) log.warn({ listener: s.name, reason: s.reason }, 'listener not started');
  const tlsProvider: TlsProvider = {
    contextFor: (name) => tls.contextFor(name),
    sniCallback: tls.sniCallback,
    alpnChallenge: (name) => challenges.alpnContext(name),
  };
  try {
    listeners = await startListeners(specs, {
      tls: tlsProvider,
      log,
      limits: {
        maxConnections: config.limits.max_connections,
        maxConnectionsPerIp: config.limits.max_connections_per_ip,
        ipv6Prefix: config.limits.ipv6_prefix,
        tlsHandshakeTimeoutMs: config.limits.tls_handshake_timeout,
        shutdownTimeoutMs: config.limits.shutdown_timeout,
      },
    });
  } catch (err) {
    await timers.stop();
    tls.stop();
    await store.close();
    throw err;
  }
  outbound.start();
  await services.push.start();
  const acme = startAcme(config, services, log);
  const started = listeners;
  return {
    ...pick(services),
    acme,
    listeners: started,
    skipped,
    /**
     * Graceful stop within about `timeoutMs` ([limits] shutdown_timeout): sessions are told goodbye
     * and deliveries in flight get the same time, side by side; then both are cut off.
     */
    async stop(timeoutMs = config.limits.shutdown_timeout) {
      services.push.stop();
      await timers.stop();
      await acme?.stop();
      await Promise.all([started.close(timeoutMs), outbound.stop(timeoutMs)]);
      tls.stop();
      await store.close();
    },
  };
}

function pick(s: Services) {
  const { store, directory, delivery, outbound, mailboxes, sieve, dkim, tls, administration } = s;
  return { store, directory, delivery, outbound, mailboxes, sieve, dkim, tls, administration };
}

/** One listener spec per configured address; a listener without a protocol is reported, not started. */
function listenerSpecs(
  config: Readonly<Config>,
  factories: Partial<Record<ListenerName, ProtocolEntry>>,
): { specs: ListenerSpec[]; skipped: Server['skipped'] } {
  const specs: ListenerSpec[] = [];
  const skipped: Server['skipped'] = [];
  for (const name of Object.keys(config.listen) as ListenerName[]) {
    const addresses = config.listen[name];
    if (addresses.length === 0) continue;
    const entry = factories[name];
    if (!entry) {
      skipped.push({ name, reason: 'protocol not available in this version' });
      continue;
    }
    for (const text of addresses) {
      const addr = parseListenAddress(text)!;
      specs.push({ name, host: addr.host, port: addr.port, isImplicitTls: IMPLICIT_TLS.has(name), ...entry });
    }
  }
  return { specs, skipped };
}

/** The ACME client, when [acme] is configured, warned about when its challenge has no listener. */
function startAcme(config: Readonly<Config>, s: Services, log: Logger): Acme | undefined {
  if (!config.acme) return undefined;
  const acme = createAcme(config, { ...s, log: log.child({ component: 'acme' }) });
  if (config.acme.challenge === 'tls-alpn-01' && config.listen.https.length === 0)
    log.warn({}, 'ACME tls-alpn-01 needs the https listener on port 443; orders will fail until [listen] https is set');
  if (config.acme.challenge === 'http-01' && config.listen.http.length === 0)
    log.warn({}, 'ACME http-01 needs the http listener on port 80; orders will fail until [listen] http is set');
  acme.start();
  return acme;
}
