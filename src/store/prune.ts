/**
 * Bounded disk (issue #10 §5): old archive versions go, with their keys.
 *
 * A version is kept when it is one of the newest `keepVersions`, when `current` points at it, or
 * when nginx was last given it (deployments.version, or a version holding the deployed leaf) or
 * a failed deploy is waiting to retry it: removing any of those would leave `current`, a
 * rollback or a retry pointing at nothing. Scan history is pruned by ScanRepository.pruneBefore.
 *
 * The `issued` row of a removed version is deleted with it: `issued` describes the archive (one
 * row per version on disk), so `certs certificates` lists only versions whose files exist, and
 * `latest`/`maxVersion` are untouched because the newest version is always kept.
 *
 * The caller holds the lineage's `cert:<name>` lock, so no renewal or repair writes meanwhile.
 *
 * `compactDatabase` gives the space back: deleted rows leave holes in pages that later inserts
 * (always at the end of the tables) do not fill, so a year of daily pruning would still creep up.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, StoreError, errorMessage } from '../core/errors.js';
import { fsyncDir } from '../lib/atomic-write.js';
import { archiveVersions, currentVersion, lineageDir } from './archive.js';
import type { Db } from './db.js';

export interface ArchivePruneResult {
  /** Versions removed (files and `issued` row), ascending. */
  removed: number[];
  /** Versions left, ascending. */
  kept: number[];
}

/** Removes the archive versions of `lineage` that retention no longer needs. */
export function pruneArchive(db: Db, dataDir: string, lineage: string, keepVersions: number): ArchivePruneResult {
  if (!Number.isInteger(keepVersions) || keepVersions < 1) {
    throw new StoreError('invalid-argument', `store.retention.keepVersions must be an integer ≥ 1, got ${keepVersions}`);
  }
  const recorded = db.prepare('SELECT version FROM issued WHERE lineage = ?').pluck().all(lineage) as number[];
  const all = [...new Set([...archiveVersions(dataDir, lineage), ...recorded])].sort((a, b) => a - b);
  const keep = protectedVersions(db, dataDir, lineage);
  for (const v of all.slice(-keepVersions)) keep.add(v);

  const removed: number[] = [];
  let renamed = false;
  const archive = join(lineageDir(dataDir, lineage), 'archive');
  const forget = db.prepare('DELETE FROM issued WHERE lineage = ? AND version = ?');
  for (const v of all) {
    if (keep.has(v)) continue;
    renamed = removeVersionDir(archive, lineage, v) || renamed;
    // Files first, row second: a crash in between leaves a row whose files are gone, which the
    // next prune deletes; never files without the row that says which certificate they were.
    forget.run(lineage, v);
    removed.push(v);
  }
  if (renamed) fsyncDir(archive);
  return { removed, kept: all.filter((v) => keep.has(v)) };
}

function protectedVersions(db: Db, dataDir: string, lineage: string): Set<number> {
  const keep = new Set<number>();
  const current = currentVersion(dataDir, lineage);
  if (current !== null) keep.add(current);
  const rows = db
    .prepare(
      `SELECT version FROM deployments WHERE lineage = @lineage AND version IS NOT NULL
       UNION SELECT i.version FROM issued i JOIN deployments d ON d.lineage = i.lineage AND d.fingerprint256 = i.fingerprint256 WHERE i.lineage = @lineage
       UNION SELECT version FROM deploy_failures WHERE lineage = @lineage AND version IS NOT NULL`,
    )
    .pluck()
    .all({ lineage }) as number[];
  for (const v of rows) keep.add(v);
  return keep;
}

/**
 * Renames archive/<n> to a hidden `.tmp-` name first, then deletes it: a numbered directory is
 * always complete (see archive.ts), and a crash mid-delete leaves a temp directory that the next
 * archive write removes.
 */
export function removeVersionDir(archive: string, lineage: string, version: number): boolean {
  const dir = join(archive, String(version));
  const doomed = join(archive, `.tmp-prune-${version}-${randomBytes(6).toString('hex')}`);
  try {
    renameSync(dir, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // only the row was left
    throw new IoError('write-failed', `domain "${lineage}": cannot remove archive version ${version} (${dir}): ${errorMessage(err)}`, { cause: err });
  }
  try {
    rmSync(doomed, { recursive: true, force: true });
  } catch (err) {
    throw new IoError('write-failed', `domain "${lineage}": archive version ${version} was moved to ${doomed} but could not be deleted: ${errorMessage(err)}`, { cause: err });
  }
  return true;
}

/**
 * Rebuilds the database file without holes (VACUUM), then empties the WAL. VACUUM writes the whole
 * database once through the WAL, so it briefly needs its size again on disk; callers run it
 * seldom (weekly) and only once there was something to prune.
 */
export function compactDatabase(db: Db): { bytesBefore: number; bytesAfter: number } {
  const bytes = (): number => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  const bytesBefore = bytes();
  db.exec('VACUUM');
  truncateWal(db);
  return { bytesBefore, bytesAfter: bytes() };
}

/**
 * Checkpoints and truncates the WAL. SQLite otherwise keeps the WAL file at the size of the
 * largest transaction so far (a day's scans of 10,000 endpoints: tens of MB) for ever. A reader
 * still on an old snapshot makes it a no-op (busy), not an error; the next cycle tries again.
 */
export function truncateWal(db: Db): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * Run history by age: deletes runs started before `cutoff`, except the newest finished one (the
 * dashboard's "last run" of a daemon that has not run for months still says when it last did).
 * Returns the number of runs deleted. ISO 8601 strings from toISOString compare as their times.
 */
export function pruneRuns(db: Db, cutoff: Date): number {
  const cutoffMs = cutoff.getTime();
  if (!Number.isFinite(cutoffMs)) throw new StoreError('invalid-argument', `pruneRuns: cutoff must be a valid date, got ${String(cutoff)}`);
  return db
    .prepare(
      `DELETE FROM runs WHERE started_at < ?
         AND id IS NOT (SELECT id FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1)`,
    )
    .run(cutoff.toISOString()).changes;
}
