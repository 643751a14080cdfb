/**
 * What a protocol session sees of its client: a duplex socket that STARTTLS can upgrade in place,
 * the peer's address, a connection id and a logger that carries it.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../lib/log.js';

export interface TlsInfo {
  protocol: string;
  cipher: string;
  servername: string | undefined;
}

export interface Connection {
  readonly cid: string;
  /** The listener's name from [listen]: smtp, submissions, imaps, … */
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly log: Logger;
  /** The current socket: replaced by a TLSSocket after `startTls()`. */
  readonly socket: Socket | TLSSocket;
  readonly isTls: boolean;
  tlsInfo(): TlsInfo | undefined;
  /**
   * Upgrades the connection (STARTTLS, STLS). The caller must have stopped reading the plain socket
   * and answered the command; resolves after the handshake, rejects (and closes) when it fails.
   */
  startTls(): Promise<void>;
  close(): void;
}

export interface Session {
  /** Runs until the client leaves or the connection closes. */
  run(): Promise<void>;
  /** Server shutdown: say goodbye the protocol's way (421, BYE, -ERR) and close soon. */
  shutdown(): void;
}

export type SessionFactory = (conn: Connection) => Session;
