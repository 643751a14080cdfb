/** One bounded HTTPS GET of a small text resource, with SNI and Host set to `servername` and no redirects. */
import https from 'node:https';

export interface HttpsTextRequest {
  /** Address (or name) to connect to; `servername` is sent as SNI and Host. */
  host: string;
  port: number;
  servername: string;
  path: string;
  ca?: string[] | undefined;
  rejectUnauthorized: boolean;
  timeoutMs: number;
  maxBytes: number;
}

export function getHttpsText(r: HttpsTextRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: r.host,
        port: r.port,
        servername: r.servername,
        path: r.path,
        headers: { host: r.servername },
        ca: r.ca,
        rejectUnauthorized: r.rejectUnauthorized,
        timeout: r.timeoutMs,
        agent: false,
      },
      (res) => {
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > r.maxBytes) req.destroy(new Error(`answer larger than ${r.maxBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${r.timeoutMs} ms`)));
    req.on('error', reject);
  });
}
