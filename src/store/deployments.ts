import type { Db } from './db.js';

export interface DeploymentRow {
  lineage: string;
  snippetPath: string;
  snippetSha256: string;
  /** The certificate the deployed files held when nginx was reloaded. */
  fingerprint256: string | null;
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
    this.db.prepare(`INSERT INTO deployments (lineage, snippet_path, snippet_sha256, fingerprint256, deployed_at, verified_at, stale_since, stale_detail)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(lineage) DO UPDATE SET snippet_path = excluded.snippet_path, snippet_sha256 = excluded.snippet_sha256, fingerprint256 = excluded.fingerprint256,
        deployed_at = excluded.deployed_at, verified_at = excluded.verified_at, stale_since = excluded.stale_since, stale_detail = excluded.stale_detail`)
      .run(d.lineage, d.snippetPath, d.snippetSha256, d.fingerprint256, d.deployedAt, d.verifiedAt, d.staleSince, d.staleDetail);
  }

  markVerified(lineage: string, at: string): void {
    this.db.prepare('UPDATE deployments SET verified_at = ?, stale_since = NULL, stale_detail = NULL WHERE lineage = ?').run(at, lineage);
  }

  markStale(lineage: string, at: string, detail: string): void {
    this.db.prepare('UPDATE deployments SET stale_since = COALESCE(stale_since, ?), stale_detail = ? WHERE lineage = ?').run(at, detail, lineage);
  }
}
