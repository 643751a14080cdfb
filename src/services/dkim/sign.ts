/**
 * DKIM-Signature generation (RFC 6376 §5) with oversigning (§8.15): the h= tag names some fields
 * once more than they occur, so a From, Subject or To added in transit breaks the signature.
 * mailauth's signer lists only the fields present, so its canonicalization, body hash and header
 * formatting are used here directly; the signature is made with node:crypto as mailauth does.
 */
import { createHash, createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { dkimBody } from 'mailauth/lib/dkim/body/index.js';
import { generateCanonicalizedHeader } from 'mailauth/lib/dkim/header/index.js';
import { formatSignatureHeaderLine, getSigningHeaderLines, parseHeaders } from 'mailauth/lib/tools.js';

/** Signed when present, each occurrence. */
export const SIGNED_HEADERS = [
  'From',
  'Subject',
  'Date',
  'To',
  'Message-ID',
  'Cc',
  'Reply-To',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'List-Id',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
];
/** Listed once more than they occur: none may be added after signing (RFC 6376 §8.15). */
export const OVERSIGNED_HEADERS = ['From', 'Subject', 'Date', 'To', 'Message-ID', 'Cc', 'Reply-To'];

export interface SigningKey {
  signingDomain: string;
  selector: string;
  privateKey: Buffer | string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

/** DKIM-Signature header lines (folded, CRLF-terminated) for `message`, one per key, relaxed/relaxed. */
export function dkimSignatures(message: Buffer, keys: SigningKey[], now = new Date()): string {
  const split = headerEnd(message);
  const header = message.subarray(0, split.header);
  const body = message.subarray(split.body);
  const hasher = dkimBody('relaxed', 'sha256', false);
  hasher.update(body);
  const bodyHash = hasher.digest('base64');
  const present = getSigningHeaderLines(parseHeaders(header).parsed, SIGNED_HEADERS.join(':'));
  const keysTag = [present.keys, ...OVERSIGNED_HEADERS].filter(Boolean).join(': ');
  let out = '';
  for (const key of keys) {
    const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader(
      'DKIM',
      { keys: keysTag, headers: present.headers },
      {
        signingDomain: key.signingDomain,
        selector: key.selector,
        algorithm: key.algorithm,
        canonicalization: 'relaxed/relaxed',
        bodyHash,
        signTime: now,
      },
    );
    const privateKey = createPrivateKey(key.privateKey);
    // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalized header.
    dkimHeaderOpts.b =
      key.algorithm === 'rsa-sha256'
        ? cryptoSign('sha256', canonicalizedHeader, privateKey).toString('base64')
        : cryptoSign(null, createHash('sha256').update(canonicalizedHeader).digest(), privateKey).toString('base64');
    out += formatSignatureHeaderLine('DKIM', dkimHeaderOpts, true) + '\r\n';
  }
  return out;
}

function headerEnd(message: Buffer): { header: number; body: number } {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { header: crlf + 2, body: crlf + 4 };
  if (lf >= 0) return { header: lf + 1, body: lf + 2 };
  return { header: message.length, body: message.length };
}
