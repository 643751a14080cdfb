import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** A 32-byte secret kept in `file` (mode 0600), made on first use. */
export function loadOrCreateSecret(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const secret = randomBytes(32);
    try {
      writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
      return secret;
    } catch {
      return readFileSync(file); // another process made it meanwhile
    }
  }
}

/** App passwords: 20 random base32 letters in groups of four, easy to type on a phone. */
export function makeAppPassword(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(20);
  const letters = [...bytes].map((b) => alphabet[b & 31]).join('');
  return letters.match(/.{4}/g)!.join('-');
}

/** How an app password is kept: SHA-256 (100 random bits need no slow hash), of the text without dashes. */
export function appPasswordHash(password: string): string {
  return createHash('sha256').update(password.replace(/-/g, '').toLowerCase()).digest('hex');
}

/**
 * An app password as an HTTP bearer token (JMAP): `pap_<its id>_<its text without dashes>`, so that
 * the server finds it without being told the account.
 */
export function appPasswordToken(id: number, password: string): string {
  return `pap_${id}_${password.replace(/-/g, '')}`;
}

/** The id and text of an app password bearer token, or undefined for anything else. */
export function parseAppPasswordToken(token: string): { id: number; password: string } | undefined {
  const m = /^pap_(\d{1,15})_([a-z2-7]{20})$/.exec(token);
  return m ? { id: Number(m[1]), password: m[2]! } : undefined;
}
