/**
 * Password hashing: argon2id (RFC 9106) with OWASP's recommended minimum (19 MiB, t=2, p=1), in
 * PHC string form so parameters can be raised later without breaking stored hashes.
 */
import { hash, verify, type Options } from '@node-rs/argon2';

// Algorithm is a const enum in the package's types, absent at run time: 2 is Argon2id.
const ARGON2ID: Options = {
  algorithm: 2 as NonNullable<Options['algorithm']>,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_BYTES = 1024;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  if (!stored.startsWith('$argon2')) return false;
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** Why a new password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `is shorter than ${MIN_PASSWORD_LENGTH} characters`;
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return `is longer than ${MAX_PASSWORD_BYTES} bytes`;
  if (/[\r\n\0]/.test(password)) return 'contains a line break or NUL';
  return undefined;
}

/** What the directory and self-service need to set and check passwords; handed over by the composition root. */
export interface PasswordPolicy {
  hash(password: string): Promise<string>;
  verify(stored: string, password: string): Promise<boolean>;
  problem(password: string): string | undefined;
}

export const argon2Passwords: PasswordPolicy = { hash: hashPassword, verify: verifyPassword, problem: passwordProblem };
