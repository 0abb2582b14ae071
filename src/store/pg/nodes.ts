/** The `nodes` table on PostgreSQL (store/nodes.ts's behaviour). */
import type { NodeStore } from '../contract.js';
import { heartbeatValues, NODE_COLUMNS, nodeFromRow, type NodeRow, type NodeRowDb } from '../nodes.js';
import type { PgQueryable } from './db.js';

export class PgNodeStore implements NodeStore {
  constructor(private readonly db: PgQueryable) {}

  async heartbeat(row: NodeRow): Promise<void> {
    await this.db.query(`INSERT INTO nodes (${NODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      ON CONFLICT (name) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, last_seen_at = excluded.last_seen_at,
        cycle_ms = COALESCE(excluded.cycle_ms, nodes.cycle_ms),
        last_run_finished_at = CASE WHEN excluded.last_run_started_at IS NULL THEN nodes.last_run_finished_at ELSE excluded.last_run_finished_at END,
        last_run_outcome = CASE WHEN excluded.last_run_started_at IS NULL THEN nodes.last_run_outcome ELSE excluded.last_run_outcome END,
        last_run_started_at = COALESCE(excluded.last_run_started_at, nodes.last_run_started_at)`, heartbeatValues(row));
  }

  async list(): Promise<NodeRow[]> {
    const r = await this.db.query<NodeRowDb>(`SELECT ${NODE_COLUMNS} FROM nodes ORDER BY name`);
    return r.rows.map(nodeFromRow);
  }
}
