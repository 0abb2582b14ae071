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
import { NodeRepository } from './nodes.js';
import { ScanBatchRepository } from './scan-batches.js';
import { ChallengeRepository } from './challenges.js';
import { defaultNodeName } from '../config/node.js';
import { certificateNotBefore, storedEndpoint, storedEndpoints, type StoredEndpoint } from './endpoint-ids.js';
import { leanScanRows, type LeanScanRow } from './dashboard-rows.js';
import { outboxMentioning, type OutboxMention } from './outbox-search.js';
import { compactDatabase, pruneArchive, pruneRuns, truncateWal, type ArchivePruneResult } from './prune.js';

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
export { NodeRepository, type NodeRow, type NodeLastRun } from './nodes.js';
export { NotificationRepository, type ActiveRow, type CommitRunInput, type NewOutboxMessage, type OutboxRow, type SeenCert, type SeenRow } from './notifications.js';
export { RenewalRepository, type AriState, type AttemptOutcome, type RenewalState } from './renewals.js';

export const DATABASE_FILE = 'certs.db';

/**
 * What the services read and maintain beyond the repositories, so that no service reaches for
 * the SQL connection itself (issue 15: the services must not know which engine they hold).
 */
export interface StoreViews {
  leanScanRows(): LeanScanRow[];
  storedEndpoints(): Map<string, StoredEndpoint>;
  storedEndpoint(id: number): StoredEndpoint | null;
  certificateNotBefore(fingerprints: readonly string[]): Map<string, string>;
  outboxMentioning(label: string, limit?: number): OutboxMention[];
}

export interface StoreMaintenance {
  /** Deletes finished runs started before `cutoff`, keeping the newest finished one. */
  pruneRuns(cutoff: Date): number;
  /** Removes archive versions of a lineage beyond `keepVersions` (never the current, deployed or retry one). */
  pruneArchive(dataDir: string, lineage: string, keepVersions: number): ArchivePruneResult;
  /** Rebuilds the file without free pages. */
  compact(): { bytesBefore: number; bytesAfter: number };
  /** Empties the write-ahead log into the file. */
  truncateWal(): void;
}

export interface Store {
  readonly db: Db;
  /** The node this store reads and writes deployments for (issue 16). */
  readonly node: string;
  readonly scans: ScanRepository;
  readonly accounts: AccountRepository;
  readonly issued: IssuedRepository;
  readonly renewals: RenewalRepository;
  readonly locks: LockRepository;
  readonly deployments: DeploymentRepository;
  readonly notifications: NotificationRepository;
  readonly meta: MetaRepository;
  readonly runs: RunRepository;
  readonly nodes: NodeRepository;
  readonly scanBatches: ScanBatchRepository;
  readonly challenges: ChallengeRepository;
  /** Reads for the dashboard, shaped for fleets (see each function). */
  readonly views: StoreViews;
  /** Retention and upkeep of the store itself. */
  readonly maintenance: StoreMaintenance;
  /** Runs `read` in one read transaction: every read inside sees the same state of the store. */
  snapshot<T>(read: () => T): T;
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
  const node = opts.node ?? defaultNodeName();
  const scans = new ScanRepository(db);
  return {
    db,
    node,
    scans,
    accounts: new AccountRepository(db),
    issued: new IssuedRepository(db),
    renewals: new RenewalRepository(db),
    locks: new LockRepository(db, opts.clock),
    deployments: new DeploymentRepository(db, node),
    notifications: new NotificationRepository(db),
    meta: new MetaRepository(db),
    runs: new RunRepository(db),
    nodes: new NodeRepository(db),
    scanBatches: new ScanBatchRepository(db, scans),
    challenges: new ChallengeRepository(db),
    views: {
      leanScanRows: () => leanScanRows(db),
      storedEndpoints: () => storedEndpoints(db),
      storedEndpoint: (id) => storedEndpoint(db, id),
      certificateNotBefore: (fingerprints) => certificateNotBefore(db, fingerprints),
      outboxMentioning: (label, limit) => outboxMentioning(db, label, limit),
    },
    maintenance: {
      pruneRuns: (cutoff) => pruneRuns(db, cutoff),
      pruneArchive: (dataDir, lineage, keepVersions) => pruneArchive(db, dataDir, lineage, keepVersions),
      compact: () => compactDatabase(db),
      truncateWal: () => truncateWal(db),
    },
    snapshot: (read) => db.transaction(read).deferred(),
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
