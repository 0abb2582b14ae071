/**
 * RenewalStore on PostgreSQL (issue 15): store/renewals.ts's RenewalRepository. SQLite's
 * "ensure the row, then update it" in one transaction is one INSERT … ON CONFLICT DO UPDATE here:
 * atomic on its own, and two nodes recording at once both count (the increment runs on the row
 * as committed, not as read).
 */
import { fencedWrite } from './locks.js';
import type { Fence } from '../fence.js';
import { renewalFromRow as fromRow, type AriState, type AttemptOutcome, type RenewalRow as Row, type RenewalState } from '../renewals.js';
import type { RenewalStore } from '../contract.js';
import type { PgQueryable } from './db.js';

const COLUMNS = 'lineage, failures, next_attempt_at, last_attempt_at, last_success_at, last_error, last_error_code, ari_cert_id, ari_start, ari_end, ari_chosen, ari_retry_after, ari_explanation_url';


type Attempt = { startedAt: string; finishedAt: string | null; outcome: AttemptOutcome | null; reason: string | null; error: string | null };

/** SQLite reads a negative LIMIT as "no limit"; PostgreSQL refuses one, and LIMIT NULL is its "no limit". */
export const pgLimit = (limit: number): number | null => (limit < 0 ? null : limit);

export class PgRenewalStore implements RenewalStore {
  constructor(private readonly db: PgQueryable) {}

  async get(lineage: string): Promise<RenewalState | null> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM renewal_state WHERE lineage = $1`, [lineage]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async all(): Promise<Map<string, RenewalState>> {
    // A Map: its order is not part of the contract; sorted only so that it is stable.
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM renewal_state ORDER BY lineage COLLATE "C"`);
    return new Map(rows.map((r) => [r.lineage, fromRow(r)]));
  }

  async recordFailure(lineage: string, f: { at: string; error: string; code: string; nextAttemptAt: string }, fence?: Fence): Promise<void> {
    await fencedWrite(this.db, fence, (q) => q.query(`INSERT INTO renewal_state (lineage, failures, last_attempt_at, last_error, last_error_code, next_attempt_at) VALUES ($1, 1, $2, $3, $4, $5)
      ON CONFLICT (lineage) DO UPDATE SET failures = renewal_state.failures + 1, last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error,
        last_error_code = excluded.last_error_code, next_attempt_at = excluded.next_attempt_at`,
    [lineage, f.at, f.error, f.code, f.nextAttemptAt]));
  }

  /** A success clears the failure count, the error and the backoff, and the ARI window of the old certificate. */
  async recordSuccess(lineage: string, at: string, fence?: Fence): Promise<void> {
    // A new row has every other column at its default (0 failures, NULLs): what the update sets.
    await fencedWrite(this.db, fence, (q) => q.query(`INSERT INTO renewal_state (lineage, failures, last_attempt_at, last_success_at) VALUES ($1, 0, $2, $2)
      ON CONFLICT (lineage) DO UPDATE SET failures = 0, last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at,
        last_error = NULL, last_error_code = NULL, next_attempt_at = NULL,
        ari_cert_id = NULL, ari_start = NULL, ari_end = NULL, ari_chosen = NULL, ari_retry_after = NULL, ari_explanation_url = NULL`,
    [lineage, at]));
  }

  async setAri(lineage: string, ari: AriState): Promise<void> {
    await this.db.query(`INSERT INTO renewal_state (lineage, ari_cert_id, ari_start, ari_end, ari_chosen, ari_retry_after, ari_explanation_url) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (lineage) DO UPDATE SET ari_cert_id = excluded.ari_cert_id, ari_start = excluded.ari_start, ari_end = excluded.ari_end, ari_chosen = excluded.ari_chosen,
        ari_retry_after = excluded.ari_retry_after, ari_explanation_url = excluded.ari_explanation_url`,
    [lineage, ari.certId, ari.start, ari.end, ari.chosen, ari.retryAfter, ari.explanationUrl]);
  }

  async attemptStarted(lineage: string, at: string, reason: string, node: string | null = null): Promise<number> {
    const { rows } = await this.db.query<{ id: number | string }>('INSERT INTO renewal_attempts (lineage, started_at, reason, node) VALUES ($1, $2, $3, $4) RETURNING id', [lineage, at, reason, node]);
    return Number(rows[0]!.id);
  }

  async attemptFinished(id: number, f: { at: string; outcome: AttemptOutcome; error?: string | null; orderUrl?: string | null }): Promise<void> {
    await this.db.query('UPDATE renewal_attempts SET finished_at = $1, outcome = $2, error = $3, order_url = $4 WHERE id = $5', [f.at, f.outcome, f.error ?? null, f.orderUrl ?? null, id]);
  }

  async attempts(lineage: string, limit = 20): Promise<Attempt[]> {
    const { rows } = await this.db.query<{ started_at: string; finished_at: string | null; outcome: AttemptOutcome | null; reason: string | null; error: string | null }>(
      'SELECT started_at, finished_at, outcome, reason, error FROM renewal_attempts WHERE lineage = $1 ORDER BY id DESC LIMIT $2', [lineage, pgLimit(limit)]);
    return rows.map((r) => ({ startedAt: r.started_at, finishedAt: r.finished_at, outcome: r.outcome, reason: r.reason, error: r.error }));
  }
}
