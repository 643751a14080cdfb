/**
 * TLSA lookups for DANE (RFC 7672 §2.2): node's resolver neither asks for TLSA nor reports whether
 * the answer was DNSSEC-validated, so this asks the configured (or system) resolvers directly with
 * the DO bit set and trusts the records only when the resolver sets AD (it validated them).
 */
import dgram from 'node:dgram';
import { getServers } from 'node:dns';
import net from 'node:net';
import * as packet from 'dns-packet';

export interface TlsaRecord {
  usage: number;
  selector: number;
  mtype: number;
  cert: Buffer;
}

export interface TlsaAnswer {
  records: TlsaRecord[];
  /** The resolver validated the answer (AD bit): only then may DANE use it. */
  authenticated: boolean;
}

export type TlsaLookup = (name: string) => Promise<TlsaAnswer>;

export function createTlsaLookup(servers: readonly string[], options: { timeoutMs?: number } = {}): TlsaLookup {
  const timeoutMs = options.timeoutMs ?? 5000;
  return async (name) => {
    const targets = (servers.length ? [...servers] : getServers()).map(parseServer);
    let lastError: unknown = new Error('no DNS servers configured');
    for (const target of targets) {
      try {
        return await query(target, name, timeoutMs);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };
}

function parseServer(server: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
  if (m && net.isIPv4(m[1]!)) return { host: m[1]!, port: Number(m[2] ?? 53) };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1]!, port: Number(v6[2] ?? 53) };
  return { host: server, port: 53 };
}

async function query(target: { host: string; port: number }, name: string, timeoutMs: number): Promise<TlsaAnswer> {
  const id = Math.floor(Math.random() * 65535);
  const request: packet.Packet = {
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
    questions: [{ type: 'TLSA' as packet.RecordType, name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: packet.DNSSEC_OK } as packet.Answer],
  };
  let response = await udpQuery(target, packet.encode(request), timeoutMs);
  if ((response.flags ?? 0) & packet.TRUNCATED_RESPONSE)
    response = await tcpQuery(target, packet.streamEncode(request), timeoutMs);
  if (response.id !== id) throw new Error(`DNS answer for ${name} has the wrong id`);
  const rcode = (response.flags ?? 0) & 0xf;
  if (rcode === 3) return { records: [], authenticated: ((response.flags ?? 0) & packet.AUTHENTIC_DATA) !== 0 };
  if (rcode !== 0)
    throw Object.assign(new Error(`DNS lookup of ${name} TLSA failed (rcode ${rcode})`), { code: 'ESERVFAIL' });
  const records = (response.answers ?? [])
    .filter((a) => a.type === ('TLSA' as string))
    .map((a) => {
      const d = (
        a as unknown as { data: { usage: number; selector: number; matchingType: number; certificate: Buffer } }
      ).data;
      return { usage: d.usage, selector: d.selector, mtype: d.matchingType, cert: d.certificate };
    });
  return { records, authenticated: ((response.flags ?? 0) & packet.AUTHENTIC_DATA) !== 0 };
}

function udpQuery(target: { host: string; port: number }, message: Buffer, timeoutMs: number): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(Object.assign(new Error(`DNS server ${target.host}:${target.port} did not answer`), { code: 'ETIMEOUT' }));
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      try {
        resolve(packet.decode(msg));
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(message, target.port, target.host);
  });
}

function tcpQuery(target: { host: string; port: number }, message: Buffer, timeoutMs: number): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target.port, target.host);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`DNS server ${target.host}:${target.port} did not answer over TCP`)),
    );
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
      // RFC 1035 §4.2.2: a two-byte length, then at most 65,535 bytes; nothing more is read.
      if (received > 2 + 65_535)
        return socket.destroy(new Error(`DNS server ${target.host}:${target.port} sent more than one answer's worth`));
      if (received < 2) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      chunks.length = 0;
      chunks.push(all);
      if (all.length >= 2 + all.readUInt16BE(0)) {
        socket.end();
        try {
          resolve(packet.streamDecode(all));
        } catch (err) {
          reject(err as Error);
        }
      }
    });
    socket.on('error', reject);
    socket.write(message);
  });
}
