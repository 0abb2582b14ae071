import type { Db } from './db.js';

export interface DeploymentRow {
  lineage: string;
  snippetPath: string;
  snippetSha256: string;
  /** The certificate the deployed files held when nginx was reloaded. */
  fingerprint256: string | null;
  /** The archive version nginx accepted (managed lineages); null for monitored files and old rows. */
  version?: number | null;
  deployedAt: string;
  verifiedAt: string | null;
  staleSince: string | null;
  staleDetail: string | null;
}

interface Row {
  lineage: string;
  snippet_path: string;
  snippet_sha256: string;
  fingerprint256: string | null;
  version: number | null;
  deployed_at: string;
  verified_at: string | null;
  stale_since: string | null;
  stale_detail: string | null;
}

const fromRow = (r: Row): DeploymentRow => ({
  lineage: r.lineage,
  snippetPath: r.snippet_path,
  snippetSha256: r.snippet_sha256,
  fingerprint256: r.fingerprint256,
  version: r.version,
  deployedAt: r.deployed_at,
  verifiedAt: r.verified_at,
  staleSince: r.stale_since,
  staleDetail: r.stale_detail,
});

/** A deployment as recorded by one node of a cluster (everywhere()). */
export type NodeDeploymentRow = DeploymentRow & { node: string };

/**
 * The last nginx deployment per lineage, of one node (issue 16: every node deploys to its own
 * nginx and records its own row). Rows written before the node column existed have node '' and
 * were written by this machine (SQLite is one machine's store): they read as this node's, and
 * this node's first write of a lineage replaces its '' row.
 */
export class DeploymentRepository {
  constructor(private readonly db: Db, private readonly node: string = '') {}

  get(lineage: string): DeploymentRow | null {
    const row = this.db.prepare("SELECT * FROM deployments WHERE lineage = ? AND node IN (?, '') ORDER BY node DESC LIMIT 1").get(lineage, this.node) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  all(): Map<string, DeploymentRow> {
    // Ascending by node: this node's row ('' < any name) is set last and wins.
    return new Map((this.db.prepare("SELECT * FROM deployments WHERE node IN (?, '') ORDER BY node").all(this.node) as Row[]).map((r) => [r.lineage, fromRow(r)]));
  }

  /** Every node's deployments (a '' row is reported as this node's). */
  everywhere(): NodeDeploymentRow[] {
    return (this.db.prepare('SELECT * FROM deployments ORDER BY lineage, node').all() as Array<Row & { node: string }>).map((r) => ({ ...fromRow(r), node: r.node === '' ? this.node : r.node }));
  }

  save(d: DeploymentRow): void {
    this.db.transaction(() => {
      if (this.node !== '') this.db.prepare("DELETE FROM deployments WHERE lineage = ? AND node = ''").run(d.lineage);
      this.db.prepare(`INSERT INTO deployments (node, lineage, snippet_path, snippet_sha256, fingerprint256, version, deployed_at, verified_at, stale_since, stale_detail)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(node, lineage) DO UPDATE SET snippet_path = excluded.snippet_path, snippet_sha256 = excluded.snippet_sha256, fingerprint256 = excluded.fingerprint256, version = excluded.version,
          deployed_at = excluded.deployed_at, verified_at = excluded.verified_at, stale_since = excluded.stale_since, stale_detail = excluded.stale_detail`)
        .run(this.node, d.lineage, d.snippetPath, d.snippetSha256, d.fingerprint256, d.version ?? null, d.deployedAt, d.verifiedAt, d.staleSince, d.staleDetail);
    }).immediate();
  }

  markVerified(lineage: string, at: string): void {
    this.db.prepare("UPDATE deployments SET verified_at = ?, stale_since = NULL, stale_detail = NULL WHERE lineage = ? AND node IN (?, '')").run(at, lineage, this.node);
  }

  markStale(lineage: string, at: string, detail: string): void {
    this.db.prepare("UPDATE deployments SET stale_since = COALESCE(stale_since, ?), stale_detail = ? WHERE lineage = ? AND node IN (?, '')").run(at, detail, lineage, this.node);
  }

  /** Records a deploy nginx refused (or could not reload): counted, kept until a deploy succeeds. */
  recordFailure(f: { lineage: string; version: number | null; fingerprint256: string | null; code: string; detail: string; at: string }): void {
    this.db.transaction(() => {
      // A failure recorded before the node column counts on as this node's.
      if (this.node !== '') this.db.prepare("UPDATE deploy_failures SET node = ? WHERE lineage = ? AND node = '' AND NOT EXISTS (SELECT 1 FROM deploy_failures WHERE lineage = ? AND node = ?)").run(this.node, f.lineage, f.lineage, this.node);
      this.db.prepare(`INSERT INTO deploy_failures (node, lineage, version, fingerprint256, code, detail, failures, since, last_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
        ON CONFLICT(node, lineage) DO UPDATE SET version = excluded.version, fingerprint256 = excluded.fingerprint256, code = excluded.code, detail = excluded.detail,
          failures = failures + 1, last_at = excluded.last_at`)
        .run(this.node, f.lineage, f.version, f.fingerprint256, f.code, f.detail, f.at, f.at);
    }).immediate();
  }

  clearFailure(lineage: string): void {
    this.db.prepare("DELETE FROM deploy_failures WHERE lineage = ? AND node IN (?, '')").run(lineage, this.node);
  }

  failure(lineage: string): DeployFailureRow | null {
    const r = this.db.prepare("SELECT * FROM deploy_failures WHERE lineage = ? AND node IN (?, '') ORDER BY node DESC LIMIT 1").get(lineage, this.node) as FailureRow | undefined;
    return r ? failureFromRow(r) : null;
  }

  failures(): Map<string, DeployFailureRow> {
    return new Map((this.db.prepare("SELECT * FROM deploy_failures WHERE node IN (?, '') ORDER BY node").all(this.node) as FailureRow[]).map((r) => [r.lineage, failureFromRow(r)]));
  }

  /** Every node's failed deploys. */
  failuresEverywhere(): Array<DeployFailureRow & { node: string }> {
    return (this.db.prepare('SELECT * FROM deploy_failures ORDER BY lineage, node').all() as Array<FailureRow & { node: string }>).map((r) => ({ ...failureFromRow(r), node: r.node === '' ? this.node : r.node }));
  }
}

export interface DeployFailureRow {
  lineage: string;
  /** The version that was to be deployed (null for a monitored file). */
  version: number | null;
  fingerprint256: string | null;
  /** DeployError code: nginx-test, reload, nginx-not-running, chain-invalid, key-mismatch, … */
  code: string;
  detail: string;
  failures: number;
  since: string;
  lastAt: string;
}

interface FailureRow {
  lineage: string;
  version: number | null;
  fingerprint256: string | null;
  code: string;
  detail: string;
  failures: number;
  since: string;
  last_at: string;
}

const failureFromRow = (r: FailureRow): DeployFailureRow => ({
  lineage: r.lineage,
  version: r.version,
  fingerprint256: r.fingerprint256,
  code: r.code,
  detail: r.detail,
  failures: r.failures,
  since: r.since,
  lastAt: r.last_at,
});
