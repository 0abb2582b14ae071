import { join } from 'node:path';
import { openDatabase, wrapSqliteError, type Db, type OpenDatabaseOptions } from './db.js';
import { ScanRepository } from './scans.js';
import { AccountRepository } from './accounts.js';
import { IssuedRepository } from './issued.js';
import { LockRepository } from './locks.js';
import { RenewalRepository } from './renewals.js';
import { DeploymentRepository } from './deployments.js';
import { NotificationRepository } from './notifications.js';
import { MetaRepository } from './meta.js';
import { RunRepository } from './runs.js';

export { openDatabase, applyMigrations, wrapSqliteError, type Db, type ErrorContext, type OpenDatabaseOptions, type StoreErrorCode } from './db.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
export {
  ScanRepository,
  type EndpointKey,
  type LatestFilter,
  type ReadOptions,
  type RecordExtra,
  type RecordItem,
  type ScanDetail,
} from './scans.js';

export { AccountRepository, type AccountRow } from './accounts.js';
export { IssuedRepository, type IssuedCert } from './issued.js';
export { LockRepository, type LockHolder } from './locks.js';
export { DeploymentRepository, type DeployFailureRow, type DeploymentRow } from './deployments.js';
export { MetaRepository } from './meta.js';
export { RunRepository, type RunOutcome, type RunRow, type RunSummary } from './runs.js';
export { NotificationRepository, type ActiveRow, type NewOutboxMessage, type OutboxRow } from './notifications.js';
export { RenewalRepository, type AriState, type AttemptOutcome, type RenewalState } from './renewals.js';

export const DATABASE_FILE = 'certs.db';

export interface Store {
  readonly db: Db;
  readonly scans: ScanRepository;
  readonly accounts: AccountRepository;
  readonly issued: IssuedRepository;
  readonly renewals: RenewalRepository;
  readonly locks: LockRepository;
  readonly deployments: DeploymentRepository;
  readonly notifications: NotificationRepository;
  readonly meta: MetaRepository;
  readonly runs: RunRepository;
  /**
   * Takes and releases the write lock, waiting up to the busy timeout: a database another
   * process is writing is reported before a long scan, not after its results are thrown away.
   */
  assertWritable(): void;
  /** Closes the connection; safe to call twice (it is called from `finally` blocks). */
  close(): void;
}

export function databasePath(dataDir: string): string {
  return join(dataDir, DATABASE_FILE);
}

/**
 * Opens `<dataDir>/certs.db` (see `openDatabase` for what that creates and checks).
 * With `readonly: true` it returns null when nothing has been stored yet ("no scans yet").
 */
export function openStore(dataDir: string, opts: OpenDatabaseOptions & { readonly: true }): Store | null;
export function openStore(dataDir: string, opts?: OpenDatabaseOptions & { readonly?: false }): Store;
export function openStore(dataDir: string, opts?: OpenDatabaseOptions): Store | null;
export function openStore(dataDir: string, opts: OpenDatabaseOptions = {}): Store | null {
  const db = openDatabase(databasePath(dataDir), opts);
  if (!db) return null;
  return {
    db,
    scans: new ScanRepository(db),
    accounts: new AccountRepository(db),
    issued: new IssuedRepository(db),
    renewals: new RenewalRepository(db),
    locks: new LockRepository(db, opts.clock),
    deployments: new DeploymentRepository(db),
    notifications: new NotificationRepository(db),
    meta: new MetaRepository(db),
    runs: new RunRepository(db),
    assertWritable() {
      try {
        db.exec('BEGIN IMMEDIATE; ROLLBACK');
      } catch (err) {
        throw wrapSqliteError(err, { path: databasePath(dataDir), busyTimeoutMs: opts.busyTimeoutMs ?? 5000 }, 'taking the write lock');
      }
    },
    close() {
      if (db.open) db.close();
    },
  };
}
