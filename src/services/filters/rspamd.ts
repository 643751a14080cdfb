/**
 * An rspamd client: HTTP POST /checkv2 on the normal worker or the controller, the message as the
 * body and the envelope in request headers (rspamd's protocol: IP, Helo, From, Rcpt — one per
 * recipient — and Queue-Id), over one keep-alive agent so connections are reused where rspamd keeps
 * them open (rspamd 3.4's workers answer "Connection: close", so there each check connects). The JSON
 * answer's symbols become the filter's symbols, by rspamd's names and scores. A pre-result that forces
 * "reject" whatever the score (rspamd's GTUBE rule answers so, with GTUBE scored 0) adds
 * RSPAMD_REJECT, scored as SpamAssassin scores GTUBE. Every check has a deadline; a status other than
 * 200, a body that is not rspamd's JSON or one too long is a failure.
 */
import http from 'node:http';
import https from 'node:https';
import { engineCheck, EngineError, EngineStats } from './engine.js';
import type { FilterInput, FilterSymbol, SpamCheck } from './types.js';

/** rspamd's answer lists symbols and their options; 1 MiB bounds even a message with many URLs. */
const MAX_REPLY_BYTES = 1 << 20;
/** Connections kept open to rspamd, each reused for the next check. */
const MAX_SOCKETS = 16;
/** The weight of a forced reject, as SpamAssassin's GTUBE rule. */
const FORCED_REJECT_SCORE = 1000;

export interface RspamdOptions {
  /** rspamd's base URL, "http://127.0.0.1:11333". */
  url: string;
  timeoutMs: number;
}

export interface RspamdResult {
  action: string;
  /** rspamd stopped at a pre-result (its GTUBE rule, a prefilter): the action is forced, not scored. */
  isSkipped: boolean;
  score: number;
  symbols: FilterSymbol[];
  /** rspamd's SMTP message for a forced action ("Gtube pattern"). */
  message?: string | undefined;
}

export class Rspamd {
  readonly stats = new EngineStats();
  private readonly endpoint: URL;
  private readonly agent: http.Agent;

  constructor(private readonly options: RspamdOptions) {
    this.endpoint = new URL('checkv2', options.url.endsWith('/') ? options.url : `${options.url}/`);
    const isHttps = this.endpoint.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS };
    this.agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /**
   * Asks rspamd for its symbols. Throws on anything but a 200 with rspamd's JSON within the deadline.
   * A kept connection that rspamd closed while idle fails the request at once; it is sent again, once,
   * on a fresh connection within the same deadline.
   */
  check(input: Pick<FilterInput, 'qid' | 'data' | 'mailFrom' | 'client' | 'accounts'>): Promise<RspamdResult> {
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': input.data.length,
      'Queue-Id': headerText(input.qid),
      IP: headerText(input.client.ip),
      Helo: headerText(input.client.helo),
      From: input.mailFrom === '' ? '<>' : headerText(input.mailFrom),
    };
    if (input.accounts.length) headers.Rcpt = input.accounts.map((a) => headerText(a.address));
    return new Promise<RspamdResult>((resolve, reject) => {
      let settled = false;
      let req: http.ClientRequest | undefined;
      const finish = (err: Error | undefined, result?: RspamdResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          req?.destroy();
          reject(err);
        } else resolve(result!);
      };
      const timer = setTimeout(
        () => finish(new EngineError(`rspamd did not answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      const send = (isRetry: boolean) => {
        let hasFailed = false;
        req = this.post(headers, input.data, finish, (r, err) => {
          if (hasFailed) return; // one outcome per request, however many errors it emits
          hasFailed = true;
          const isStale = r.reusedSocket && !isRetry && ['ECONNRESET', 'EPIPE'].includes(String(err.code));
          if (isStale && !settled) send(true);
          else finish(new EngineError(`rspamd: ${err.message}`));
        });
      };
      try {
        send(false);
      } catch (err) {
        finish(new EngineError(`rspamd: ${(err as Error).message}`));
      }
    });
  }

  private post(
    headers: http.OutgoingHttpHeaders,
    data: Buffer,
    finish: (err: Error | undefined, result?: RspamdResult) => void,
    onError: (req: http.ClientRequest, err: NodeJS.ErrnoException) => void,
  ): http.ClientRequest {
    const request = this.endpoint.protocol === 'https:' ? https.request : http.request;
    const req = request(this.endpoint, { method: 'POST', agent: this.agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_REPLY_BYTES) finish(new EngineError(`rspamd: reply longer than ${MAX_REPLY_BYTES} bytes`));
        else chunks.push(d);
      });
      res.on('error', (err) => finish(new EngineError(`rspamd: ${err.message}`)));
      res.once('end', () => {
        if (res.statusCode !== 200) return finish(new EngineError(`rspamd: HTTP ${res.statusCode}`));
        try {
          finish(undefined, parseRspamdReply(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          finish(err as Error);
        }
      });
    });
    req.on('error', (err) => onError(req, err));
    req.end(data);
    return req;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/**
 * Reads rspamd's /checkv2 JSON: `{"score": 3.1, "action": "no action", "symbols": {"NAME": {"name":
 * "NAME", "score": 1.5, "description": "…", "options": ["…"]}}, "messages": {"smtp_message": "…"}}`.
 * Throws EngineError on anything that is not that shape.
 */
export function parseRspamdReply(text: string): RspamdResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EngineError(`rspamd: reply is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (!isObject(json) || typeof json.score !== 'number' || typeof json.action !== 'string')
    throw new EngineError('rspamd: reply without score and action');
  const raw = json.symbols ?? {};
  if (!isObject(raw)) throw new EngineError('rspamd: symbols is not an object');
  const symbols: FilterSymbol[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!isObject(value) || typeof value.score !== 'number' || !Number.isFinite(value.score))
      throw new EngineError(`rspamd: symbol ${key} without a score`);
    const description = typeof value.description === 'string' ? value.description : 'rspamd rule';
    const options = Array.isArray(value.options) ? value.options.filter((o) => typeof o === 'string') : [];
    const why = options.length ? `${description} (${options.join(', ')})` : description;
    symbols.push({ name: key, score: Math.round(value.score * 1000) / 1000, why });
  }
  const messages = isObject(json.messages) ? json.messages : {};
  const message = typeof messages.smtp_message === 'string' ? messages.smtp_message : undefined;
  return { action: json.action, isSkipped: json.is_skipped === true, score: json.score, symbols, message };
}

/** The symbols the filter adds up: rspamd's, plus RSPAMD_REJECT where rspamd forced a reject its scores do not reach. */
export function rspamdSymbols(result: RspamdResult): FilterSymbol[] {
  const sum = result.symbols.reduce((s, x) => s + x.score, 0);
  const isForced = result.isSkipped || sum < result.score - 0.01;
  if (result.action !== 'reject' || !isForced) return result.symbols;
  const why = `rspamd forced a reject${result.message ? `: ${result.message}` : ''}`;
  return [...result.symbols, { name: 'RSPAMD_REJECT', score: FORCED_REJECT_SCORE, why }];
}

/** rspamd as a check of the filter. */
export function rspamdCheck(rspamd: Rspamd): SpamCheck & { readonly stats: EngineStats } {
  return engineCheck('rspamd', rspamd.stats, async (input) => rspamdSymbols(await rspamd.check(input)));
}

/** A value for a request header: UTF-8 sent as its bytes (rspamd reads bytes), control characters dropped. */
function headerText(value: string): string {
  return Buffer.from(value.replace(/[\x00-\x1f\x7f]/g, ''), 'utf8').toString('latin1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
