/**
 * The SQLite engine behind the async store contract (store/contract.ts). The repositories stay
 * synchronous (better-sqlite3): each call runs at once and its result is handed back as a
 * resolved promise, so the embedded path costs one microtask per call and nothing else.
 *
 * snapshot(): better-sqlite3 cannot hold its transaction() across an await, so a snapshot is
 * BEGIN … COMMIT on the one connection, and while it is open every other caller of this store
 * waits its turn (a gate). Without the gate, a write from elsewhere in the process (the daemon's
 * run while the dashboard reads) would land inside the read transaction, and a snapshot that
 * failed would roll it back. Calls through the snapshot's own reader pass the gate.
 */
import type { Store } from './index.js';
import { readArchivePems } from './archive.js';
import type {
  AsyncStore, AccountStore, DeploymentStore, IssuedStore, LockStore, ChallengeStore, MetaStore, NodeStore, NotificationStore, ScanBatchStore, RenewalStore, RunStore, ScanStore, StoreReader, ViewStore, MaintenanceStore,
} from './contract.js';

type Gate = { held: Promise<void> | null };

/** `obj`'s listed methods as async functions (through the gate when one is given). */
function wrap<T extends object, K extends keyof T & string>(obj: T, names: readonly K[], gate: Gate | null): Record<K, (...a: unknown[]) => Promise<unknown>> {
  const out = {} as Record<K, (...a: unknown[]) => Promise<unknown>>;
  for (const name of names) {
    const fn = (obj[name] as unknown as (...a: unknown[]) => unknown).bind(obj);
    out[name] = gate === null
      ? async (...a) => fn(...a)
      : async (...a) => {
        while (gate.held !== null) await gate.held;
        return fn(...a);
      };
  }
  return out;
}

function readers(store: Store, gate: Gate | null, dataDir: string): StoreReader {
  return {
    scans: wrap(store.scans, ['record', 'recordMany', 'latest', 'statusRows', 'statusText', 'reportsById', 'history', 'detail', 'pruneHistory', 'pruneBefore'], gate) as unknown as ScanStore,
    accounts: wrap(store.accounts, ['get', 'save'], gate) as unknown as AccountStore,
    issued: {
      ...(wrap(store.issued, ['record', 'latest', 'byVersion', 'list', 'latestAll', 'maxVersion', 'markRevoked'], gate) as unknown as Omit<IssuedStore, 'putPems' | 'pems'>),
      // The archive on this machine is where SQLite's versions live: written before they are recorded.
      putPems: async () => undefined,
      pems: async (lineage, version) => readArchivePems(dataDir, lineage, version),
    },
    renewals: wrap(store.renewals, ['get', 'all', 'recordFailure', 'recordSuccess', 'setAri', 'attemptStarted', 'attemptFinished', 'attempts'], gate) as unknown as RenewalStore,
    locks: wrap(store.locks, ['tryAcquire', 'heartbeat', 'release', 'holder'], gate) as unknown as LockStore,
    deployments: wrap(store.deployments, ['get', 'all', 'everywhere', 'save', 'markVerified', 'markStale', 'recordFailure', 'clearFailure', 'failure', 'failures', 'failuresEverywhere'], gate) as unknown as DeploymentStore,
    notifications: wrap(store.notifications, ['sentKeys', 'seen', 'active', 'meta', 'commitRun', 'due', 'list', 'pendingCount', 'markDelivered', 'markFailed', 'claimDue', 'stillClaimed'], gate) as unknown as NotificationStore,
    meta: wrap(store.meta, ['get', 'set', 'getOrSet'], gate) as unknown as MetaStore,
    runs: wrap(store.runs, ['start', 'finish', 'latestFinished', 'list'], gate) as unknown as RunStore,
    nodes: wrap(store.nodes, ['heartbeat', 'list'], gate) as unknown as NodeStore,
    challenges: wrap(store.challenges, ['put', 'get', 'remove', 'pruneExpired'], gate) as unknown as ChallengeStore,
    views: wrap(store.views, ['leanScanRows', 'storedEndpoints', 'storedEndpoint', 'certificateNotBefore', 'outboxMentioning'], gate) as unknown as ViewStore,
  };
}

/** The synchronous SQLite store as an AsyncStore. `dataDir` is where its archive lives. */
export function asyncStore(store: Store, dataDir: string): AsyncStore {
  const gate: Gate = { held: null };
  const inside = readers(store, null, dataDir);
  return {
    engine: 'sqlite',
    node: store.node,
    scanBatches: wrap(store.scanBatches, ['openCycle', 'claim', 'extend', 'complete', 'progress', 'pruneBefore'], gate) as unknown as ScanBatchStore,
    location: store.db.name,
    ...readers(store, gate, dataDir),
    maintenance: wrap(store.maintenance, ['pruneRuns', 'pruneArchive', 'compact', 'truncateWal'], gate) as unknown as MaintenanceStore,
    async snapshot(read) {
      while (gate.held !== null) await gate.held;
      let open!: () => void;
      gate.held = new Promise<void>((resolve) => (open = resolve));
      try {
        store.db.exec('BEGIN DEFERRED');
        try {
          const out = await read(inside);
          store.db.exec('COMMIT');
          return out;
        } catch (err) {
          if (store.db.inTransaction) store.db.exec('ROLLBACK');
          throw err;
        }
      } finally {
        gate.held = null;
        open();
      }
    },
    async assertWritable() {
      while (gate.held !== null) await gate.held;
      store.assertWritable();
    },
    async close() {
      store.close();
    },
  };
}
