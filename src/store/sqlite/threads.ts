/** Threads in SQLite: the thread_refs table of migration 19. */
import type { ThreadRepo } from '../index.js';
import type { Db, Exec } from './engine.js';

export class Threads implements ThreadRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  find(accountId: number, references: string[], subject: string): Promise<number | undefined> {
    if (references.length === 0) return Promise.resolve(undefined);
    return this.exec(() => {
      const get = this.db
        .prepare('SELECT thread_id FROM thread_refs WHERE account_id = ? AND message_id = ? AND subject = ?')
        .pluck();
      for (const ref of references) {
        const thread = get.get(accountId, ref, subject) as number | undefined;
        if (thread !== undefined) return thread;
      }
      return undefined;
    });
  }

  remember(accountId: number, messageId: string, threadId: number, subject: string): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          'INSERT INTO thread_refs (account_id, message_id, thread_id, subject) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        )
        .run(accountId, messageId, threadId, subject);
    });
  }
}
