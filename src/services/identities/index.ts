/**
 * Sending identities (JMAP Identity, RFC 8621 §6): the account's own address, made with it and never
 * removed, and others it may send as — an alias that reaches it, a plus address, as port 587's
 * sender check allows (Directory.ownsAddress) — each with a name, Reply-To and Bcc addresses and a
 * plain and an HTML signature, which the webmail puts into what it composes. Checked here, for every
 * protocol: an identity for an address the account does not own is refused (SENDER_NOT_OWNED).
 */
import { MailError } from '../../lib/errors.js';
import { normalizeAddress } from '../../mail/address.js';
import type { Directory } from '../directory/index.js';
import type { IdentityRecord, Store } from '../../store/index.js';

export const IDENTITY_LIMITS = {
  perAccount: 20,
  name: 256,
  addresses: 20,
  textSignature: 16 * 1024,
  htmlSignature: 64 * 1024,
};

type Addresses = IdentityRecord['replyTo'];
export type IdentityFields = Pick<IdentityRecord, 'name' | 'replyTo' | 'bcc' | 'textSignature' | 'htmlSignature'>;

export class Identities {
  constructor(private readonly deps: { store: Pick<Store, 'identities'>; directory: Pick<Directory, 'ownsAddress'> }) {}

  list(accountId: number, address: string): Promise<IdentityRecord[]> {
    return this.deps.store.identities.list(accountId, address);
  }

  async create(
    accountId: number,
    address: string,
    input: { email: string } & Partial<IdentityFields>,
  ): Promise<IdentityRecord> {
    const email = normalizeAddress(input.email);
    if (!email.ok) throw new MailError('INVALID_INPUT', `email ${email.reason}`);
    if (!(await this.deps.directory.ownsAddress(address, email.text)))
      throw new MailError('SENDER_NOT_OWNED', `${address} may not send as ${email.text}`);
    const fields = checkFields(input);
    const made = await this.deps.store.identities.add(
      {
        accountId,
        email: email.text,
        name: fields.name ?? '',
        replyTo: fields.replyTo ?? null,
        bcc: fields.bcc ?? null,
        textSignature: fields.textSignature ?? '',
        htmlSignature: fields.htmlSignature ?? '',
      },
      IDENTITY_LIMITS.perAccount,
    );
    if (!made) throw new MailError('LIMIT_REACHED', `at most ${IDENTITY_LIMITS.perAccount} identities per account`);
    return made;
  }

  async update(accountId: number, id: number, patch: Partial<IdentityFields>): Promise<void> {
    if (!(await this.deps.store.identities.update(accountId, id, checkFields(patch))))
      throw new MailError('NOT_FOUND', 'no such identity');
  }

  async destroy(accountId: number, address: string, id: number): Promise<void> {
    if (await this.deps.store.identities.remove(accountId, id)) return;
    const own = (await this.list(accountId, address)).find((i) => i.id === id);
    if (own?.isDefault) throw new MailError('FORBIDDEN', "the account's own address stays an identity");
    throw new MailError('NOT_FOUND', 'no such identity');
  }

  seq(accountId: number): Promise<number> {
    return this.deps.store.identities.seq(accountId);
  }

  changedSince(accountId: number, seq: number): ReturnType<Store['identities']['changedSince']> {
    return this.deps.store.identities.changedSince(accountId, seq);
  }
}

/** The fields given, checked: a name without line breaks, bounded signatures, lists of valid addresses. */
function checkFields(input: Partial<IdentityFields>): Partial<IdentityFields> {
  const out: Partial<IdentityFields> = {};
  if (input.name !== undefined) {
    if (input.name.length > IDENTITY_LIMITS.name || /[\r\n\0]/.test(input.name))
      throw new MailError('INVALID_INPUT', `name must be one line of at most ${IDENTITY_LIMITS.name} characters`);
    out.name = input.name;
  }
  for (const key of ['textSignature', 'htmlSignature'] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (value.length > IDENTITY_LIMITS[key] || value.includes('\0'))
      throw new MailError('INVALID_INPUT', `${key} must be text of at most ${IDENTITY_LIMITS[key]} characters`);
    out[key] = value;
  }
  if (input.replyTo !== undefined) out.replyTo = checkAddresses(input.replyTo, 'replyTo');
  if (input.bcc !== undefined) out.bcc = checkAddresses(input.bcc, 'bcc');
  return out;
}

function checkAddresses(list: Addresses, field: string): Addresses {
  if (list === null) return null;
  if (list.length > IDENTITY_LIMITS.addresses)
    throw new MailError('INVALID_INPUT', `${field} holds at most ${IDENTITY_LIMITS.addresses} addresses`);
  return list.map((a) => {
    const email = normalizeAddress(a.email);
    if (!email.ok) throw new MailError('INVALID_INPUT', `${field}: ${a.email.slice(0, 80)} ${email.reason}`);
    if (a.name !== null && (a.name.length > IDENTITY_LIMITS.name || /[\r\n\0]/.test(a.name)))
      throw new MailError(
        'INVALID_INPUT',
        `${field}: a name is one line of at most ${IDENTITY_LIMITS.name} characters`,
      );
    return { name: a.name, email: email.text };
  });
}
