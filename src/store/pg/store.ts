/** The PostgreSQL engine as an AsyncStore (issue 15). Composed from the pg/ repositories. */
import { StoreError } from '../../core/errors.js';
import type { AsyncStore } from '../contract.js';

export interface PgStoreOptions {
  /** store.keyEncryptionKey as configured (base64). */
  keyEncryptionKey: string;
  readonly?: boolean;
  /** Milliseconds since the epoch, for lock leases (tests inject a clock). */
  clock?: () => number;
}

export async function openPgStore(_url: string, _opts: PgStoreOptions): Promise<AsyncStore> {
  throw new StoreError('connection', 'the postgres store engine is not assembled yet');
}
