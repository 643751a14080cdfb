/**
 * Blobs (RFC 8620 §6): what an id names — an upload of this account ("u" and its SHA-256), an email's
 * content ("g" and the email id), one part of either ("g…_1-2", its transfer encoding undone), or a
 * Sieve script's ("v" and its SHA-256) — read for download, Email/import and attachments. An id of another account's email is not found.
 */
import { decode as decodeQp } from 'libqp';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { findPart, splitBlobId } from './email-body.js';
import type { Uploads } from './uploads.js';
import { scriptBlobId } from './sieve.js';
import type { SieveScripts } from '../../services/sieve/index.js';

export interface BlobDeps {
  mailboxes: Mailboxes;
  views: EmailViews;
  uploads: Uploads;
  /** For a script's content ("v" and its SHA-256). */
  sieve?: SieveScripts;
}

export interface BlobContent {
  data: Buffer;
  /** The type it was uploaded with or the part's own; message/rfc822 for an email. */
  type: string;
}

export async function readBlob(deps: BlobDeps, accountId: number, blobId: string): Promise<BlobContent | undefined> {
  if (blobId.startsWith('v') && deps.sieve) {
    for (const s of await deps.sieve.list(accountId)) {
      const script = await deps.sieve.get(accountId, s.name);
      if (scriptBlobId(script.content) === blobId)
        return { data: Buffer.from(script.content, 'utf8'), type: 'application/sieve' };
    }
    return undefined;
  }
  const named = splitBlobId(blobId);
  if (!named) return undefined;
  const whole = await wholeBlob(deps, accountId, named.base);
  if (!whole || named.partId === undefined) return whole;
  return partOf(whole.data, named.partId);
}

/** An upload, or an email's content (another account's email is not found). */
async function wholeBlob(deps: BlobDeps, accountId: number, base: string): Promise<BlobContent | undefined> {
  if (base.startsWith('u')) return deps.uploads.get(accountId, base);
  const [m] = await deps.views.byIds(accountId, [Number(base.slice(1))], { envelope: 'all', bodyStructure: true });
  return m ? { data: await deps.mailboxes.content(m), type: 'message/rfc822' } : undefined;
}

/** One part of a message, its transfer encoding undone (IMAP part numbers, RFC 9051 §6.4.5). */
function partOf(content: Buffer, partId: string): BlobContent | undefined {
  const root = parseMessage(content).structure;
  const part = root.type === 'multipart' || partId !== '1' ? findPart(root, partId) : root;
  if (!part || part.type === 'multipart') return undefined;
  return {
    data: decoded(content.subarray(part.bodyStart, part.end), part.encoding),
    type: `${part.type}/${part.subtype}`,
  };
}

function decoded(raw: Buffer, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(raw.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (encoding === 'quoted-printable') return decodeQp(raw.toString('latin1'));
  return raw;
}
