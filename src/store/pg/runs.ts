/**
 * RunStore on PostgreSQL (issue 15): store/runs.ts's RunRepository, same rows and the same
 * error for finishing a run that is not recorded. Ids come back as JS numbers.
 */
import { StoreError } from '../../core/errors.js';
import type { RunOutcome, RunRow, RunSummary } from '../runs.js';
import type { RunStore } from '../contract.js';
import type { PgQueryable } from './db.js';
import { pgLimit } from './renewals.js';

interface DbRow {
  id: number | string;
  started_at: string;
  finished_at: string | null;
  outcome: RunOutcome | null;
  exit_code: number | string | null;
  summary_json: string | null;
}

const EMPTY: RunSummary = { renewed: [], deployed: [], failed: [], notified: 0 };

// The same defensive reading as SQLite's (store/runs.ts): a row written by another version of
// certs may carry more or fewer fields.
function summaryOf(json: string | null): RunSummary | null {
  if (json === null) return null;
  try {
    const v = JSON.parse(json) as Partial<RunSummary>;
    const list = (x: unknown): string[] => (Array.isArray(x) ? x.filter((e): e is string => typeof e === 'string') : []);
    return { renewed: list(v.renewed), deployed: list(v.deployed), failed: list(v.failed), notified: typeof v.notified === 'number' ? v.notified : 0 };
  } catch {
    return { ...EMPTY };
  }
}

const fromDb = (r: DbRow): RunRow => ({
  id: Number(r.id),
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  outcome: r.outcome,
  exitCode: r.exit_code === null ? null : Number(r.exit_code),
  summary: summaryOf(r.summary_json),
});

const COLUMNS = 'id, started_at, finished_at, outcome, exit_code, summary_json';

export class PgRunStore implements RunStore {
  constructor(private readonly db: PgQueryable) {}

  /** Records a run's start; returns its id for `finish`. */
  async start(startedAt: string, node: string | null = null): Promise<number> {
    const { rows } = await this.db.query<{ id: number | string }>('INSERT INTO runs (started_at, node) VALUES ($1, $2) RETURNING id', [startedAt, node]);
    return Number(rows[0]!.id);
  }

  /** Records how run `id` ended. */
  async finish(id: number, f: { finishedAt: string; outcome: RunOutcome; exitCode: number | null; summary: RunSummary }): Promise<void> {
    const { rowCount } = await this.db.query('UPDATE runs SET finished_at = $1, outcome = $2, exit_code = $3, summary_json = $4 WHERE id = $5',
      [f.finishedAt, f.outcome, f.exitCode, JSON.stringify(f.summary), id]);
    if (rowCount === 0) throw new StoreError('invalid-argument', `run ${id} is not recorded (pruned, or never started)`);
  }

  /** The newest finished run, or null before the first one finished. */
  async latestFinished(): Promise<RunRow | null> {
    const { rows } = await this.db.query<DbRow>(`SELECT ${COLUMNS} FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`);
    return rows[0] ? fromDb(rows[0]) : null;
  }

  /** The newest runs first, finished or not. */
  async list(limit = 20): Promise<RunRow[]> {
    const { rows } = await this.db.query<DbRow>(`SELECT ${COLUMNS} FROM runs ORDER BY id DESC LIMIT $1`, [pgLimit(limit)]);
    return rows.map(fromDb);
  }
}
