/**
 * The admin API from the browser: same origin, the session cookie sent by the browser, the CSRF
 * token added to every request that changes something, RFC 9457 problems turned into errors whose
 * message is the server's `detail` (what to fix).
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
let authorization = '';

/** What went wrong, as the page shows it (the server's detail for an API error). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function setCsrf(token: string): void {
  csrf = token;
}

/**
 * The account page logs in with HTTP Basic, sent by this code (kept in memory only, never stored),
 * not by the browser: no cookie, so no request another site makes can carry it.
 */
export function setBasicAuth(address: string, password: string): void {
  const bytes = new TextEncoder().encode(`${address}:${password}`);
  authorization = address ? `Basic ${btoa(String.fromCharCode(...bytes))}` : '';
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  if (authorization) headers.authorization = authorization;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const data: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const problem = (data ?? {}) as { code?: string; detail?: string };
    throw new ApiError(response.status, problem.code ?? 'error', problem.detail ?? response.statusText);
  }
  return data as T;
}

export interface Session {
  admin: string;
  role: 'superadmin' | 'domain';
  domains: string[];
  totp: boolean;
  csrf: string;
  expiresAt: string;
}

export interface Domain {
  name: string;
  aliasOf: string | null;
  limits: { maxAccounts: number; maxAliases: number; maxQuotaBytes: number; defaultQuotaBytes: number };
  accounts: number;
  aliases: number;
  quotaTotal: number;
  createdAt: string;
}

export interface Account {
  address: string;
  quotaBytes: number;
  usedBytes: number;
  enabled: boolean;
  createdAt: string;
}

export interface DkimKey {
  selector: string;
  algorithm: string;
  status: string;
  name: string;
  txt: string;
  createdAt: string;
}

export interface DnsRecord {
  name: string;
  type: string;
  value: string;
  note: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** 1536 → "1.5 KB": sizes as people read them. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toFixed(value < 10 ? 1 : 0))} ${units[unit]}`;
}
