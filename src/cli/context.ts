/** Opens what a directory command needs: config, store and the directory service. */
import { configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../lib/log.js';
import { argon2Passwords } from '../services/auth/password.js';
import { Directory } from '../services/directory/index.js';
import { Dkim } from '../services/dkim/index.js';
import { createResolver } from '../mail/dns/resolver.js';
import type { Store } from '../store/index.js';
import { openConfiguredStore } from '../compose/store.js';
import type { Flags } from './main.js';

export async function withDirectory<T>(
  flags: Flags,
  fn: (directory: Directory, config: Readonly<Config>, store: Store) => Promise<T>,
): Promise<T> {
  const config = loadConfig(configPath(flags.config));
  const store = await openConfiguredStore(config);
  try {
    const log = createLogger({ level: 'warn' });
    const dkim = new Dkim({ store, dataDir: config.data_dir, resolve: createResolver(config.dns.resolvers), log });
    return await fn(
      new Directory({ store, passwords: argon2Passwords, log, onDomainAdded: dkim.autoGenerate(config.dkim) }),
      config,
      store,
    );
  } finally {
    await store.close();
  }
}
