/** The composition root's choice of store backend, for the server and the CLI alike. */
import type { Config } from '../config/schema.js';
import { MailError } from '../lib/errors.js';
import type { Store } from '../store/index.js';
import { openSqliteStore } from '../store/sqlite/index.js';

/** Opens the backend `[store]` names; the schema already refuses the ones this version does not have. */
export async function openConfiguredStore(config: Readonly<Config>): Promise<Store> {
  switch (config.store.backend) {
    case 'sqlite':
      return openSqliteStore(config.data_dir);
    case 'postgres':
      throw new MailError(
        'CONFIG',
        'the PostgreSQL store backend is not available in this version; use backend = "sqlite"',
      );
  }
}
