/**
 * DeploymentStore on PostgreSQL (issue 15): store/deployments.ts's DeploymentRepository, same
 * rows, same upserts. Integers come back as JS numbers (pg hands bigint over as a string).
 */
import type { DeployFailureRow, DeploymentRow, NodeDeploymentRow } from '../deployments.js';
import type { DeploymentStore } from '../contract.js';
import type { PgQueryable } from './db.js';

interface Row {
  lineage: string;
  snippet_path: string;
  snippet_sha256: string;
  fingerprint256: string | null;
  version: number | string | null;
  deployed_at: string;
  verified_at: string | null;
  stale_since: string | null;
  stale_detail: string | null;
}

interface FailureRow {
  lineage: string;
  version: number | string | null;
  fingerprint256: string | null;
  code: string;
  detail: string;
  failures: number | string;
  since: string;
  last_at: string;
}

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

const fromRow = (r: Row): DeploymentRow => ({
  lineage: r.lineage,
  snippetPath: r.snippet_path,
  snippetSha256: r.snippet_sha256,
  fingerprint256: r.fingerprint256,
  version: numOrNull(r.version),
  deployedAt: r.deployed_at,
  verifiedAt: r.verified_at,
  staleSince: r.stale_since,
  staleDetail: r.stale_detail,
});

const failureFromRow = (r: FailureRow): DeployFailureRow => ({
  lineage: r.lineage,
  version: numOrNull(r.version),
  fingerprint256: r.fingerprint256,
  code: r.code,
  detail: r.detail,
  failures: Number(r.failures),
  since: r.since,
  lastAt: r.last_at,
});

const DEPLOYMENT_COLUMNS = 'lineage, snippet_path, snippet_sha256, fingerprint256, version, deployed_at, verified_at, stale_since, stale_detail';
const FAILURE_COLUMNS = 'lineage, version, fingerprint256, code, detail, failures, since, last_at';

export class PgDeploymentStore implements DeploymentStore {
  /** `node`: whose deployments these are (issue 16); every node records its own. */
  constructor(private readonly db: PgQueryable, private readonly node: string) {}

  async get(lineage: string): Promise<DeploymentRow | null> {
    const { rows } = await this.db.query<Row>(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE lineage = $1 AND node = $2`, [lineage, this.node]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async all(): Promise<Map<string, DeploymentRow>> {
    // A Map: its order is not part of the contract; sorted only so that it is stable.
    const { rows } = await this.db.query<Row>(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE node = $1 ORDER BY lineage COLLATE "C"`, [this.node]);
    return new Map(rows.map((r) => [r.lineage, fromRow(r)]));
  }

  async everywhere(): Promise<NodeDeploymentRow[]> {
    const { rows } = await this.db.query<Row & { node: string }>(`SELECT ${DEPLOYMENT_COLUMNS}, node FROM deployments ORDER BY lineage COLLATE "C", node COLLATE "C"`);
    return rows.map((r) => ({ ...fromRow(r), node: r.node }));
  }

  async save(d: DeploymentRow): Promise<void> {
    await this.db.query(`INSERT INTO deployments (${DEPLOYMENT_COLUMNS}, node) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
      ON CONFLICT (node, lineage) DO UPDATE SET snippet_path = excluded.snippet_path, snippet_sha256 = excluded.snippet_sha256, fingerprint256 = excluded.fingerprint256, version = excluded.version,
        deployed_at = excluded.deployed_at, verified_at = excluded.verified_at, stale_since = excluded.stale_since, stale_detail = excluded.stale_detail`,
    [d.lineage, d.snippetPath, d.snippetSha256, d.fingerprint256, d.version ?? null, d.deployedAt, d.verifiedAt, d.staleSince, d.staleDetail, this.node]);
  }

  async markVerified(lineage: string, at: string): Promise<void> {
    await this.db.query('UPDATE deployments SET verified_at = $1, stale_since = NULL, stale_detail = NULL WHERE lineage = $2 AND node = $3', [at, lineage, this.node]);
  }

  async markStale(lineage: string, at: string, detail: string): Promise<void> {
    await this.db.query('UPDATE deployments SET stale_since = COALESCE(stale_since, $1), stale_detail = $2 WHERE lineage = $3 AND node = $4', [at, detail, lineage, this.node]);
  }

  async recordFailure(f: { lineage: string; version: number | null; fingerprint256: string | null; code: string; detail: string; at: string }): Promise<void> {
    // One statement, so two processes of a node failing the same deploy at once both count.
    await this.db.query(`INSERT INTO deploy_failures (${FAILURE_COLUMNS}, node) VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7)
      ON CONFLICT (node, lineage) DO UPDATE SET version = excluded.version, fingerprint256 = excluded.fingerprint256, code = excluded.code, detail = excluded.detail,
        failures = deploy_failures.failures + 1, last_at = excluded.last_at`,
    [f.lineage, f.version, f.fingerprint256, f.code, f.detail, f.at, this.node]);
  }

  async clearFailure(lineage: string): Promise<void> {
    await this.db.query('DELETE FROM deploy_failures WHERE lineage = $1 AND node = $2', [lineage, this.node]);
  }

  async failure(lineage: string): Promise<DeployFailureRow | null> {
    const { rows } = await this.db.query<FailureRow>(`SELECT ${FAILURE_COLUMNS} FROM deploy_failures WHERE lineage = $1 AND node = $2`, [lineage, this.node]);
    return rows[0] ? failureFromRow(rows[0]) : null;
  }

  async failures(): Promise<Map<string, DeployFailureRow>> {
    const { rows } = await this.db.query<FailureRow>(`SELECT ${FAILURE_COLUMNS} FROM deploy_failures WHERE node = $1 ORDER BY lineage COLLATE "C"`, [this.node]);
    return new Map(rows.map((r) => [r.lineage, failureFromRow(r)]));
  }

  async failuresEverywhere(): Promise<Array<DeployFailureRow & { node: string }>> {
    const { rows } = await this.db.query<FailureRow & { node: string }>(`SELECT ${FAILURE_COLUMNS}, node FROM deploy_failures ORDER BY lineage COLLATE "C", node COLLATE "C"`);
    return rows.map((r) => ({ ...failureFromRow(r), node: r.node }));
  }
}
