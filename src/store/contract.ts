/**
 * The engine-independent store (issue 15): what src/service and src/cli hold. Two engines
 * implement it — `sqlite` (store/sqlite-async.ts, over the synchronous repositories) and
 * `postgres` (store/pg/). Every method is async so that a network engine fits; the SQLite engine
 * answers in the same tick's microtask, so the embedded path pays one resolved promise per call.
 *
 * Each repository's methods are the SQLite repository's public methods, made async: the same
 * names, arguments, row types and promises (ordering, what null means, atomicity are documented
 * on those methods and pinned by test/contract/store-contract.ts, which runs on both engines).
 * Deriving the types keeps the two engines from drifting apart one method at a time.
 */
import type { ScanRepository } from './scans.js';
import type { AccountRepository } from './accounts.js';
import type { IssuedRepository } from './issued.js';
import type { RenewalRepository } from './renewals.js';
import type { LockRepository } from './locks.js';
import type { DeploymentRepository } from './deployments.js';
import type { NotificationRepository } from './notifications.js';
import type { MetaRepository } from './meta.js';
import type { RunRepository } from './runs.js';
import type { NodeRepository } from './nodes.js';
import type { ScanBatchRepository } from './scan-batches.js';
import type { ChallengeRepository } from './challenges.js';
import type { StoreMaintenance, StoreViews } from './index.js';
import type { CertPems } from './archive.js';
import type { Fence } from './fence.js';

/** `T`'s methods, each returning a promise of what it returned. */
export type AsyncOf<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export type ScanStore = AsyncOf<Pick<ScanRepository,
  'record' | 'recordMany' | 'latest' | 'statusRows' | 'statusText' | 'reportsById' | 'history' | 'detail' | 'pruneHistory' | 'pruneBefore'>>;
export type AccountStore = AsyncOf<Pick<AccountRepository, 'get' | 'save'>>;
export type RenewalStore = AsyncOf<Pick<RenewalRepository, 'get' | 'all' | 'recordFailure' | 'recordSuccess' | 'setAri' | 'attemptStarted' | 'attemptFinished' | 'attempts'>>;
export type LockStore = AsyncOf<Pick<LockRepository, 'tryAcquire' | 'heartbeat' | 'release' | 'holder'>>;
export type DeploymentStore = AsyncOf<Pick<DeploymentRepository,
  'get' | 'all' | 'everywhere' | 'save' | 'markVerified' | 'markStale' | 'recordFailure' | 'clearFailure' | 'failure' | 'failures' | 'failuresEverywhere'>>;
export type NotificationStore = AsyncOf<Pick<NotificationRepository,
  'sentKeys' | 'seen' | 'active' | 'meta' | 'commitRun' | 'due' | 'list' | 'pendingCount' | 'markDelivered' | 'markFailed' | 'claimDue' | 'stillClaimed'>>;
export type MetaStore = AsyncOf<Pick<MetaRepository, 'get' | 'set' | 'getOrSet'>>;
export type RunStore = AsyncOf<Pick<RunRepository, 'start' | 'finish' | 'latestFinished' | 'list'>>;
export type NodeStore = AsyncOf<Pick<NodeRepository, 'heartbeat' | 'list'>>;
export type ScanBatchStore = AsyncOf<Pick<ScanBatchRepository, 'openCycle' | 'claim' | 'extend' | 'complete' | 'progress' | 'pruneBefore'>>;
export type ChallengeStore = AsyncOf<Pick<ChallengeRepository, 'put' | 'get' | 'remove' | 'pruneExpired'>>;
export type ViewStore = AsyncOf<StoreViews>;
export type MaintenanceStore = AsyncOf<StoreMaintenance>;

/**
 * Issued versions. Beyond the SQLite repository's methods, the certificate files themselves:
 * with `sqlite` the archive directory on this machine is where they live (putPems is a no-op and
 * pems reads the archive); with `postgres` every version's PEMs and its sealed private key live
 * in the database, so any node can materialise them (store/materialise.ts).
 */
export type IssuedStore = AsyncOf<Pick<IssuedRepository, 'record' | 'latest' | 'byVersion' | 'list' | 'latestAll' | 'maxVersion' | 'markRevoked'>> & {
  /** Stores a version's files (postgres: the key sealed under the key-encryption key). Idempotent. */
  putPems(lineage: string, version: number, pems: CertPems, fence?: Fence): Promise<void>;
  /** A version's files, or null when the store does not hold them (sqlite: not in the archive). */
  pems(lineage: string, version: number): Promise<CertPems | null>;
};

export type StoreEngine = 'sqlite' | 'postgres';

/** What a read-only snapshot offers: every repository, read within one transaction. */
export interface StoreReader {
  readonly scans: ScanStore;
  readonly accounts: AccountStore;
  readonly issued: IssuedStore;
  readonly renewals: RenewalStore;
  readonly locks: LockStore;
  readonly deployments: DeploymentStore;
  readonly notifications: NotificationStore;
  readonly meta: MetaStore;
  readonly runs: RunStore;
  readonly nodes: NodeStore;
  readonly challenges: ChallengeStore;
  readonly views: ViewStore;
}

export interface AsyncStore extends StoreReader {
  readonly engine: StoreEngine;
  /** A cycle's scan split into batches that the nodes of a cluster claim (issue 16). */
  readonly scanBatches: ScanBatchStore;
  /** This node's name (issue 16): deployments are read and written as its own. */
  readonly node: string;
  /** Where it is, for messages: the SQLite file, or the PostgreSQL target without its password. */
  readonly location: string;
  readonly maintenance: MaintenanceStore;
  /**
   * Runs `read` in one read transaction: every read through `tx` sees the same state. Other
   * callers of this store wait until it ends (sqlite: one connection; postgres: its own client).
   */
  snapshot<T>(read: (tx: StoreReader) => Promise<T>): Promise<T>;
  /** Fails fast (StoreError 'busy' or 'connection') when the store cannot be written now. */
  assertWritable(): Promise<void>;
  /** Closes the connection(s); safe to call twice. */
  close(): Promise<void>;
}
