/**
 * One accepted connection as a session sees it (the Connection interface): its addresses, its logger
 * with the connection id, and TLS, implicit or by STARTTLS, with SNI and the ACME TLS-ALPN-01 answer
 * (RFC 8737) chosen from the ClientHello before the handshake.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from '../lib/log.js';
import { parseClientHello, type ClientHello } from '../lib/tls-hello.js';
import type { Connection, TlsInfo } from '../protocols/shared/connection.js';
import type { ListenerSpec } from './index.js';

export interface TlsProvider {
  contextFor(servername?: string): SecureContext;
  sniCallback(servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void;
  /** The TLS-ALPN-01 challenge certificate (RFC 8737) for `servername`, while an ACME order waits on it. */
  alpnChallenge?(servername: string): Promise<SecureContext | undefined>;
}

/** RFC 8737 §6.2: the ALPN protocol of TLS-ALPN-01 validation handshakes. */
export const ACME_TLS_ALPN = 'acme-tls/1';

export class ConnectionImpl implements Connection {
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
