/**
 * The nodes sharing this store (issue 16): one row per node name, upserted by each heartbeat.
 * A heartbeat without `lastRun` keeps the stored last run (the daemon beats between cycles).
 */
import type { Db } from './db.js';

export interface NodeLastRun {
  startedAt: string;
  finishedAt: string | null;
  outcome: string | null;
}

export interface NodeRow {
  name: string;
  version: string;
  startedAt: string;
  lastSeenAt: string;
  /** The node's cycle interval (its daemon.schedule), for node-silent; null: not known. */
  cycleMs: number | null;
  lastRun: NodeLastRun | null;
}

export interface NodeRowDb {
  name: string;
  version: string;
  started_at: string;
  last_seen_at: string;
  cycle_ms: number | string | null;
  last_run_started_at: string | null;
  last_run_finished_at: string | null;
  last_run_outcome: string | null;
}

export const NODE_COLUMNS = 'name, version, started_at, last_seen_at, cycle_ms, last_run_started_at, last_run_finished_at, last_run_outcome';

export function nodeFromRow(r: NodeRowDb): NodeRow {
  return {
    name: r.name,
    version: r.version,
    startedAt: r.started_at,
    lastSeenAt: r.last_seen_at,
    cycleMs: r.cycle_ms === null ? null : Number(r.cycle_ms),
    lastRun: r.last_run_started_at === null ? null : { startedAt: r.last_run_started_at, finishedAt: r.last_run_finished_at, outcome: r.last_run_outcome },
  };
}

/** The values of a heartbeat, in NODE_COLUMNS order. */
export function heartbeatValues(row: NodeRow): unknown[] {
  return [row.name, row.version, row.startedAt, row.lastSeenAt, row.cycleMs, row.lastRun?.startedAt ?? null, row.lastRun?.finishedAt ?? null, row.lastRun?.outcome ?? null];
}

/**
 * The heartbeat upsert for both engines, `param(i)` writing the i-th placeholder (`?` or `$i`).
 * COALESCE on the run columns: a beat without a run keeps the last one; the run's own three
 * columns move together because a beat with a run sets last_run_started_at.
 */
export function heartbeatSql(param: (i: number) => string): string {
  return `INSERT INTO nodes (${NODE_COLUMNS}) VALUES (${[1, 2, 3, 4, 5, 6, 7, 8].map(param).join(', ')})
    ON CONFLICT (name) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, last_seen_at = excluded.last_seen_at,
      cycle_ms = COALESCE(excluded.cycle_ms, nodes.cycle_ms),
      last_run_finished_at = CASE WHEN excluded.last_run_started_at IS NULL THEN nodes.last_run_finished_at ELSE excluded.last_run_finished_at END,
      last_run_outcome = CASE WHEN excluded.last_run_started_at IS NULL THEN nodes.last_run_outcome ELSE excluded.last_run_outcome END,
      last_run_started_at = COALESCE(excluded.last_run_started_at, nodes.last_run_started_at)`;
}

const HEARTBEAT_SQL = heartbeatSql(() => '?');

export class NodeRepository {
  constructor(private readonly db: Db) {}

  heartbeat(row: NodeRow): void {
    this.db.prepare(HEARTBEAT_SQL).run(...heartbeatValues(row));
  }

  list(): NodeRow[] {
    return (this.db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes ORDER BY name`).all() as NodeRowDb[]).map(nodeFromRow);
  }
}
