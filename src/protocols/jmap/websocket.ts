/**
 * JMAP over WebSocket (RFC 8887) at wss://<host>/jmap/ws with the "jmap" subprotocol: Request
 * objects answered with Response (or RequestError) objects carrying their id, and push
 * (WebSocketPushEnable / WebSocketPushDisable) sending StateChange objects. The upgrade request is
 * logged in like any JMAP request (Basic or an app password's bearer token); messages are bounded by
 * maxSizeRequest, requests are answered one at a time in order (at most MAX_QUEUED waiting: a client
 * sending faster than it reads is closed), and a connection counts as a push stream of its account.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../lib/log.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import type { ChangeFeed } from '../../store/index.js';
import { isObject, LIMITS, RequestError, runRequest, type MethodEntry } from './dispatch.js';
import type { Caller } from './login.js';
import { PUSH_TYPES, stateChange } from '../../services/push/index.js';
import { releaseStream, takeStream } from './push.js';

export const WEBSOCKET = 'urn:ietf:params:jmap:websocket';
/** Messages received and not yet answered, and their bytes, past which the connection is closed (1008). */
export const MAX_QUEUED = 16;
export const MAX_QUEUED_BYTES = 16_000_000;

export interface WebSocketDeps {
  methods: ReadonlyMap<string, MethodEntry>;
  views: EmailViews;
  changes: ChangeFeed;
  login(authorization: string, ip: string): Promise<Caller | undefined>;
  log: Logger;
}

/** Handles an HTTP upgrade to /jmap/ws; anything else is answered and closed. */
export function webSocketUpgrade(deps: WebSocketDeps): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.maxSizeRequest,
    // RFC 8887 §3: the client offers "jmap"; a client offering nothing else gets no protocol and is refused below.
    handleProtocols: (protocols) => (protocols.has('jmap') ? 'jmap' : false),
  });
  const refuse = (socket: Duplex, status: string, extra = '') => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
  };
  return (req, socket, head) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://x');
      if (url.pathname !== '/jmap/ws') return refuse(socket, '404 Not Found');
      // A page of another site may open a WebSocket with the browser's remembered login: refused.
      const origin = req.headers.origin;
      if (origin !== undefined && !sameHost(origin, String(req.headers.host ?? '')))
        return refuse(socket, '403 Forbidden');
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      if (!offered.includes('jmap')) return refuse(socket, '400 Bad Request');
      const ip = (socket as { remoteAddress?: string }).remoteAddress ?? '';
      const caller = await deps.login(String(req.headers.authorization ?? ''), ip);
      if (!caller)
        return refuse(socket, '401 Unauthorized', 'WWW-Authenticate: Basic realm="JMAP", Bearer realm="JMAP"\r\n');
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Counted once open: an upgrade the handshake refuses holds nothing.
        if (takeStream(caller.accountId)) serve(deps, ws, caller, ip);
        else ws.close(1008, 'too many push streams for this account');
      });
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'JMAP WebSocket upgrade failed');
      socket.destroy();
    });
  };
}

function serve(deps: WebSocketDeps, ws: WebSocket, caller: Caller, ip: string): void {
  const log = deps.log.child({ account: caller.address, via: 'websocket' });
  let queue = Promise.resolve();
  let queued = 0;
  let queuedBytes = 0;
  let stopPush: () => void = () => undefined;
  const send = (message: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  let closed = false;
  ws.on('close', () => {
    closed = true;
    stopPush();
    releaseStream(caller.accountId);
  });
  ws.on('error', (err) => log.info({ err: err.message }, 'JMAP WebSocket closed on an error'));
  ws.on('message', (data, isBinary) => {
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    queuedBytes += size;
    if (++queued > MAX_QUEUED || queuedBytes > MAX_QUEUED_BYTES) {
      log.warn({ queued }, 'JMAP WebSocket client sends faster than it reads: closed');
      ws.close(1008, 'too many requests waiting');
      return;
    }
    queue = queue
      .then(async () => {
        let message: unknown;
        try {
          message = isBinary ? undefined : JSON.parse(data.toString());
        } catch {
          message = undefined;
        }
        if (!isObject(message)) {
          send(requestError(undefined, 'urn:ietf:params:jmap:error:notJSON', 'send JSON objects as text frames'));
          return;
        }
        const id = typeof message.id === 'string' ? message.id : undefined;
        switch (message['@type']) {
          case 'Request':
            try {
              const ctx = {
                accountId: caller.accountId,
                jmapAccountId: `a${caller.accountId}`,
                address: caller.address,
                ip,
                log,
              };
              send({
                '@type': 'Response',
                ...(await runRequest(message, deps.methods, ctx, '0')),
                ...(id ? { requestId: id } : {}),
              });
            } catch (err) {
              if (!(err instanceof RequestError)) throw err;
              send(requestError(id, err.type, err.detail, err.limit));
            }
            return;
          case 'WebSocketPushEnable': {
            stopPush();
            const stop = await pushEnable(deps, caller, message, send, log);
            // Closed while it was being set up: nothing would stop it later.
            if (closed) stop();
            else stopPush = stop;
            return;
          }
          case 'WebSocketPushDisable':
            stopPush();
            return;
          default:
            send(
              requestError(
                id,
                'urn:ietf:params:jmap:error:notRequest',
                'an object of @type Request, WebSocketPushEnable or WebSocketPushDisable',
              ),
            );
        }
      })
      .catch((err: unknown) => {
        log.error({ err }, 'JMAP WebSocket request failed');
        send(
          requestError(
            undefined,
            'urn:ietf:params:jmap:error:serverFail',
            'the server could not answer; the log says why',
          ),
        );
      })
      .finally(() => {
        queued--;
        queuedBytes -= size;
      });
  });
}

/** RFC 8887 §4.3.5: StateChange objects for the types asked, from the pushState given (or now); returns the stop. */
async function pushEnable(
  deps: WebSocketDeps,
  caller: Caller,
  message: Record<string, unknown>,
  send: (message: unknown) => void,
  log: Logger,
): Promise<() => void> {
  const types = Array.isArray(message.dataTypes)
    ? (message.dataTypes as unknown[]).filter((t): t is string => typeof t === 'string' && PUSH_TYPES.includes(t))
    : PUSH_TYPES;
  let pending: NodeJS.Immediate | undefined;
  let last = typeof message.pushState === 'string' ? message.pushState : await deps.views.state(caller.accountId);
  const push = async () => {
    pending = undefined;
    const state = await deps.views.state(caller.accountId);
    if (state === last) return;
    last = state;
    send({ ...stateChange(caller.accountId, types, state), pushState: state });
  };
  const unsubscribe = deps.changes.subscribe(caller.accountId, () => {
    pending ??= setImmediate(() => void push().catch((err: unknown) => log.error({ err }, 'JMAP push failed')));
  });
  // A pushState older than now gets the changes since at once.
  if (typeof message.pushState === 'string') await push();
  return () => {
    unsubscribe();
    if (pending) clearImmediate(pending);
  };
}

/** Whether an Origin names the host the request was made to (its scheme and port aside, the name and port of Host). */
function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

function requestError(
  requestId: string | undefined,
  type: string,
  detail: string,
  limit?: string,
): Record<string, unknown> {
  return {
    '@type': 'RequestError',
    ...(requestId ? { requestId } : {}),
    type,
    status: 400,
    detail,
    ...(limit ? { limit } : {}),
  };
}
