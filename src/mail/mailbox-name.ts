/**
 * Mailbox names and how many an account may have: the rules IMAP CREATE/RENAME and Sieve's
 * `fileinto :create` (RFC 5490 §3.2) share, so that no path makes a mailbox another would refuse.
 */

/** RFC 9051 §5.1.1: the hierarchy delimiter. */
export const HIERARCHY_SEPARATOR = '/';
export const MAX_MAILBOX_NAME = 1000;
/** Mailboxes one account may have: every LIST and every LIST-STATUS walks them. */
export const MAX_MAILBOXES = 10_000;

/** '/'-separated levels, none empty, no control characters or wildcards, at most MAX_MAILBOX_NAME characters. */
export function isValidMailboxName(name: string): boolean {
  return (
    name !== '' &&
    name.length <= MAX_MAILBOX_NAME &&
    !/[\x00-\x1f\x7f*%]/.test(name) &&
    name.split(HIERARCHY_SEPARATOR).every((p) => p !== '')
  );
}

/**
 * The levels of a name that do not exist among `existing` yet, parents first (RFC 9051 §6.3.4:
 * superiors are created as needed), or undefined when creating them would pass MAX_MAILBOXES.
 */
export function levelsToCreate(existing: readonly string[], name: string): string[] | undefined {
  const names = new Set(existing);
  const parts = name.split(HIERARCHY_SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const level = parts.slice(0, i).join(HIERARCHY_SEPARATOR);
    if (!names.has(level)) out.push(level);
  }
  return existing.length + out.length > MAX_MAILBOXES ? undefined : out;
}
