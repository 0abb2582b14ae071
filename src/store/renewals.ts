import { assertFence, type Fence } from './fence.js';
import type { Db } from './db.js';

export interface AriState {
  certId: string;
  start: string;
  end: string;
  /** The moment picked inside the window (kept so every run agrees on it). */
  chosen: string;
  /** Do not ask again before this. */
  retryAfter: string;
  explanationUrl: string | null;
}

export interface RenewalState {
  lineage: string;
  failures: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorCode: string | null;
  ari: AriState | null;
}

/** A row of `renewal_state` on either engine (PostgreSQL hands integers over as strings). */
export interface RenewalRow {
  lineage: string;
  failures: number | string;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  last_error_code: string | null;
  ari_cert_id: string | null;
  ari_start: string | null;
  ari_end: string | null;
  ari_chosen: string | null;
  ari_retry_after: string | null;
  ari_explanation_url: string | null;
}

export function renewalFromRow(r: RenewalRow): RenewalState {
  const ari = r.ari_cert_id && r.ari_start && r.ari_end && r.ari_chosen && r.ari_retry_after
    ? { certId: r.ari_cert_id, start: r.ari_start, end: r.ari_end, chosen: r.ari_chosen, retryAfter: r.ari_retry_after, explanationUrl: r.ari_explanation_url }
    : null;
  return {
    lineage: r.lineage,
    failures: Number(r.failures),
    nextAttemptAt: r.next_attempt_at,
    lastAttemptAt: r.last_attempt_at,
    lastSuccessAt: r.last_success_at,
    lastError: r.last_error,
    lastErrorCode: r.last_error_code,
    ari,
  };
}

export type AttemptOutcome = 'issued' | 'failed' | 'dry-run';

/** Per-lineage renewal state (backoff, last error, ARI window) and the history of attempts. */
export class RenewalRepository {
  constructor(private readonly db: Db) {}

  get(lineage: string): RenewalState | null {
    const row = this.db.prepare('SELECT * FROM renewal_state WHERE lineage = ?').get(lineage) as RenewalRow | undefined;
    return row ? renewalFromRow(row) : null;
  }

  all(): Map<string, RenewalState> {
    const rows = this.db.prepare('SELECT * FROM renewal_state').all() as RenewalRow[];
    return new Map(rows.map((r) => [r.lineage, renewalFromRow(r)]));
  }

  private ensure(lineage: string): void {
    this.db.prepare('INSERT INTO renewal_state (lineage) VALUES (?) ON CONFLICT(lineage) DO NOTHING').run(lineage);
  }

  recordFailure(lineage: string, f: { at: string; error: string; code: string; nextAttemptAt: string }, fence?: Fence): void {
    this.db.transaction(() => {
      assertFence(this.db, fence);
      this.ensure(lineage);
      this.db.prepare('UPDATE renewal_state SET failures = failures + 1, last_attempt_at = ?, last_error = ?, last_error_code = ?, next_attempt_at = ? WHERE lineage = ?')
        .run(f.at, f.error, f.code, f.nextAttemptAt, lineage);
    }).immediate();
  }

  /** A success clears the failure count, the error and the backoff, and the ARI window of the old certificate. */
  recordSuccess(lineage: string, at: string, fence?: Fence): void {
    this.db.transaction(() => {
      assertFence(this.db, fence);
      this.ensure(lineage);
      this.db.prepare(`UPDATE renewal_state SET failures = 0, last_attempt_at = ?, last_success_at = ?, last_error = NULL, last_error_code = NULL, next_attempt_at = NULL,
        ari_cert_id = NULL, ari_start = NULL, ari_end = NULL, ari_chosen = NULL, ari_retry_after = NULL, ari_explanation_url = NULL WHERE lineage = ?`).run(at, at, lineage);
    }).immediate();
  }

  setAri(lineage: string, ari: AriState): void {
    this.db.transaction(() => {
      this.ensure(lineage);
      this.db.prepare('UPDATE renewal_state SET ari_cert_id = ?, ari_start = ?, ari_end = ?, ari_chosen = ?, ari_retry_after = ?, ari_explanation_url = ? WHERE lineage = ?')
        .run(ari.certId, ari.start, ari.end, ari.chosen, ari.retryAfter, ari.explanationUrl, lineage);
    }).immediate();
  }

  attemptStarted(lineage: string, at: string, reason: string, node: string | null = null): number {
    return Number(this.db.prepare('INSERT INTO renewal_attempts (lineage, started_at, reason, node) VALUES (?, ?, ?, ?)').run(lineage, at, reason, node).lastInsertRowid);
  }

  attemptFinished(id: number, f: { at: string; outcome: AttemptOutcome; error?: string | null; orderUrl?: string | null }): void {
    this.db.prepare('UPDATE renewal_attempts SET finished_at = ?, outcome = ?, error = ?, order_url = ? WHERE id = ?').run(f.at, f.outcome, f.error ?? null, f.orderUrl ?? null, id);
  }

  attempts(lineage: string, limit = 20): Array<{ startedAt: string; finishedAt: string | null; outcome: AttemptOutcome | null; reason: string | null; error: string | null }> {
    const rows = this.db.prepare('SELECT started_at, finished_at, outcome, reason, error FROM renewal_attempts WHERE lineage = ? ORDER BY id DESC LIMIT ?').all(lineage, limit) as Array<{ started_at: string; finished_at: string | null; outcome: AttemptOutcome | null; reason: string | null; error: string | null }>;
    return rows.map((r) => ({ startedAt: r.started_at, finishedAt: r.finished_at, outcome: r.outcome, reason: r.reason, error: r.error }));
  }
}
