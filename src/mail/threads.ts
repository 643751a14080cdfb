/**
 * What a message is threaded by (RFC 5256 §2.1 and §2.2, as JMAP servers use it): its Message-ID,
 * the Message-IDs it refers to (References, then In-Reply-To), and its base subject — the subject
 * without "Re:", "Fwd:" and the like, list tags in brackets and a trailing "(fwd)". A message joins
 * the thread of a message it refers to only when their base subjects agree, so that a reply whose
 * subject was changed starts a thread of its own.
 */
import { headerValue, type HeaderField } from './mime/headers.js';
import { decodeWords } from './mime/text.js';

/** Message-IDs of References read (the nearest ones count most; a long chain is cut). */
const MAX_REFERENCES = 20;
const MAX_ID = 250;

export interface ThreadKeys {
  messageId: string | undefined;
  /** Nearest first: In-Reply-To, then References from the last. */
  references: string[];
  subject: string;
}

export function threadKeys(headers: HeaderField[]): ThreadKeys {
  const ids = (value: string | undefined) =>
    [...(value ?? '').matchAll(/<([^<>\s]{1,250})>/g)].map((m) => m[1]!).filter((id) => id.length <= MAX_ID);
  const messageId = ids(headerValue(headers, 'message-id'))[0];
  const references = [
    ...ids(headerValue(headers, 'in-reply-to')),
    ...ids(headerValue(headers, 'references')).reverse(),
  ];
  return {
    messageId,
    references: [...new Set(references)].filter((id) => id !== messageId).slice(0, MAX_REFERENCES),
    subject: baseSubject(decodeWords(headerValue(headers, 'subject') ?? '')),
  };
}

/** RFC 5256 §2.1, simplified: lower case, whitespace folded, reply and forward prefixes and blobs removed. */
export function baseSubject(subject: string): string {
  let s = subject.replace(/\s+/g, ' ').trim().toLowerCase();
  for (;;) {
    const before = s;
    s = s
      .replace(/\s*\((fwd|fw)\)$/, '')
      .replace(/^(\[[^\]]*\]\s*)+/, '')
      .replace(/^(re|fwd?|aw|sv|wg|antw|vs|r)(\[\d+\])?\s*:\s*/, '')
      .trim();
    if (s === before) break;
  }
  // A subject that was only a blob keeps the blob (§2.1 step 6).
  return s || subject.replace(/\s+/g, ' ').trim().toLowerCase();
}
