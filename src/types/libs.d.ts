// Minimal types for the parts of untyped packages that Postern uses.
declare module 'libmime' {
  const libmime: {
    parseHeaderValue(value: string): { value: string; params: Record<string, string> };
    decodeWords(value: string): string;
    encodeWords(value: string, mimeWordEncoding?: 'Q' | 'B', maxLength?: number): string;
  };
  export default libmime;
}
declare module 'libqp' {
  export function decode(text: string): Buffer;
}
declare module 'nodemailer/lib/addressparser' {
  export interface ParsedAddress {
    name: string;
    address?: string;
    group?: ParsedAddress[];
  }
  export default function addressparser(text: string, options?: { flatten?: boolean }): ParsedAddress[];
}
declare module 'mailauth' {
  export function dkimSign(
    message: Buffer | string,
    options: {
      canonicalization?: string;
      algorithm?: string;
      /** Colon-separated field names. */
      headerList?: string;
      signatureData: Array<{
        signingDomain: string;
        selector: string;
        privateKey: Buffer | string;
        algorithm?: string;
      }>;
    },
  ): Promise<{ signatures: string; errors: unknown[] }>;
}
declare module 'mailauth' {
  export interface AuthenticateResult {
    headers: string;
    spf: { status: { result: string } } | false;
    dmarc:
      { status: { result: string }; policy?: string; p?: string; sp?: string; pct?: number; domain?: string } | false;
    dkim: { results: Array<{ signingDomain?: string; status: { result: string } }> };
    arc: { status?: { result?: string } } | false | undefined;
  }
  export function authenticate(
    message: Buffer | string,
    options: {
      ip?: string;
      helo?: string;
      sender?: string;
      mta?: string;
      trustReceived?: boolean;
      resolver?: (name: string, rr: string) => Promise<unknown>;
      disableBimi?: boolean;
      seal?: { signingDomain: string; selector: string; privateKey: Buffer | string };
    },
  ): Promise<AuthenticateResult>;
}
declare module 'mailauth' {
  export function dkimVerify(
    message: Buffer | string,
    options?: { resolver?: (name: string, rr: string) => Promise<unknown> },
  ): Promise<{ results: Array<{ status: { result: string } }> }>;
}
// mailauth's DKIM building blocks, used for oversigned signatures (services/dkim/sign.ts).
declare module 'mailauth/lib/dkim/body/index.js' {
  export function dkimBody(
    canonicalization: string,
    algorithm: string,
    maxBodyLength: number | false,
  ): { update(chunk: Buffer): void; digest(encoding: 'base64'): string };
}
declare module 'mailauth/lib/dkim/header/index.js' {
  export function generateCanonicalizedHeader(
    type: 'DKIM',
    lines: { keys: string; headers: Array<{ key: string; casedKey: string; line: Buffer }> },
    options: {
      signingDomain: string;
      selector: string;
      algorithm: string;
      canonicalization: string;
      bodyHash: string;
      signTime?: Date;
    },
  ): { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, string | number> };
}
declare module 'mailauth/lib/tools.js' {
  export function parseHeaders(header: Buffer): { parsed: Array<{ key: string; casedKey: string; line: Buffer }> };
  export function getSigningHeaderLines(
    parsed: Array<{ key: string; casedKey: string; line: Buffer }>,
    fieldNames: string,
  ): { keys: string; headers: Array<{ key: string; casedKey: string; line: Buffer }> };
  export function formatSignatureHeaderLine(
    type: 'DKIM',
    values: Record<string, string | number>,
    folded: boolean,
  ): string;
}
declare module 'mailauth/lib/mta-sts.js' {
  export interface MtaStsPolicy {
    mode: 'none' | 'testing' | 'enforce';
    mx: string[];
    maxAge: number;
    id?: string | false;
  }
  export function resolvePolicy(
    domain: string,
    opts?: { resolver?: (name: string, rr: string) => Promise<unknown> },
  ): Promise<string | false>;
  export function parsePolicy(file: Buffer | string): MtaStsPolicy;
  export function validateMx(mx: string, policy: MtaStsPolicy): { valid: boolean; mode: string; testing: boolean };
}
declare module 'mx-connect' {
  import type { Socket } from 'node:net';
  interface MxEntry {
    exchange: string;
    priority: number;
    A?: string[];
    AAAA?: string[];
  }
  interface TlsaRecord {
    usage: number;
    selector: number;
    mtype: number;
    cert: Buffer;
  }
  export interface MxConnection {
    socket: Socket;
    hostname: string;
    host: string;
    port: number;
    daneEnabled?: boolean;
    tlsaRecords?: TlsaRecord[];
    requireTls?: boolean;
  }
  export default function mxConnect(options: {
    target: string;
    port?: number;
    maxConnectTime?: number;
    localAddress?: string;
    localHostname?: string;
    dnsOptions?: {
      ignoreIPv6?: boolean;
      preferIPv6?: boolean;
      blockLocalAddresses?: boolean;
      resolve?: (
        name: string,
        type: string | ((err: Error | null, r?: unknown) => void),
        cb?: (err: Error | null, r?: unknown) => void,
      ) => void;
    };
    mx?: MxEntry[];
    dane?: {
      enabled: boolean;
      resolveTlsa?: (name: string) => Promise<TlsaRecord[]>;
      verify?: boolean;
      logger?: (o: unknown) => void;
    };
    mtaSts?: { enabled: boolean };
    connectError?: (err: Error, delivery: unknown, options: { host?: string; hostname?: string }) => void;
  }): Promise<MxConnection>;
}
declare module 'mx-connect/lib/dane.js' {
  export function verifyCertAgainstTlsa(
    cert: unknown,
    records: Array<{ usage: number; selector: number; mtype: number; cert: Buffer }>,
    chain?: unknown[],
  ): { valid: boolean; error: string | null; noRecords?: boolean };
}
declare module 'mailauth/lib/spf/index.js' {
  export function spf(opts: {
    sender: string;
    ip: string;
    helo: string;
    mta?: string;
    resolver?: (name: string, rr: string) => Promise<unknown>;
  }): Promise<{ status: { result: string; comment?: string } }>;
}

/** Encrypted content coding (RFC 8188) as Web Push uses it (RFC 8291); by the RFC's author. */
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';
  interface EceParams {
    version: 'aes128gcm';
    /** The other side's public key (base64url or bytes). */
    dh?: string | Buffer;
    privateKey?: ECDH;
    authSecret?: string | Buffer;
    salt?: string | Buffer;
    keyid?: string | Buffer;
    rs?: number;
  }
  export function encrypt(buffer: Buffer, params: EceParams): Buffer;
  export function decrypt(buffer: Buffer, params: EceParams): Buffer;
}
