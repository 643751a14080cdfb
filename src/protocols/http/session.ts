/**
 * HTTP/1.1 over a listener connection: Node's HTTP parser (bounded headers, request and keep-alive
 * timeouts) runs on the socket our listener accepted and, for HTTPS, handshook with SNI.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { getRequestListener } from '@hono/node-server';
import type { Connection, Session, SessionFactory } from '../shared/connection.js';
import { httpApp, type HttpDeps } from './app.js';

export function httpProtocol(deps: HttpDeps): SessionFactory {
  const app = httpApp(deps);
  // Hono's listener answers every request itself (errors included) and resolves when done.
  const listener = getRequestListener(app.fetch);
  const server = http.createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 60_000, headersTimeout: 20_000, keepAliveTimeout: 5_000 },
    (req, res) => void listener(req, res),
  );
  // WebSocket upgrades: JMAP's (RFC 8887), over TLS only; any other is refused.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (deps.jmap && (socket as TLSSocket).encrypted === true) deps.jmap.upgrade(req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  // The server never listens itself: 'listening' starts its header/request timeout checks.
  server.emit('listening');
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy(err);
  });
  return (conn: Connection): Session => ({
    run: () =>
      new Promise<void>((resolve) => {
        conn.socket.once('close', () => resolve());
        server.emit('connection', conn.socket);
      }),
    shutdown: () => {
      conn.socket.end();
    },
  });
}
