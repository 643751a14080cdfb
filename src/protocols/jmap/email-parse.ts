/**
 * Email/parse (RFC 8621 §4.9): a blob holding a message — an upload, a stored email, or a
 * message/rfc822 part of either (an attached message) — read as an Email without storing it: its
 * parts' blob ids name parts of that blob ("g12_2-1" is part 1 of the message attached as part 2 of
 * email 12), so they download like any other. And Email/copy (RFC 8621 §4.7): a login reaches one
 * account, so there is never another account to copy from.
 */
import { parseMessage } from '../../mail/mime/structure.js';
import { getIds, getProperties } from './args.js';
import { readBlob, type BlobDeps } from './blobs.js';
import { MAIL, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { partBlobId, splitBlobId } from './email-body.js';
import { bodyPropertiesArg, EMAIL_PROPERTIES, emailObject, envelopeProperty, valueOptions } from './email-get.js';

/** What a message that is not in a mailbox does not have. */
const NOT_STORED = new Set(['id', 'threadId', 'mailboxIds', 'keywords', 'receivedAt']);
/** RFC 8621 §4.9: the default properties of a parsed email — Email/get's, less what it has not, blobId and size. */
const PARSE_DEFAULTS = EMAIL_PROPERTIES.filter(
  (p) => !NOT_STORED.has(p) && !['blobId', 'size', 'headers', 'bodyStructure'].includes(p),
);
export function emailParseMethods(deps: BlobDeps): Array<[string, MethodEntry]> {
  return [
    ['Email/parse', { capability: MAIL, run: (args, ctx) => parse(deps, args, ctx) }],
    ['Email/copy', { capability: MAIL, run: (args, ctx) => copy(args, ctx) }],
  ];
}

async function parse(deps: BlobDeps, args: Args, ctx: CallContext): Promise<Args> {
  const blobIds = getIds({ ids: args.blobIds ?? [] });
  if (blobIds === null) throw new MethodError('invalidArguments', 'blobIds must be an array of blob ids');
  const props = getProperties(args, EMAIL_PROPERTIES, PARSE_DEFAULTS);
  props.delete('id');
  if (Array.isArray(args.properties) && args.properties.includes('id')) props.add('id');
  const bodyProps = bodyPropertiesArg(args);
  const options = valueOptions(args);
  const parsed: Args = {};
  const notParsable: string[] = [];
  const notFound: string[] = [];
  for (const blobId of new Set(blobIds)) {
    const named = splitBlobId(blobId);
    const blob = named ? await readBlob(deps, ctx.accountId, blobId) : undefined;
    if (!named || !blob) {
      notFound.push(blobId);
      continue;
    }
    const message = parseMessage(blob.data);
    // Anything parses as a message of sorts; a blob without a single header field is not one.
    if (message.headers.length === 0) {
      notParsable.push(blobId);
      continue;
    }
    const prefix = named.partId === undefined ? '' : `${named.partId}.`;
    const source = {
      row: (p: string) => {
        if (NOT_STORED.has(p)) return { value: null };
        if (p === 'blobId') return { value: blobId };
        if (p === 'size') return { value: blob.data.length };
        return envelopeProperty(message.envelope, p);
      },
      structure: message.structure,
      content: blob.data,
      // Part 1.2 of the message in part 2 of the blob is part 2.1.2 of the blob (IMAP numbering).
      blobOf: (partId: string) => partBlobId(named.base, `${prefix}${partId}`),
    };
    parsed[blobId] = emailObject(source, props, bodyProps, options);
  }
  return {
    accountId: ctx.jmapAccountId,
    parsed: Object.keys(parsed).length ? parsed : null,
    notParsable: notParsable.length ? notParsable : null,
    notFound: notFound.length ? notFound : null,
  };
}

/** RFC 8620 §5.4: fromAccountId must name another account the login may read; there is none. */
function copy(args: Args, ctx: CallContext): Promise<Args> {
  if (typeof args.fromAccountId !== 'string') throw new MethodError('invalidArguments', 'fromAccountId is needed');
  if (args.fromAccountId === ctx.jmapAccountId)
    throw new MethodError('invalidArguments', 'fromAccountId and accountId are the same account: use Email/set');
  throw new MethodError('fromAccountNotFound', 'this login reaches no other account to copy from');
}
