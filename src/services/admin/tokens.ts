/**
 * API tokens for scripts: `pst_<id>_<secret>`, shown once when made. The store keeps the id and a
 * SHA-256 of the secret (a 256-bit random secret needs no slow hash); a token is checked in constant
 * time, and refused once expired or when its admin is gone.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MailError } from '../../lib/errors.js';
import type { ApiTokenRecord, Store } from '../../store/index.js';
import { adminPrincipal, SCOPES, type Principal, type Scope } from './access.js';

const TOKEN = /^pst_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{43})$/;
/** The longest a token may live: a year. */
export const MAX_TOKEN_DAYS = 366;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface NewToken {
  name: string;
  scopes: string[];
  /** Days until it expires (at most MAX_TOKEN_DAYS). */
  expiresInDays: number;
}

/** A new token for `admin`: the record to store and the text to show once. */
export function makeToken(admin: string, input: NewToken): { record: ApiTokenRecord; token: string } {
  const name = input.name.trim();
  if (!name || name.length > 100 || /[\p{Cc}]/u.test(name))
    throw new MailError('INVALID_INPUT', 'a token needs a name of 1 to 100 printable characters');
  if (input.scopes.length === 0 || input.scopes.some((s) => !SCOPES.includes(s as Scope)))
    throw new MailError('INVALID_INPUT', `scopes must be some of ${SCOPES.join(', ')}`);
  if (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1 || input.expiresInDays > MAX_TOKEN_DAYS)
    throw new MailError('INVALID_INPUT', `expires_in_days must be a whole number from 1 to ${MAX_TOKEN_DAYS}`);
  const id = randomBytes(12).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  const now = new Date();
  return {
    token: `pst_${id}_${secret}`,
    record: {
      id,
      secretHash: sha256(secret),
      admin,
      name,
      scopes: [...new Set(input.scopes)],
      expiresAt: new Date(now.getTime() + input.expiresInDays * 86_400_000),
      createdAt: now,
    },
  };
}

/** The principal a token stands for, or undefined for a token that is malformed, unknown, expired or orphaned. */
export async function principalOfToken(
  store: Store,
  token: string,
  origin: { via: string; remote: string | null },
): Promise<Principal | undefined> {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const record = await store.apiTokens.get(m[1]!);
  if (!record) return undefined;
  const given = Buffer.from(sha256(m[2]!), 'hex');
  if (!timingSafeEqual(given, Buffer.from(record.secretHash, 'hex'))) return undefined;
  if (record.expiresAt && record.expiresAt.getTime() <= Date.now()) return undefined;
  const admin = await store.admins.get(record.admin);
  return admin && adminPrincipal(admin, origin, record);
}

/** What a token's owner sees of it: never the secret nor its hash. */
export function tokenView(t: ApiTokenRecord) {
  return {
    id: t.id,
    name: t.name,
    scopes: t.scopes,
    expires_at: t.expiresAt?.toISOString() ?? null,
    created_at: t.createdAt.toISOString(),
  };
}
