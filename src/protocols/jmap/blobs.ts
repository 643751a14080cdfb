/**
 * Blobs (RFC 8620 §6): what an id names — an upload of this account ("u" and its SHA-256), an email's
 * content ("g" and the email id) or one part of it ("g…_1-2", its transfer encoding undone), or a
 * Sieve script's ("v" and its SHA-256) — read for download, Email/import and attachments. An id of another account's email is not found.
 */
import { decode as decodeQp } from 'libqp';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { emailOfBlobId, findPart } from './email-body.js';
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
  if (blobId.startsWith('u')) return deps.uploads.get(accountId, blobId);
  if (blobId.startsWith('v') && deps.sieve) {
    for (const s of await deps.sieve.list(accountId)) {
      const script = await deps.sieve.get(accountId, s.name);
      if (scriptBlobId(script.content) === blobId)
        return { data: Buffer.from(script.content, 'utf8'), type: 'application/sieve' };
    }
    return undefined;
  }
  const named = emailOfBlobId(blobId);
  if (!named) return undefined;
  const [m] = await deps.views.byIds(accountId, [named.emailId], { envelope: 'all', bodyStructure: true });
  if (!m) return undefined;
  const content = await deps.mailboxes.content(m);
  if (named.partId === undefined) return { data: content, type: 'message/rfc822' };
  const root = parseMessage(content).structure;
  const part = root.type === 'multipart' || named.partId !== '1' ? findPart(root, named.partId) : root;
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
