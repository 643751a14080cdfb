import { randomBytes } from 'node:crypto';

const QID_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ0123456789';

/** Postfix-like queue ids: 12 characters without vowels, so no words appear in logs. */
export function newQueueId(): string {
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += QID_ALPHABET[b % QID_ALPHABET.length];
  return id;
}
