/**
 * The `runs` table (migration 8): one row per cycle of `certs run` or the daemon, written when it
 * starts and again when it ends, for the dashboard's "last run" (issue 13). The meta key
 * `lastRun` (service/run.ts) stays what /healthz and /metrics read; this is the history.
 */
import { StoreError } from '../core/errors.js';
import { wrapSqliteError, type Db } from './db.js';

export type RunOutcome = 'ok' | 'warning' | 'critical' | 'failed' | 'error';

/** What a run did, kept as JSON (summary_json): domains, never messages (they may name URLs). */
export interface RunSummary {
  renewed: string[];
  deployed: string[];
  /** Domains whose renewal, deploy or delivery failed. */
  failed: string[];
  /** Notifications the run queued. */
  notified: number;
}

export interface RunRow {
  id: number;
  startedAt: string;
  /** Null while the run is in progress, or for ever when it was killed. */
  finishedAt: string | null;
  outcome: RunOutcome | null;
  exitCode: number | null;
  summary: RunSummary | null;
}

interface DbRow {
  id: number;
  started_at: string;
  finished_at: string | null;
  outcome: RunOutcome | null;
  exit_code: number | null;
  summary_json: string | null;
}

const EMPTY: RunSummary = { renewed: [], deployed: [], failed: [], notified: 0 };

function summaryOf(json: string | null): RunSummary | null {
  if (json === null) return null;
  try {
    const v = JSON.parse(json) as Partial<RunSummary>;
    // Read defensively: a row written by a later version may have more, or fewer, fields.
    const list = (x: unknown): string[] => (Array.isArray(x) ? x.filter((e): e is string => typeof e === 'string') : []);
    return { renewed: list(v.renewed), deployed: list(v.deployed), failed: list(v.failed), notified: typeof v.notified === 'number' ? v.notified : 0 };
  } catch {
    return { ...EMPTY };
  }
}

const fromDb = (r: DbRow): RunRow => ({
  id: r.id,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  outcome: r.outcome,
  exitCode: r.exit_code,
  summary: summaryOf(r.summary_json),
});

export class RunRepository {
  constructor(private readonly db: Db) {}

  /** Records a run's start; returns its id for `finish`. */
  start(startedAt: string, node: string | null = null): number {
    try {
      return Number(this.db.prepare('INSERT INTO runs (started_at, node) VALUES (?, ?)').run(startedAt, node).lastInsertRowid);
    } catch (err) {
      throw this.wrap(err, 'recording a run');
    }
  }

  /** Records how run `id` ended. */
  finish(id: number, f: { finishedAt: string; outcome: RunOutcome; exitCode: number | null; summary: RunSummary }): void {
    try {
      const changes = this.db
        .prepare('UPDATE runs SET finished_at = ?, outcome = ?, exit_code = ?, summary_json = ? WHERE id = ?')
        .run(f.finishedAt, f.outcome, f.exitCode, JSON.stringify(f.summary), id).changes;
      if (changes === 0) throw new StoreError('invalid-argument', `run ${id} is not recorded (pruned, or never started)`);
    } catch (err) {
      throw this.wrap(err, 'recording a run');
    }
  }

  /** The newest finished run, or null before the first one finished. */
  latestFinished(): RunRow | null {
    const r = this.db.prepare('SELECT * FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1').get() as DbRow | undefined;
    return r ? fromDb(r) : null;
  }

  /** The newest runs first, finished or not. */
  list(limit = 20): RunRow[] {
    return (this.db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?').all(limit) as DbRow[]).map(fromDb);
  }

  private wrap(err: unknown, doing: string): StoreError {
    // StoreErrors (ours) pass through wrapSqliteError unchanged.
    const busyTimeoutMs = this.db.open ? (this.db.pragma('busy_timeout', { simple: true }) as number) : 0;
    return wrapSqliteError(err, { path: this.db.name, busyTimeoutMs }, doing);
  }
}
