/**
 * A cycle's scan, sharded across the nodes of a cluster (issue 16). The first node to start
 * cycle <key> writes its batches (domains, split by cluster.scanBatchSize); every node then
 * claims open batches one at a time — unclaimed, or whose claim's lease ran out (its node died) —
 * scans them and completes them with the claim's token, which records the scans and marks the
 * batch done in one transaction. A completion with a token that is no longer the batch's (the
 * lease ran out and another node took the batch) records nothing: each batch's scans are
 * recorded once per cycle.
 */
import type { Db } from './db.js';
import type { RecordItem, ScanRepository } from './scans.js';

export interface BatchPlan {
  domains: string[];
  /** Endpoints in the batch (for progress and the bench). */
  endpoints: number;
}

export interface BatchClaim {
  batch: number;
  token: number;
  domains: string[];
}

export interface CycleProgress {
  batches: number;
  done: number;
  /** Batches held by a live claim and not done. */
  claimed: number;
  /** Endpoints' scans recorded for the cycle. */
  scanned: number;
}

export class ScanBatchRepository {
  constructor(private readonly db: Db, private readonly scans: ScanRepository) {}

  /** Writes the cycle and its batches unless another node did; true when this call wrote them. */
  openCycle(cycle: string, batches: readonly BatchPlan[], node: string, nowMs: number): boolean {
    return this.db.transaction(() => {
      const made = this.db.prepare('INSERT INTO scan_cycles (cycle, created_at, created_by, batches, endpoints) VALUES (?, ?, ?, ?, ?) ON CONFLICT(cycle) DO NOTHING')
        .run(cycle, nowMs, node, batches.length, batches.reduce((n, b) => n + b.endpoints, 0)).changes === 1;
      if (!made) return false;
      const ins = this.db.prepare('INSERT INTO scan_batches (cycle, batch, domains_json, endpoints) VALUES (?, ?, ?, ?)');
      batches.forEach((b, i) => ins.run(cycle, i, JSON.stringify(b.domains), b.endpoints));
      return true;
    }).immediate();
  }

  /** The first open batch (never claimed, or its claim ran out), claimed for `node` with a new token. */
  claim(cycle: string, node: string, leaseMs: number, nowMs: number): BatchClaim | null {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT batch, token, domains_json FROM scan_batches WHERE cycle = ? AND done_at IS NULL AND (lease_until IS NULL OR lease_until <= ?) ORDER BY batch LIMIT 1')
        .get(cycle, nowMs) as { batch: number; token: number; domains_json: string } | undefined;
      if (!row) return null;
      this.db.prepare('UPDATE scan_batches SET claimed_by = ?, token = ?, lease_until = ? WHERE cycle = ? AND batch = ?').run(node, row.token + 1, nowMs + leaseMs, cycle, row.batch);
      return { batch: row.batch, token: row.token + 1, domains: JSON.parse(row.domains_json) as string[] };
    }).immediate();
  }

  /** Extends a claim while its batch scans; false when it was lost. */
  extend(cycle: string, batch: number, token: number, leaseMs: number, nowMs: number): boolean {
    return this.db.prepare('UPDATE scan_batches SET lease_until = ? WHERE cycle = ? AND batch = ? AND token = ? AND done_at IS NULL').run(nowMs + leaseMs, cycle, batch, token).changes === 1;
  }

  /** Records the batch's scans and marks it done, if `token` is still its claim; false (nothing written) otherwise. */
  complete(cycle: string, batch: number, token: number, node: string, items: readonly RecordItem[], nowMs: number): boolean {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT token, done_at FROM scan_batches WHERE cycle = ? AND batch = ?').get(cycle, batch) as { token: number; done_at: number | null } | undefined;
      if (!row || row.token !== token || row.done_at !== null) return false;
      this.scans.recordMany(items);
      this.db.prepare('UPDATE scan_batches SET done_at = ?, done_by = ?, scanned = ?, lease_until = NULL WHERE cycle = ? AND batch = ?').run(nowMs, node, items.length, cycle, batch);
      return true;
    }).immediate();
  }

  progress(cycle: string, nowMs: number): CycleProgress {
    const r = this.db.prepare(`SELECT COUNT(*) AS batches, COUNT(done_at) AS done,
        SUM(CASE WHEN done_at IS NULL AND lease_until > ? THEN 1 ELSE 0 END) AS claimed, COALESCE(SUM(scanned), 0) AS scanned
      FROM scan_batches WHERE cycle = ?`).get(nowMs, cycle) as { batches: number; done: number; claimed: number | null; scanned: number };
    return { batches: r.batches, done: r.done, claimed: r.claimed ?? 0, scanned: r.scanned };
  }

  /** Forgets cycles created before `ms` (their scans stay: they are history). */
  pruneBefore(ms: number): number {
    return this.db.prepare('DELETE FROM scan_cycles WHERE created_at < ?').run(ms).changes;
  }
}
