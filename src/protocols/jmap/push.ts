/**
 * EventSource push (RFC 8620 §7.3): a `state` event with a StateChange (§7.1) whenever the account
 * changes over any protocol — the store's change feed fires after each commit — and a `ping` event
 * every `ping` seconds when asked. The changes of one commit (the feed tells of each) go out as one
 * event. At most MAX_STREAMS streams per account.
 */
import { streamSSE } from 'hono/streaming';
import type { ChangeFeed } from '../../store/index.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import { PUSH_TYPES, stateChange } from '../../services/push/index.js';
import type { JmapContext } from './index.js';

const TYPES = PUSH_TYPES;
/** Push streams per account, EventSource and WebSocket together. */
export const MAX_STREAMS = 20;
/** RFC 8620 §7.3: the server may set bounds on the ping interval (seconds). */
const MIN_PING = 5;
const MAX_PING = 3600;

const open = new Map<number, number>();

/** Counts a push stream of the account; false when it has MAX_STREAMS already. */
export function takeStream(accountId: number): boolean {
  const count = open.get(accountId) ?? 0;
  if (count >= MAX_STREAMS) return false;
  open.set(accountId, count + 1);
  return true;
}

export function releaseStream(accountId: number): void {
  const left = (open.get(accountId) ?? 1) - 1;
  if (left > 0) open.set(accountId, left);
  else open.delete(accountId);
}

export function eventSource(
  c: JmapContext,
  deps: { views: EmailViews; changes: ChangeFeed },
): Response | Promise<Response> {
  const caller = c.get('caller');
  const typesParam = c.req.query('types') ?? '*';
  const types = typesParam === '*' ? TYPES : typesParam.split(',').filter((t) => TYPES.includes(t));
  const closeAfterState = c.req.query('closeafter') === 'state';
  const pingParam = Number(c.req.query('ping') ?? '0');
  const ping = Number.isFinite(pingParam) && pingParam > 0 ? Math.min(Math.max(pingParam, MIN_PING), MAX_PING) : 0;
  if (!takeStream(caller.accountId))
    return c.body(
      JSON.stringify({ type: 'about:blank', status: 429, detail: `at most ${MAX_STREAMS} event streams per account` }),
      429,
      {
        'content-type': 'application/problem+json',
      },
    );
  return streamSSE(c, async (stream) => {
    let last = '';
    let timer: NodeJS.Immediate | undefined;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const send = async () => {
      timer = undefined;
      const state = await deps.views.state(caller.accountId);
      if (state === last || stream.closed) return;
      last = state;
      await stream.writeSSE({ event: 'state', data: JSON.stringify(stateChange(caller.accountId, types, state)) });
      if (closeAfterState) done();
    };
    const unsubscribe = deps.changes.subscribe(caller.accountId, () => {
      timer ??= setImmediate(() => void send().catch(done));
    });
    const pinger = ping
      ? setInterval(
          () => void stream.writeSSE({ event: 'ping', data: JSON.stringify({ interval: ping }) }).catch(done),
          ping * 1000,
        )
      : undefined;
    stream.onAbort(done);
    last = await deps.views.state(caller.accountId);
    // RFC 8620 §7.3: the current state first, so the client knows where it stands.
    if (!closeAfterState) {
      await stream.writeSSE({ event: 'state', data: JSON.stringify(stateChange(caller.accountId, types, last)) });
    }
    await finished;
    unsubscribe();
    if (timer) clearImmediate(timer);
    if (pinger) clearInterval(pinger);
    releaseStream(caller.accountId);
  });
}
