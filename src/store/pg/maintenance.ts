/**
 * Retention and upkeep of a PostgreSQL store (MaintenanceStore; store/prune.ts on SQLite).
 *
 * - pruneRuns, pruneArchive: the same rules as prune.ts. With `postgres` a version's files live in
 *   issued_files (any node can materialise them), so a removed version loses its issued row AND
 *   its issued_files row, in one transaction, after this machine's archive directory of it is
 *   gone (files first, rows second, as on SQLite: a crash in between leaves rows whose local files
 *   are gone, which the next prune deletes). Other nodes' copies of a removed version are removed
 *   by their own prune (their archive still lists the version).
 * - compact: plain VACUUM (ANALYZE) of the certs tables. SQLite's VACUUM is there because SQLite
 *   appends new rows at the end of a table and never refills the holes deleted rows leave;
 *   PostgreSQL's free space map does refill them once VACUUM (or autovacuum) has marked them free,
 *   so marking is what bounds the size. VACUUM FULL would give the space back to the file system
 *   but holds an ACCESS EXCLUSIVE lock on each table while it rewrites it, stopping every node's
 *   reads and writes: not something a weekly job of one node may do to the others.
 *   bytesBefore/bytesAfter are pg_database_size of the database (VACUUM shrinks a table only by
 *   its empty pages at the end, so they may well be equal).
 * - truncateWal: nothing to do. The WAL belongs to the server: checkpoints recycle it within
 *   max_wal_size, and a client cannot truncate it (pg_switch_wal needs superuser and only starts
 *   a new segment). SQLite needs the call because its WAL file keeps its largest size for ever.
 */
import { StoreError } from '../../core/errors.js';
import { fsyncDir } from '../../lib/atomic-write.js';
import { archiveVersions, currentVersion, lineageDir } from '../archive.js';
import type { MaintenanceStore } from '../contract.js';
import type { ArchivePruneResult } from '../prune.js';
import { removeVersionDir } from '../prune.js';
import { join } from 'node:path';
import type { PgDb } from './db.js';
import { asStoreError } from './scans.js';

/** The tables certs owns (pg/schema.ts), vacuumed by compact. */
const CERTS_TABLES = [
  'certificates', 'endpoints', 'scans', 'scan_results', 'acme_accounts', 'issued', 'issued_files', 'renewal_state',
  'renewal_attempts', 'locks', 'deployments', 'deploy_failures', 'notify_sent', 'notify_active', 'outbox', 'notify_meta',
  'meta', 'runs', 'notify_seen',
];

export class PgMaintenanceStore implements MaintenanceStore {
  constructor(private readonly db: PgDb) {}

  /** Deletes runs started before `cutoff`, except the newest finished one. Returns runs deleted. */
  async pruneRuns(cutoff: Date): Promise<number> {
    const cutoffMs = cutoff.getTime();
    if (!Number.isFinite(cutoffMs)) throw new StoreError('invalid-argument', `pruneRuns: cutoff must be a valid date, got ${String(cutoff)}`);
    try {
      // ISO 8601 strings from toISOString compare as their times bytewise (COLLATE "C", as SQLite compares).
      const { rowCount } = await this.db.query(
        `DELETE FROM runs WHERE started_at COLLATE "C" < $1
           AND id IS DISTINCT FROM (SELECT id FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1)`,
        [cutoff.toISOString()],
      );
      return rowCount ?? 0;
    } catch (err) {
      throw asStoreError(err, 'pruning run history');
    }
  }

  /** Removes the versions of `lineage` retention no longer needs (store/prune.ts pruneArchive). */
  async pruneArchive(dataDir: string, lineage: string, keepVersions: number): Promise<ArchivePruneResult> {
    if (!Number.isInteger(keepVersions) || keepVersions < 1) {
      throw new StoreError('invalid-argument', `store.retention.keepVersions must be an integer ≥ 1, got ${keepVersions}`);
    }
    let recorded: number[];
    let deployed: number[];
    try {
      recorded = (await this.db.query<{ version: number | string }>('SELECT version FROM issued WHERE lineage = $1', [lineage])).rows.map((r) => Number(r.version));
      deployed = (
        await this.db.query<{ version: number | string }>(
          `SELECT version FROM deployments WHERE lineage = $1 AND version IS NOT NULL
           UNION SELECT i.version FROM issued i JOIN deployments d ON d.lineage = i.lineage AND d.fingerprint256 = i.fingerprint256 WHERE i.lineage = $1
           UNION SELECT version FROM deploy_failures WHERE lineage = $1 AND version IS NOT NULL`,
          [lineage],
        )
      ).rows.map((r) => Number(r.version));
    } catch (err) {
      throw asStoreError(err, `reading the archive versions of ${lineage}`);
    }
    const all = [...new Set([...archiveVersions(dataDir, lineage), ...recorded])].sort((a, b) => a - b);
    const keep = new Set<number>(deployed);
    const current = currentVersion(dataDir, lineage);
    if (current !== null) keep.add(current);
    for (const v of all.slice(-keepVersions)) keep.add(v);

    const removed: number[] = [];
    let renamed = false;
    const archive = join(lineageDir(dataDir, lineage), 'archive');
    for (const v of all) {
      if (keep.has(v)) continue;
      renamed = removeVersionDir(archive, lineage, v) || renamed;
      try {
        await this.db.tx(async (q) => {
          await q.query('DELETE FROM issued_files WHERE lineage = $1 AND version = $2', [lineage, v]);
          await q.query('DELETE FROM issued WHERE lineage = $1 AND version = $2', [lineage, v]);
        });
      } catch (err) {
        throw asStoreError(err, `forgetting archive version ${v} of ${lineage}`);
      }
      removed.push(v);
    }
    if (renamed) fsyncDir(archive);
    return { removed, kept: all.filter((v) => keep.has(v)) };
  }

  /** VACUUM (ANALYZE) of the certs tables (see the top of this file for why not FULL). */
  async compact(): Promise<{ bytesBefore: number; bytesAfter: number }> {
    try {
      const bytesBefore = await this.size();
      // VACUUM cannot run inside a transaction block: on the pool, each statement is its own.
      await this.db.query(`VACUUM (ANALYZE) ${CERTS_TABLES.join(', ')}`);
      return { bytesBefore, bytesAfter: await this.size() };
    } catch (err) {
      throw asStoreError(err, 'compacting the database');
    }
  }

  /** Nothing: the server keeps its WAL within max_wal_size (see the top of this file). */
  async truncateWal(): Promise<void> {}

  private async size(): Promise<number> {
    const { rows } = await this.db.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes');
    return Number(rows[0]!.bytes);
  }
}
