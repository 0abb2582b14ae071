import { assertFence, type Fence } from './fence.js';
import type { Db } from './db.js';

/** One certificate certs obtained: an archive version of a lineage. */
export interface IssuedCert {
  id?: number;
  lineage: string;
  version: number;
  /** The node that ordered it (issue 16); written, not read back (null for rows from before). */
  node?: string | null;
  fingerprint256: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  issuer: string;
  names: string[];
  keyType: string;
  directoryUrl: string;
  profile: string | null;
  ariCertId: string | null;
  /** ARI certificate ID of the certificate this one replaced (sent as `replaces`). */
  replacedId: string | null;
  /** Absolute path of the archive version directory. */
  dir: string;
  issuedAt: string;
  /** Why it was ordered, as the policy said. */
  reason: string | null;
  revokedAt: string | null;
  revokeReason: number | null;
}

/** A row of `issued` on either engine (PostgreSQL hands bigint/integer columns over as strings). */
export interface IssuedRow {
  id: number | string;
  lineage: string;
  version: number | string;
  fingerprint256: string;
  serial: string;
  not_before: string;
  not_after: string;
  issuer: string;
  names_json: string;
  key_type: string;
  directory_url: string;
  profile: string | null;
  ari_cert_id: string | null;
  replaced_id: string | null;
  dir: string;
  issued_at: string;
  reason: string | null;
  revoked_at: string | null;
  revoke_reason: number | string | null;
}

export function issuedFromRow(r: IssuedRow): IssuedCert {
  return {
    id: Number(r.id),
    lineage: r.lineage,
    version: Number(r.version),
    fingerprint256: r.fingerprint256,
    serial: r.serial,
    notBefore: r.not_before,
    notAfter: r.not_after,
    issuer: r.issuer,
    names: JSON.parse(r.names_json) as string[],
    keyType: r.key_type,
    directoryUrl: r.directory_url,
    profile: r.profile,
    ariCertId: r.ari_cert_id,
    replacedId: r.replaced_id,
    dir: r.dir,
    issuedAt: r.issued_at,
    reason: r.reason,
    revokedAt: r.revoked_at,
    revokeReason: r.revoke_reason === null ? null : Number(r.revoke_reason),
  };
}

export const ISSUED_COLUMNS = 'id, lineage, version, fingerprint256, serial, not_before, not_after, issuer, names_json, key_type, directory_url, profile, ari_cert_id, replaced_id, dir, issued_at, reason, revoked_at, revoke_reason';

/** Issued certificates (the `issued` table). */
export class IssuedRepository {
  constructor(private readonly db: Db) {}

  /** Records a version; with a fence, only while the fence's lock still has its token (else StoreError 'fenced', nothing written). */
  record(c: IssuedCert, fence?: Fence): number {
    return this.db.transaction(() => {
      assertFence(this.db, fence);
      const info = this.db.prepare(`INSERT INTO issued (lineage, version, fingerprint256, serial, not_before, not_after, issuer, names_json, key_type, directory_url, profile, ari_cert_id, replaced_id, dir, issued_at, reason, node)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        c.lineage, c.version, c.fingerprint256, c.serial, c.notBefore, c.notAfter, c.issuer, JSON.stringify(c.names), c.keyType, c.directoryUrl, c.profile, c.ariCertId, c.replacedId, c.dir, c.issuedAt, c.reason, c.node ?? null,
      );
      return Number(info.lastInsertRowid);
    }).immediate();
  }

  /** The newest version of a lineage, or null. */
  latest(lineage: string): IssuedCert | null {
    const row = this.db.prepare(`SELECT ${ISSUED_COLUMNS} FROM issued WHERE lineage = ? ORDER BY version DESC LIMIT 1`).get(lineage) as IssuedRow | undefined;
    return row ? issuedFromRow(row) : null;
  }

  byVersion(lineage: string, version: number): IssuedCert | null {
    const row = this.db.prepare(`SELECT ${ISSUED_COLUMNS} FROM issued WHERE lineage = ? AND version = ?`).get(lineage, version) as IssuedRow | undefined;
    return row ? issuedFromRow(row) : null;
  }

  /** Every version, newest first; all lineages when none is given. */
  list(lineage?: string): IssuedCert[] {
    const rows = lineage === undefined
      ? (this.db.prepare(`SELECT ${ISSUED_COLUMNS} FROM issued ORDER BY lineage, version DESC`).all() as IssuedRow[])
      : (this.db.prepare(`SELECT ${ISSUED_COLUMNS} FROM issued WHERE lineage = ? ORDER BY version DESC`).all(lineage) as IssuedRow[]);
    return rows.map(issuedFromRow);
  }

  /** The newest issued certificate per lineage, keyed by lineage. */
  latestAll(): Map<string, IssuedCert> {
    const rows = this.db.prepare(`SELECT ${ISSUED_COLUMNS} FROM issued i WHERE version = (SELECT MAX(version) FROM issued j WHERE j.lineage = i.lineage)`).all() as IssuedRow[];
    return new Map(rows.map((r) => [r.lineage, issuedFromRow(r)]));
  }

  maxVersion(lineage: string): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM issued WHERE lineage = ?').get(lineage) as { v: number | null };
    return row.v ?? 0;
  }

  markRevoked(id: number, at: string, reason: number): void {
    this.db.prepare('UPDATE issued SET revoked_at = ?, revoke_reason = ? WHERE id = ?').run(at, reason, id);
  }
}
