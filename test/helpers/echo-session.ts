/**
 * A tiny line protocol for listener and TLS tests: echoes lines, "STARTTLS" upgrades, "QUIT" leaves,
 * "WHO" answers with the connection's TLS details.
 */
import { createInterface } from 'node:readline';
import type { Connection, Session } from '../../src/protocols/shared/connection.js';

export function echoSession(conn: Connection): Session {
  let closing = false;
  return {
    async run() {
      for (;;) {
        const rl = createInterface({ input: conn.socket, crlfDelay: Infinity });
        let upgrade = false;
        for await (const line of rl) {
          if (line === 'QUIT') {
            conn.socket.write('BYE\r\n');
            rl.close();
            return;
          }
          if (line === 'STARTTLS') {
            conn.socket.write('GO\r\n');
            upgrade = true;
            rl.close();
            break;
          }
          if (line === 'WHO')
            conn.socket.write(
              `${JSON.stringify({ cid: conn.cid, tls: conn.tlsInfo() ?? null, remote: conn.remoteAddress })}\r\n`,
            );
          else conn.socket.write(`ECHO ${line}\r\n`);
        }
        if (!upgrade || closing) return;
        conn.socket.pause();
        await conn.startTls();
      }
    },
    shutdown() {
      closing = true;
      conn.socket.write('SHUTDOWN\r\n');
      conn.close();
    },
  };
}
