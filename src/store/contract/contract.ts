/**
 * The behaviour every Store backend must show. A backend's test file calls `storeContract` with a
 * factory that opens a fresh, empty store. Each area's cases live in a file of their own (directory,
 * mailboxes, messages, transactions, fulltext, queue, sieve, blobs, filtering, classifier, admin); this is the one list of them.
 */
import { describe } from 'node:test';
import type { Store } from '../index.js';
import { adminContract } from './admin.js';
import { blobContract } from './blobs.js';
import { changeLogContract } from './changes.js';
import { classifierContract } from './classifier.js';
import { directoryContract } from './directory.js';
import { filteringContract } from './filtering.js';
import { fullTextContract } from './fulltext.js';
import { withStoreFrom } from './helpers.js';
import { mailboxContract } from './mailboxes.js';
import { messageContract } from './messages.js';
import { queueContract } from './queue.js';
import { sieveContract } from './sieve.js';
import { transactionContract } from './transactions.js';

export function storeContract(backend: string, open: () => Promise<Store>): void {
  describe(`store contract: ${backend}`, () => {
    const withStore = withStoreFrom(open);
    directoryContract(withStore);
    mailboxContract(withStore);
    messageContract(withStore);
    transactionContract(withStore);
    fullTextContract(withStore);
    queueContract(withStore);
    sieveContract(withStore);
    blobContract(withStore);
    filteringContract(withStore);
    classifierContract(withStore);
    changeLogContract(withStore);
    adminContract(withStore);
  });
}
