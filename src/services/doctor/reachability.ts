/**
 * Whether the world can reach this server and this server the world: each public port at each public
 * address (through a probe service, else from this host), and outgoing connections to port 25.
 */
import type { Finding } from './findings.js';
import { Conversation } from './line-client.js';
import type { ListenerTarget, NetInputs } from './net.js';

const PUBLIC = new Set(['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']);

/** `accepting`: the listeners that accepted a local connection; only those are tried from outside. */
export async function checkReachability(i: NetInputs, accepting: ReadonlySet<string>): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
  // Reachability from outside: through the probe service, else from this host to the public address.
  for (const ip of i.publicAddresses) {
    const closed: Array<{ listener: ListenerTarget; detail: string }> = [];
    const where = (port: number) => `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
    for (const l of i.listeners.filter((x) => PUBLIC.has(x.name) && accepting.has(x.name))) {
      let result: { open: boolean; detail: string };
      if (i.probeUrl) {
        try {
          const url = new URL(i.probeUrl);
          url.searchParams.set('host', ip);
          url.searchParams.set('port', String(l.port));
          const res = await fetch(url, { signal: AbortSignal.timeout(i.timeoutMs * 2) });
          const body = (await res.json()) as { open?: unknown; error?: unknown };
          if (typeof body.open !== 'boolean') throw new Error('the probe answered without "open"');
          result = {
            open: body.open,
            detail: typeof body.error === 'string' ? body.error : body.open ? 'open' : 'closed',
          };
        } catch (err) {
          server({
            id: 'probe.failed',
            severity: 'warning',
            summary: `the probe service ${i.probeUrl} did not answer for ${where(l.port)}: ${(err as Error).message}`,
            why: 'reachability from outside could not be checked',
            observed: (err as Error).message,
            expected: '{"open": true}',
            fix: 'check --probe URL',
          });
          break;
        }
      } else {
        result = await Conversation.open(ip, l.port, i.timeoutMs).then(
          (c) => {
            c.close();
            return { open: true, detail: 'open' };
          },
          (err: Error) => ({ open: false, detail: err.message }),
        );
      }
      if (!result.open) closed.push({ listener: l, detail: result.detail });
    }
    if (closed.length === 0) continue;
    const list = closed.map((c) => `${c.listener.name} ${c.listener.port}`).join(', ');
    const mx = closed.some((c) => c.listener.name === 'smtp');
    server({
      id: 'port.unreachable',
      severity: i.probeUrl ? 'error' : 'warning',
      summary: `not reachable at ${ip}${i.probeUrl ? ' from outside' : ' from this host'}: ${list}`,
      why: mx
        ? 'other servers cannot deliver mail to you, and clients cannot connect'
        : 'clients cannot connect to these services',
      observed: closed.map((c) => `${where(c.listener.port)} ${c.detail}`).join(', '),
      expected: 'open',
      fix: `open ${closed.map((c) => `${c.listener.port}/tcp`).join(', ')} in the firewall and the provider's security group${mx ? ' (some providers block port 25 until asked)' : ''}${i.probeUrl ? '' : '; behind NAT, check from outside with --probe URL'}`,
    });
  }
}

/** Outgoing port 25 to `outboundTarget`: providers that block it stop all remote delivery. */
export async function checkOutboundPort25(i: NetInputs): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
  if (i.outboundTarget) {
    const { host, port } = i.outboundTarget;
    try {
      const c = await Conversation.open(host, port, i.timeoutMs);
      try {
        await c.smtpReply();
      } catch (err) {
        server({
          id: 'outbound.port25.no-greeting',
          severity: 'warning',
          summary: `an outgoing connection to ${host}:${port} opened but no SMTP greeting came (${(err as Error).message})`,
          why: 'a firewall or proxy that intercepts port 25 stops remote delivery',
          observed: (err as Error).message,
          expected: '220 greeting',
          fix: 'ask your provider whether outgoing port 25 is filtered; else relay through a smarthost ([outbound] smarthost)',
        });
      } finally {
        c.close();
      }
    } catch (err) {
      const timedOut = /timed out/.test((err as Error).message);
      server({
        id: timedOut ? 'outbound.port25.blocked' : 'outbound.port25.refused',
        severity: timedOut ? 'error' : 'warning',
        summary: `outgoing connections to port ${port} fail (${host}: ${(err as Error).message})`,
        why: timedOut
          ? 'a connection that times out means the provider drops outgoing port 25: no mail leaves this server'
          : 'the remote server refused the connection; check with another destination',
        observed: (err as Error).message,
        expected: 'a 220 greeting',
        fix: 'ask your provider to unblock outgoing port 25, or relay through a smarthost:\n[outbound]\nsmarthost = "smtps://user:pass@relay.example.net:465"',
      });
    }
  }
}
