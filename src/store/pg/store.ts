/**
 * The PostgreSQL engine as an AsyncStore (issue 15): the pg/ repositories over one pool.
 *
 * Opening for writing runs pending migrations (pg/migrate.ts, under an advisory lock, so two
 * processes starting at once never migrate twice). Opening read-only runs none: a database with
 * no certs schema yet is "nothing stored" (null, as SQLite's missing file), one that still needs
 * a migration is refused with schema-outdated, as on SQLite.
 *
 * A snapshot is a REPEATABLE READ, READ ONLY transaction on a client of its own; other callers of
 * the store meanwhile use the rest of the pool (no gate needed, unlike SQLite's one connection).
 */
import { StoreError } from '../../core/errors.js';
import { defaultNodeName } from '../../config/node.js';
import { parseKek, type Kek } from '../../lib/kek.js';
import { parsePgUrl } from '../../lib/pg-url.js';
import type { AsyncStore, StoreReader } from '../contract.js';
import { describeTarget } from './connect.js';
import { openPgDb, type PgDb, type PgQueryable } from './db.js';
import { applyPgMigrations, pgSchemaVersion } from './migrate.js';
import { PG_MIGRATIONS } from './schema.js';
import { PgAccountStore } from './accounts.js';
import { PgDeploymentStore } from './deployments.js';
import { PgIssuedStore } from './issued.js';
import { PgLockStore } from './locks.js';
import { PgMaintenanceStore } from './maintenance.js';
import { PgMetaStore } from './meta.js';
import { PgNotificationStore } from './notifications.js';
import { PgRenewalStore } from './renewals.js';
import { PgRunStore } from './runs.js';
import { PgNodeStore } from './nodes.js';
import { PgScanBatchStore } from './scan-batches.js';
import { PgChallengeStore } from './challenges.js';
import { PgScanStore } from './scans.js';
import { PgViewStore } from './views.js';

export interface PgStoreOptions {
  /** store.keyEncryptionKey as configured (base64): seals new private keys, opens stored ones. */
  keyEncryptionKey: string;
  /** Further keys that may open stored private keys (a previous one during rotate-key). */
  previousKeys?: readonly Kek[];
  /** No migration, nothing created: null when the database holds no certs schema yet. */
  readonly?: boolean;
  /** Milliseconds since the epoch, for lock leases (tests inject a clock). */
  clock?: () => number;
  poolSize?: number;
  /** This node's name (issue 16): whose deployments the store reads and writes. Default: the host name. */
  node?: string;
}

function readers(q: PgQueryable, db: PgDb | PgQueryable, keks: { seal: Kek; open: readonly Kek[] }, clock: () => number, node: string): StoreReader {
  return {
    scans: new PgScanStore(db),
    accounts: new PgAccountStore(q),
    issued: new PgIssuedStore(q, keks),
    renewals: new PgRenewalStore(q),
    locks: new PgLockStore(q, clock),
    deployments: new PgDeploymentStore(q, node),
    notifications: new PgNotificationStore(db),
    meta: new PgMetaStore(q),
    runs: new PgRunStore(q),
    nodes: new PgNodeStore(q),
    challenges: new PgChallengeStore(q),
    views: new PgViewStore(q),
  };
}

export async function openPgStore(url: string, opts: PgStoreOptions & { readonly: true }): Promise<AsyncStore | null>;
export async function openPgStore(url: string, opts: PgStoreOptions): Promise<AsyncStore>;
export async function openPgStore(url: string, opts: PgStoreOptions): Promise<AsyncStore | null> {
  const target = parsePgUrl(url);
  const kek = parseKek(opts.keyEncryptionKey, 'store.keyEncryptionKey');
  const keks = { seal: kek, open: [kek, ...(opts.previousKeys ?? [])] };
  const clock = opts.clock ?? Date.now;
  const node = opts.node ?? defaultNodeName();
  const db = await openPgDb(target, opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {});
  try {
    if (opts.readonly) {
      const version = await pgSchemaVersion(db);
      if (version === 0) {
        await db.close();
        return null;
      }
      const latest = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
      if (version < latest) {
        throw new StoreError('schema-outdated', `${describeTarget(target)} has schema version ${version} but this certs needs ${latest}; run a command that writes (certs scan or certs run) once to upgrade it`);
      }
      if (version > latest) throw new StoreError('schema-too-new', `${describeTarget(target)} has schema version ${version}, newer than this certs knows (${latest}); upgrade certs`);
    } else {
      await applyPgMigrations(db);
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  return {
    engine: 'postgres',
    node,
    scanBatches: new PgScanBatchStore(db),
    location: describeTarget(target),
    ...readers(db, db, keks, clock, node),
    maintenance: new PgMaintenanceStore(db),
    snapshot: (read) => db.tx((q) => read(readers(q, q, keks, clock, node)), { isolation: 'repeatable read', readOnly: true }),
    async assertWritable() {
      // A standby (or default_transaction_read_only) refuses writes: say so before a long scan.
      const r = await db.query<{ ro: string }>("SELECT current_setting('transaction_read_only') AS ro");
      if (r.rows[0]?.ro === 'on') throw new StoreError('read-only', `${describeTarget(target)} accepts no writes (a standby, or default_transaction_read_only is on)`);
    },
    close: () => db.close(),
  };
}
