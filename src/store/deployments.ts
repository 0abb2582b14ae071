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

/** The last nginx deployment per lineage. */
export class DeploymentRepository {
  constructor(private readonly db: Db) {}

  get(lineage: string): DeploymentRow | null {
    const row = this.db.prepare('SELECT * FROM deployments WHERE lineage = ?').get(lineage) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  all(): Map<string, DeploymentRow> {
    return new Map((this.db.prepare('SELECT * FROM deployments').all() as Row[]).map((r) => [r.lineage, fromRow(r)]));
  }

  save(d: DeploymentRow): void {
    this.db.prepare(`INSERT INTO deployments (lineage, snippet_path, snippet_sha256, fingerprint256, version, deployed_at, verified_at, stale_since, stale_detail)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(node, lineage) DO UPDATE SET snippet_path = excluded.snippet_path, snippet_sha256 = excluded.snippet_sha256, fingerprint256 = excluded.fingerprint256, version = excluded.version,
        deployed_at = excluded.deployed_at, verified_at = excluded.verified_at, stale_since = excluded.stale_since, stale_detail = excluded.stale_detail`)
      .run(d.lineage, d.snippetPath, d.snippetSha256, d.fingerprint256, d.version ?? null, d.deployedAt, d.verifiedAt, d.staleSince, d.staleDetail);
  }

  markVerified(lineage: string, at: string): void {
    this.db.prepare('UPDATE deployments SET verified_at = ?, stale_since = NULL, stale_detail = NULL WHERE lineage = ?').run(at, lineage);
  }

  markStale(lineage: string, at: string, detail: string): void {
    this.db.prepare('UPDATE deployments SET stale_since = COALESCE(stale_since, ?), stale_detail = ? WHERE lineage = ?').run(at, detail, lineage);
  }

  /** Records a deploy nginx refused (or could not reload): counted, kept until a deploy succeeds. */
  recordFailure(f: { lineage: string; version: number | null; fingerprint256: string | null; code: string; detail: string; at: string }): void {
    this.db.prepare(`INSERT INTO deploy_failures (lineage, version, fingerprint256, code, detail, failures, since, last_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)
      ON CONFLICT(node, lineage) DO UPDATE SET version = excluded.version, fingerprint256 = excluded.fingerprint256, code = excluded.code, detail = excluded.detail,
        failures = failures + 1, last_at = excluded.last_at`)
      .run(f.lineage, f.version, f.fingerprint256, f.code, f.detail, f.at, f.at);
  }

  clearFailure(lineage: string): void {
    this.db.prepare('DELETE FROM deploy_failures WHERE lineage = ?').run(lineage);
  }

  failure(lineage: string): DeployFailureRow | null {
    const r = this.db.prepare('SELECT * FROM deploy_failures WHERE lineage = ?').get(lineage) as FailureRow | undefined;
    return r ? failureFromRow(r) : null;
  }

  failures(): Map<string, DeployFailureRow> {
    return new Map((this.db.prepare('SELECT * FROM deploy_failures').all() as FailureRow[]).map((r) => [r.lineage, failureFromRow(r)]));
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
