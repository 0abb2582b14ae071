/**
 * Retention at the end of every cycle (`certs run`, the daemon): scan history and run history
 * older than `store.retention.scanDays` (each endpoint's latest scan and the last finished run
 * stay) and archive versions beyond
 * `store.retention.keepVersions`. A failure is reported, never thrown: the cycle's own work is done
 * by then, and the next cycle tries again.
 */
import { errorMessage } from '../core/errors.js';
import type { Config } from '../config/types.js';
import type { AsyncStore } from '../store/contract.js';
import { localCertLock, tryLease } from './lease.js';

const DAY_MS = 86_400_000;
/** How often the file is rebuilt without holes (see compactDatabase); meta key of the last time. */
const VACUUM_EVERY_MS = 7 * DAY_MS;
const VACUUMED_AT = 'store.vacuumedAt';

export interface PruneReport {
  scans: number;
  /** Stored certificates no remaining scan refers to. */
  certificates: number;
  /** Archive versions removed, keys included. */
  versions: number;
  /** Recorded runs (the `runs` table) removed. */
  runs: number;
  /** Whether the database file was rebuilt (VACUUM) this time: at most weekly. */
  vacuumed: boolean;
  /** Lineages left alone this time because another process held their `cert:<name>` lock. */
  skipped: string[];
  errors: string[];
}

export async function pruneStore(config: Config, store: AsyncStore, opts: { now: Date; owner: string }): Promise<PruneReport> {
  const { scanDays, keepVersions } = config.store.retention;
  const out: PruneReport = { scans: 0, certificates: 0, versions: 0, runs: 0, vacuumed: false, skipped: [], errors: [] };
  try {
    const counts = await store.scans.pruneBefore(new Date(opts.now.getTime() - scanDays * DAY_MS));
    out.scans = counts.scans;
    out.certificates = counts.certificates;
  } catch (err) {
    out.errors.push(`scan history: ${errorMessage(err)}`);
  }
  try {
    out.runs = await store.maintenance.pruneRuns(new Date(opts.now.getTime() - scanDays * DAY_MS));
  } catch (err) {
    out.errors.push(`run history: ${errorMessage(err)}`);
  }
  // Cluster bookkeeping (issue 16), not history: scan cycles' batches after two days (no cycle
  // runs that long), shared http-01 tokens a crash left after they expired.
  try {
    await store.scanBatches.pruneBefore(opts.now.getTime() - 2 * DAY_MS);
    await store.challenges.pruneExpired(opts.now.getTime());
  } catch (err) {
    out.errors.push(`cluster bookkeeping: ${errorMessage(err)}`);
  }

  // Lineages of the inventory and those removed from it: their archives hold keys too.
  let lineages: string[];
  try {
    const managed = config.domains.filter((d) => d.managed).map((d) => d.name);
    lineages = [...new Set([...managed, ...(await store.issued.list()).map((c) => c.lineage)])];
  } catch (err) {
    out.errors.push(`archive: ${errorMessage(err)}`);
    return out;
  }
  for (const lineage of lineages) {
    const lease = await tryLease(store.locks, localCertLock(store, lineage), opts.owner);
    if (!lease) {
      out.skipped.push(lineage);
      continue;
    }
    try {
      out.versions += (await store.maintenance.pruneArchive(config.dataDir, lineage, keepVersions)).removed.length;
    } catch (err) {
      out.errors.push(`archive of ${lineage}: ${errorMessage(err)}`);
    } finally {
      await lease.release();
    }
  }
  await compact(store, opts.now, out);
  return out;
}

async function compact(store: AsyncStore, now: Date, out: PruneReport): Promise<void> {
  try {
    // Weekly rather than only after deletions: dropping the bytes of certificates no longer
    // served (ScanRepository.pruneBefore) leaves holes from the first days on.
    const last = Date.parse((await store.meta.get(VACUUMED_AT)) ?? '');
    // A clock that went backwards (last in the future) counts as due rather than never.
    const due = Number.isNaN(last) || now.getTime() - last >= VACUUM_EVERY_MS || last > now.getTime();
    if (due) {
      await store.maintenance.compact();
      await store.meta.set(VACUUMED_AT, now.toISOString());
      out.vacuumed = true;
    }
    await store.maintenance.truncateWal();
  } catch (err) {
    out.errors.push(`compacting the database: ${errorMessage(err)}`);
  }
}
