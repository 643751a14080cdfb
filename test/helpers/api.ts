/**
 * A client for the admin API over real HTTPS (node:https, the test certificate not verified), and a
 * validator of its answers against the OpenAPI document the server serves (Ajv, JSON Schema 2020-12).
 */
import https from 'node:https';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Server } from '../../src/main.js';
import { python } from './python.js';
import { cliPrincipal } from '../../src/services/admin/index.js';

export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // JSON of any shape, checked by the tests
  text: string;
}

export type Credentials = { user: string; password: string } | { token: string } | undefined;

export function apiClient(port: () => number) {
  return function call(
    method: string,
    path: string,
    options: {
      auth?: Credentials;
      body?: unknown;
      raw?: string;
      contentType?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiAnswer> {
    const headers: Record<string, string> = { host: 'mail.example.com', ...options.headers };
    const auth = options.auth;
    if (auth && 'token' in auth) headers.authorization = `Bearer ${auth.token}`;
    else if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: port(),
          servername: 'mail.example.com',
          rejectUnauthorized: false,
          method,
          path: `/api/v1${path}`,
          headers,
          timeout: 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
}

/**
 * Checks an answer against the OpenAPI document: the operation `method` of `template` must list the
 * status, and the body must match that response's schema (problem+json for errors).
 */
export function openApiValidator(document: Record<string, unknown>) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ ...document, $id: 'openapi' });
  const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
  return (template: string, method: string, answer: ApiAnswer): string | undefined => {
    const paths = document.paths as Record<string, Record<string, { responses: Record<string, any> }>>;
    const response = paths[template]?.[method.toLowerCase()]?.responses[String(answer.status)];
    if (!response) return `${method} ${template} does not document status ${answer.status}`;
    if (!response.content)
      return answer.text === '' ? undefined : `${method} ${template} ${answer.status} documents no body`;
    const type = Object.keys(response.content)[0]!;
    const ref = `openapi#/${pointer('paths', template, method.toLowerCase(), 'responses', String(answer.status), 'content', type, 'schema')}`;
    const validate = ajv.getSchema(ref);
    if (!validate) return `no schema at ${ref}`;
    if (validate(answer.body)) return undefined;
    return `${method} ${template} ${answer.status}: ${ajv.errorsText(validate.errors)} in ${answer.text.slice(0, 300)}`;
  };
}

/** A superadmin made as the CLI would make one. */
export async function addSuperadmin(server: Server, admin: { user: string; password: string }): Promise<void> {
  await server.administration.addAdmin(cliPrincipal(), {
    address: admin.user,
    password: admin.password,
    role: 'superadmin',
    domains: [],
  });
}

/** The current TOTP code of a base32 secret, computed by Python's hmac (an implementation independent of ours). */
export async function totpCode(secret: string): Promise<string> {
  const r = await python<{ code: string }>(
    `
import base64, hashlib, hmac, json, os, struct, time
s = os.environ['SECRET']
key = base64.b32decode(s + '=' * (-len(s) % 8))
mac = hmac.new(key, struct.pack('>Q', int(time.time()) // 30), hashlib.sha1).digest()
o = mac[-1] & 15
print(json.dumps({'code': '%06d' % ((struct.unpack('>I', mac[o:o + 4])[0] & 0x7fffffff) % 1000000)}))
`,
    { SECRET: secret },
  );
  return r.code;
}
