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
