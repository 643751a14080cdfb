/**
 * Checks mail arriving on the MX port (SPF RFC 7208 on MAIL FROM and HELO, every DKIM signature
 * RFC 6376, DMARC RFC 7489, ARC RFC 8617) with mailauth, writes one Authentication-Results header
 * (RFC 8601) with our host name as authserv-id, and applies the policy: DMARC p=reject failures
 * refused, p=quarantine to Junk, SPF hard fail refused when configured.
 */
import { authenticate } from 'mailauth';
import type { Logger } from '../../lib/log.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';
import { headerEnd } from '../../mail/mime/headers.js';

export interface SenderAuthPolicy {
  rejectDmarcFailures: boolean;
  quarantineToJunk: boolean;
  rejectSpfFail: boolean;
}

export interface SenderAuthResult {
  /** Header lines to prepend (Received-SPF, Authentication-Results), CRLF-terminated. */
  headers: string;
  /** The message without Authentication-Results headers that claim to be ours. */
  content: Buffer;
  verdict: 'accept' | 'junk' | 'reject';
  reason?: string;
  spf: string;
  dmarc: string;
  /** Each DKIM signature's domain and result. */
  dkim: Array<{ domain: string; result: string }>;
  /** ARC chain validation: "pass", "fail" or "none". */
  arc: string;
  /** Whether DMARC found the one From domain to judge (false with no From, or one it could not read). */
  fromJudged: boolean;
}

export class SenderAuth {
  constructor(
    private readonly deps: { hostname: string; resolve: DnsResolve; policy: SenderAuthPolicy; log: Logger },
  ) {}

  /**
   * Removes Authentication-Results fields that claim to be ours (RFC 8601 §5): a client must not be
   * able to hand us a verdict we did not reach. The MX path does it inside check().
   */
  stripOurResults(data: Buffer): Buffer {
    return stripOurResults(data, this.deps.hostname);
  }

  /** With `seal`, a message with a valid or no ARC chain gets our ARC set (it is being forwarded). */
  async check(
    data: Buffer,
    envelope: { ip: string; helo: string; sender: string },
    seal?: { signingDomain: string; selector: string; privateKey: Buffer },
  ): Promise<SenderAuthResult> {
    const content = stripOurResults(data, this.deps.hostname);
    const r = await authenticate(content, {
      ip: envelope.ip,
      helo: envelope.helo,
      sender: envelope.sender,
      mta: this.deps.hostname,
      resolver: this.deps.resolve,
      disableBimi: true,
      ...(seal ? { seal } : {}),
    });
    const spf = r.spf ? r.spf.status.result : 'none';
    const dmarc = r.dmarc ? r.dmarc.status.result : 'none';
    const dkim = (r.dkim?.results ?? []).map((d) => ({
      domain: d.signingDomain ?? '',
      result: d.status.result,
    }));
    const arc = (r.arc && r.arc.status?.result) || 'none';
    const headers = r.headers.replace(/\r?\n/g, '\r\n');
    const policy = r.dmarc && typeof r.dmarc.policy === 'string' ? r.dmarc.policy : undefined;
    const { rejectDmarcFailures, quarantineToJunk, rejectSpfFail } = this.deps.policy;
    let verdict: SenderAuthResult['verdict'] = 'accept';
    let reason: string | undefined;
    if (dmarc === 'fail' && policy === 'reject' && rejectDmarcFailures) {
      verdict = 'reject';
      reason = `DMARC policy of ${r.dmarc ? (r.dmarc.domain ?? 'the sender domain') : ''} rejects this message`;
    } else if (spf === 'fail' && rejectSpfFail) {
      verdict = 'reject';
      reason = `SPF of ${envelope.sender || envelope.helo} does not allow ${envelope.ip}`;
    } else if (dmarc === 'fail' && policy === 'quarantine' && quarantineToJunk) {
      verdict = 'junk';
      reason = 'DMARC policy asks for quarantine';
    }
    return {
      headers,
      content,
      verdict,
      spf,
      dmarc,
      dkim,
      arc,
      fromJudged: Boolean(r.dmarc),
      ...(reason ? { reason } : {}),
    };
  }
}

/**
 * RFC 8601 §5: Authentication-Results fields claiming our authserv-id are removed before ours is
 * added (and on submission and LMTP, where Postern adds none, so that no message reaches a mailbox
 * with results it seems to have vouched for). The field is unfolded first, and the authserv-id may
 * be quoted, surrounded by comments and followed by a version (§2.2: `mail.example.com 1;`).
 */
export function stripOurResults(data: Buffer, hostname: string): Buffer {
  const end = headerEnd(data);
  const head = data.subarray(0, end).toString('latin1');
  const lines = head.split(/(?<=\n)/);
  const id = hostname.toLowerCase().replace(/\.$/, '');
  const out: string[] = [];
  let field: string[] = [];
  let dropped = 0;
  const close = () => {
    if (field.length && isOurs(field.join(''), id)) dropped++;
    else out.push(...field);
    field = [];
  };
  for (const line of lines) {
    if ((line[0] === ' ' || line[0] === '\t') && field.length) {
      field.push(line);
      continue;
    }
    close();
    field.push(line);
  }
  close();
  if (dropped === 0) return data;
  return Buffer.concat([Buffer.from(out.join(''), 'latin1'), data.subarray(end)]);
}

/** Whether an unfolded Authentication-Results field names `id` as its authserv-id. A scanner, not a regex: linear on any input. */
function isOurs(field: string, id: string): boolean {
  const colon = field.indexOf(':');
  if (colon < 0 || field.slice(0, colon).trim().toLowerCase() !== 'authentication-results') return false;
  const text = field.slice(colon + 1).replace(/\r?\n/g, '');
  let i = 0;
  const skipCfws = () => {
    for (;;) {
      while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] !== '(') return;
      let depth = 0;
      for (; i < text.length; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '(') depth++;
        else if (text[i] === ')' && --depth === 0) {
          i++;
          break;
        }
      }
    }
  };
  skipCfws();
  let value = '';
  if (text[i] === '"') {
    for (i++; i < text.length && text[i] !== '"'; i++) value += text[i] === '\\' ? (text[++i] ?? '') : text[i];
    i++;
  } else {
    const start = i;
    while (i < text.length && !/[\s;()"]/.test(text[i]!)) i++;
    value = text.slice(start, i);
  }
  skipCfws();
  while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++; // authres-version
  skipCfws();
  if (i < text.length && text[i] !== ';') return false;
  return value.toLowerCase().replace(/\.$/, '') === id;
}
