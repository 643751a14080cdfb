/**
 * An authoritative DNS server for tests, on 127.0.0.1 over UDP and TCP, answering from a record map.
 * Names in `servfail` answer SERVFAIL (a temporary error); unknown names answer NXDOMAIN.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';

export interface Zone {
  A?: string[];
  AAAA?: string[];
  MX?: Array<{ preference: number; exchange: string }>;
  TXT?: Array<string | string[]>;
  CNAME?: string;
  PTR?: string[];
  SRV?: Array<{ priority: number; weight: number; port: number; target: string }>;
  TLSA?: Array<{ usage: number; selector: number; matchingType: number; certificate: Buffer }>;
  /** Answer with the AD bit, as a validating resolver does for a DNSSEC-signed zone. */
  AD?: boolean;
}

export interface TestDns {
  address: string;
  records: Map<string, Zone>;
  servfail: Set<string>;
  set(name: string, zone: Zone): void;
  close(): Promise<void>;
}

export async function startDns(): Promise<TestDns> {
  const records = new Map<string, Zone>();
  const servfail = new Set<string>();
  const answer = (query: packet.Packet): Buffer => {
    const q = query.questions?.[0];
    const response: packet.Packet = {
      id: query.id,
      type: 'response',
      flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_DESIRED,
      questions: query.questions ?? [],
      answers: [],
    };
    if (!q) return packet.encode(response);
    const name = q.name.toLowerCase().replace(/\.$/, '');
    // The RCODE is the low 4 bits of the flags: 2 SERVFAIL, 3 NXDOMAIN.
    if (servfail.has(name)) return packet.encode({ ...response, flags: (response.flags ?? 0) | 2 });
    const zone = records.get(name);
    if (!zone) return packet.encode({ ...response, flags: (response.flags ?? 0) | 3 });
    const answers: packet.Answer[] = [];
    if (zone.CNAME) {
      // An alias: the CNAME, then the target's records of the asked type when this server has them.
      answers.push({ type: 'CNAME', name: q.name, ttl: 60, data: zone.CNAME });
      const target = records.get(zone.CNAME.toLowerCase().replace(/\.$/, ''));
      if (q.type === 'A')
        for (const a of target?.A ?? []) answers.push({ type: 'A', name: zone.CNAME, ttl: 60, data: a });
      if (q.type === 'AAAA')
        for (const a of target?.AAAA ?? []) answers.push({ type: 'AAAA', name: zone.CNAME, ttl: 60, data: a });
    } else if (q.type === 'A')
      for (const a of zone.A ?? []) answers.push({ type: 'A', name: q.name, ttl: 60, data: a });
    else if (q.type === 'AAAA')
      for (const a of zone.AAAA ?? []) answers.push({ type: 'AAAA', name: q.name, ttl: 60, data: a });
    else if (q.type === 'MX')
      for (const m of zone.MX ?? []) answers.push({ type: 'MX', name: q.name, ttl: 60, data: m });
    else if (q.type === 'SRV')
      for (const r of zone.SRV ?? []) answers.push({ type: 'SRV', name: q.name, ttl: 60, data: r });
    else if (q.type === 'PTR')
      for (const p of zone.PTR ?? []) answers.push({ type: 'PTR', name: q.name, ttl: 60, data: p });
    else if (q.type === ('TLSA' as string))
      for (const t of zone.TLSA ?? [])
        answers.push({ type: 'TLSA', name: q.name, ttl: 60, data: t } as unknown as packet.Answer);
    else if (q.type === 'TXT')
      for (const t of zone.TXT ?? [])
        answers.push({
          type: 'TXT',
          name: q.name,
          ttl: 60,
          data: (Array.isArray(t) ? t : [t]).map((s) => Buffer.from(s)),
        });
    return packet.encode({
      ...response,
      flags: (response.flags ?? 0) | (zone.AD ? packet.AUTHENTIC_DATA : 0),
      answers,
    });
  };
  const onQuery = (udp: dgram.Socket) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    try {
      let reply = answer(packet.decode(msg));
      if (reply.length > 512) {
        // Too big for plain UDP: truncated, so the client retries over TCP.
        const q = packet.decode(msg);
        reply = packet.encode({
          id: q.id,
          type: 'response',
          flags: packet.TRUNCATED_RESPONSE | packet.AUTHORITATIVE_ANSWER,
          questions: q.questions ?? [],
          answers: [],
        });
      }
      udp.send(reply, rinfo.port, rinfo.address);
    } catch {
      /* garbage: no answer */
    }
  };
  const sockets = new Set<net.Socket>();
  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const reply = answer(packet.decode(buf.subarray(2, 2 + len)));
        buf = buf.subarray(2 + len);
        const framed = Buffer.alloc(2 + reply.length);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        socket.write(framed);
      }
    });
    socket.on('error', () => {});
  };
  const { udp, tcp, port } = await bindPair(onQuery, onConnection);
  return {
    address: `127.0.0.1:${port}`,
    records,
    servfail,
    set: (name, zone) => records.set(name.toLowerCase(), zone),
    close: () =>
      new Promise<void>((r) => {
        udp.close();
        tcp.close(() => r());
        // Connections a resolver keeps open would hold close() up.
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * A UDP socket and a TCP server on the same port. The UDP port is picked by the system, and the same
 * TCP port may already be taken (an ephemeral port of some client connection): then both are closed
 * and another port is tried, instead of an unhandled EADDRINUSE leaving the caller waiting.
 */
async function bindPair(
  onQuery: (udp: dgram.Socket) => (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
  onConnection: (socket: net.Socket) => void,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', onQuery(udp));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve());
    });
    const port = udp.address().port;
    const tcp = net.createServer(onConnection);
    const listened = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listened) return { udp, tcp, port };
    udp.close();
    if (attempt >= 20) throw new Error(`test DNS server: no port free for both UDP and TCP after ${attempt} tries`);
  }
}
