/**
 * The quarantine for admins (the admin API and UI): held messages listed, shown, released to their
 * recipient or deleted. A domain admin sees and acts on their domains' recipients only (another
 * domain's message is not found); each release and deletion is audited.
 */
import { MailError } from '../../lib/errors.js';
import type { QuarantinedMessage, Store } from '../../store/index.js';
import type { Quarantine } from '../quarantine/index.js';
import { requireAdmin, requireDomain, visibleDomains, type Principal } from './access.js';
import { writeAudit } from './audit.js';

/** Bytes of a held message shown by `show`. */
const MAX_SHOWN = 256 * 1024;

const heldView = (m: QuarantinedMessage) => ({
  id: m.id,
  recipient: m.recipient,
  mailFrom: m.mailFrom,
  subject: m.subject,
  reason: m.reason,
  score: m.score,
  size: m.size,
  createdAt: m.createdAt.toISOString(),
  expiresAt: m.expiresAt.toISOString(),
});

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

export class HeldMail {
  constructor(private readonly deps: { store: Store; quarantine: Quarantine }) {}

  async list(p: Principal, options: { domain?: string; limit: number }) {
    requireAdmin(p, 'read');
    if (options.domain !== undefined) requireDomain(p, options.domain.toLowerCase(), 'read');
    const visible = visibleDomains(p);
    const held = await this.deps.quarantine.list(
      options.domain !== undefined
        ? { domain: options.domain.toLowerCase(), limit: options.limit }
        : { limit: options.limit },
    );
    return held.filter((m) => !visible || visible.has(domainOf(m.recipient))).map(heldView);
  }

  async show(p: Principal, id: number) {
    const entry = await this.entry(p, id, 'read');
    const { content } = await this.deps.quarantine.show(entry.id);
    return {
      ...heldView(entry),
      content: content.subarray(0, MAX_SHOWN).toString('utf8'),
      truncated: content.length > MAX_SHOWN,
    };
  }

  async release(p: Principal, id: number) {
    const entry = await this.entry(p, id, 'write');
    await this.deps.quarantine.release(entry.id);
    await writeAudit(this.deps.store, p, {
      action: 'quarantine.release',
      target: `${entry.id} ${entry.recipient}`,
      domain: domainOf(entry.recipient),
      before: heldView(entry),
    });
  }

  async delete(p: Principal, id: number) {
    const entry = await this.entry(p, id, 'write');
    await this.deps.quarantine.delete(entry.id);
    await writeAudit(this.deps.store, p, {
      action: 'quarantine.delete',
      target: `${entry.id} ${entry.recipient}`,
      domain: domainOf(entry.recipient),
      before: heldView(entry),
    });
  }

  private async entry(p: Principal, id: number, need: 'read' | 'write'): Promise<QuarantinedMessage> {
    requireAdmin(p, need);
    const entry = Number.isSafeInteger(id) ? await this.deps.store.quarantine.get(id) : undefined;
    if (!entry) throw new MailError('NOT_FOUND', `no quarantined message ${id}`);
    try {
      requireDomain(p, domainOf(entry.recipient), need);
    } catch (err) {
      throw new MailError('NOT_FOUND', `no quarantined message ${id}`, { cause: err });
    }
    return entry;
  }
}
