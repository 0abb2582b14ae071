/** The `nodes` table on PostgreSQL (store/nodes.ts's behaviour). */
import type { NodeStore } from '../contract.js';
import { heartbeatSql, heartbeatValues, NODE_COLUMNS, nodeFromRow, type NodeRow, type NodeRowDb } from '../nodes.js';
import type { PgQueryable } from './db.js';

const HEARTBEAT_SQL = heartbeatSql((i) => `$${i}`);

export class PgNodeStore implements NodeStore {
  constructor(private readonly db: PgQueryable) {}

  async heartbeat(row: NodeRow): Promise<void> {
    await this.db.query(HEARTBEAT_SQL, heartbeatValues(row));
  }

  async list(): Promise<NodeRow[]> {
    const r = await this.db.query<NodeRowDb>(`SELECT ${NODE_COLUMNS} FROM nodes ORDER BY name`);
    return r.rows.map(nodeFromRow);
  }
}
