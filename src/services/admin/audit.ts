/** Writes one change to the audit log: who (the caller), through what, from where, what, before and after. */
import type { Store } from '../../store/index.js';
import type { Principal } from './access.js';

export interface Change {
  action: string;
  target: string;
  domain: string | null;
  before?: unknown;
  after?: unknown;
}

export async function writeAudit(store: Store, p: Principal, change: Change): Promise<void> {
  await store.audit.add({
    actor: p.actor,
    via: p.via,
    remote: p.remote,
    action: change.action,
    target: change.target,
    domain: change.domain,
    before: change.before ?? null,
    after: change.after ?? null,
  });
}
