/**
 * The scan batches of a sharded cycle on PostgreSQL (store/scan-batches.ts's behaviour). claim
 * is one statement with FOR UPDATE SKIP LOCKED, so nodes claiming at the same moment take
 * different batches instead of queueing on one; complete locks the batch's row, checks the token
 * and records the scans through the scan store on the same client, all in one transaction.
 */
import type { ScanBatchStore } from '../contract.js';
import type { BatchClaim, BatchPlan, CycleProgress } from '../scan-batches.js';
import type { RecordItem } from '../scans.js';
import type { PgDb } from './db.js';
import { PgScanStore } from './scans.js';

export class PgScanBatchStore implements ScanBatchStore {
  constructor(private readonly db: PgDb) {}

  async openCycle(cycle: string, batches: readonly BatchPlan[], node: string, nowMs: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const made = await q.query('INSERT INTO scan_cycles (cycle, created_at, created_by, batches, endpoints) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cycle) DO NOTHING',
        [cycle, nowMs, node, batches.length, batches.reduce((n, b) => n + b.endpoints, 0)]);
      if (made.rowCount !== 1) return false;
      if (batches.length > 0) {
        await q.query(`INSERT INTO scan_batches (cycle, batch, domains_json, endpoints)
          SELECT $1, b - 1, d, e FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS t(d, e, b)`,
        [cycle, batches.map((b) => JSON.stringify(b.domains)), batches.map((b) => b.endpoints)]);
      }
      return true;
    });
  }

  async claim(cycle: string, node: string, leaseMs: number, nowMs: number): Promise<BatchClaim | null> {
    const { rows } = await this.db.query<{ batch: number; token: string; domains_json: string }>(`UPDATE scan_batches SET claimed_by = $2, token = token + 1, lease_until = $3
      WHERE (cycle, batch) = (SELECT cycle, batch FROM scan_batches WHERE cycle = $1 AND done_at IS NULL AND (lease_until IS NULL OR lease_until <= $4)
        ORDER BY batch LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING batch, token, domains_json`, [cycle, node, nowMs + leaseMs, nowMs]);
    const r = rows[0];
    return r ? { batch: Number(r.batch), token: Number(r.token), domains: JSON.parse(r.domains_json) as string[] } : null;
  }

  async extend(cycle: string, batch: number, token: number, leaseMs: number, nowMs: number): Promise<boolean> {
    const r = await this.db.query('UPDATE scan_batches SET lease_until = $1 WHERE cycle = $2 AND batch = $3 AND token = $4 AND done_at IS NULL', [nowMs + leaseMs, cycle, batch, token]);
    return r.rowCount === 1;
  }

  async complete(cycle: string, batch: number, token: number, node: string, items: readonly RecordItem[], nowMs: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const { rows } = await q.query<{ token: string; done_at: string | null }>('SELECT token, done_at FROM scan_batches WHERE cycle = $1 AND batch = $2 FOR UPDATE', [cycle, batch]);
      const row = rows[0];
      if (!row || Number(row.token) !== token || row.done_at !== null) return false;
      await new PgScanStore(q).recordMany(items);
      await q.query('UPDATE scan_batches SET done_at = $1, done_by = $2, scanned = $3, lease_until = NULL WHERE cycle = $4 AND batch = $5', [nowMs, node, items.length, cycle, batch]);
      return true;
    });
  }

  async progress(cycle: string, nowMs: number): Promise<CycleProgress> {
    const { rows } = await this.db.query<{ batches: string; done: string; claimed: string | null; scanned: string }>(`SELECT COUNT(*) AS batches, COUNT(done_at) AS done,
        SUM(CASE WHEN done_at IS NULL AND lease_until > $2 THEN 1 ELSE 0 END) AS claimed, COALESCE(SUM(scanned), 0) AS scanned
      FROM scan_batches WHERE cycle = $1`, [cycle, nowMs]);
    const r = rows[0]!;
    return { batches: Number(r.batches), done: Number(r.done), claimed: Number(r.claimed ?? 0), scanned: Number(r.scanned) };
  }

  async pruneBefore(ms: number): Promise<number> {
    return (await this.db.query('DELETE FROM scan_cycles WHERE created_at < $1', [ms])).rowCount ?? 0;
  }
}
