/** The SQLite store's change feed: in-process listeners per account, fed by the engine after each commit. */
import type { ChangeEvent, ChangeFeed } from '../index.js';

export class SqliteChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<number, Set<(event: ChangeEvent) => void>>();

  subscribe(accountId: number, listener: (event: ChangeEvent) => void): () => void {
    let set = this.listeners.get(accountId);
    if (!set) this.listeners.set(accountId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(accountId);
    };
  }

  publish(event: ChangeEvent): void {
    for (const listener of this.listeners.get(event.accountId) ?? []) listener(event);
  }
}
