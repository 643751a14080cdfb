/** What the outbound service is given: its settings (the [outbound] slice, in milliseconds) and collaborators. */
import type { RelayTarget } from '../../config/schema.js';
import type { Logger } from '../../lib/log.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';
import type { TlsaLookup } from '../../mail/dns/tlsa.js';
import type { Metrics } from '../metrics/index.js';
import type { Store } from '../../store/index.js';
import type { MtaSts } from './mta-sts.js';

export interface OutboundOptions {
  hostname: string;
  heloName: string;
  sourceAddress: string;
  port: number;
  connectionsPerDomain: number;
  maxConnections: number;
  messagesPerConnection: number;
  retryMinMs: number;
  retryMaxMs: number;
  lifetimeMs: number;
  delayWarningMs: number;
  leaseMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  dane: boolean;
  extraCa: string[];
  smarthost: RelayTarget | undefined;
  senderSmarthost: Record<string, RelayTarget>;
}

export interface OutboundDeps {
  store: Store;
  log: Logger;
  resolve: DnsResolve;
  tlsa: TlsaLookup;
  mtaSts: MtaSts | undefined;
  /** Signs a notification we generate (DKIM) for the domain given. */
  sign: (content: Buffer, domain: string) => Promise<Buffer>;
  /** Hands a notification to local delivery or the queue, as for any message from the null sender. */
  submit: (message: { content: Buffer; recipient: string; qid: string }) => Promise<void>;
  /** The dashboard's counters (sent, bounced, deferred). */
  metrics?: Pick<Metrics, 'count'> | undefined;
}
