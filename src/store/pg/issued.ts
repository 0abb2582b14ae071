/**
 * IssuedStore on PostgreSQL (issue 15): store/issued.ts's IssuedRepository, plus the files of
 * each version. With SQLite the archive directory on the one machine holds them; here every node
 * must be able to materialise a version, so its PEMs live in issued_files and its private key is
 * sealed (store/key-crypto.ts: AES-256-GCM under the key-encryption key, bound to lineage and
 * version) — the database alone never holds a usable private key.
 */
import { fencedWrite } from './locks.js';
import type { Fence } from '../fence.js';
import { StoreError } from '../../core/errors.js';
import type { CertPems } from '../archive.js';
import { ISSUED_COLUMNS as COLUMNS, issuedFromRow as fromRow, type IssuedCert, type IssuedRow as Row } from '../issued.js';
import type { IssuedStore } from '../contract.js';
import { openKey, sealKey, sealedWith, type Kek } from '../key-crypto.js';
import type { PgQueryable } from './db.js';


export interface IssuedKeks {
  /** The key new private keys are sealed with (store.keyEncryptionKey). */
  seal: Kek;
  /** Keys that may open stored ones besides `seal` (an old key while rotate-key re-seals). */
  open: readonly Kek[];
}

interface FilesRow {
  cert: string;
  chain: string;
  fullchain: string;
  privkey_sealed: Buffer;
}

export class PgIssuedStore implements IssuedStore {
  private readonly openWith: readonly Kek[];

  constructor(private readonly db: PgQueryable, private readonly keks: IssuedKeks) {
    // The sealing key always opens what it sealed; listed once.
    this.openWith = [keks.seal, ...keks.open.filter((k) => k.id !== keks.seal.id)];
  }

  async record(c: IssuedCert, fence?: Fence): Promise<number> {
    return fencedWrite(this.db, fence, async (q) => {
      const { rows } = await q.query<{ id: number | string }>(`INSERT INTO issued (lineage, version, fingerprint256, serial, not_before, not_after, issuer, names_json, key_type, directory_url, profile, ari_cert_id, replaced_id, dir, issued_at, reason, node)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`, [
        c.lineage, c.version, c.fingerprint256, c.serial, c.notBefore, c.notAfter, c.issuer, JSON.stringify(c.names), c.keyType, c.directoryUrl, c.profile, c.ariCertId, c.replacedId, c.dir, c.issuedAt, c.reason, c.node ?? null,
      ]);
      return Number(rows[0]!.id);
    });
  }

  /** The newest version of a lineage, or null. */
  async latest(lineage: string): Promise<IssuedCert | null> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM issued WHERE lineage = $1 ORDER BY version DESC LIMIT 1`, [lineage]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async byVersion(lineage: string, version: number): Promise<IssuedCert | null> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM issued WHERE lineage = $1 AND version = $2`, [lineage, version]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** Every version, newest first; all lineages when none is given. */
  async list(lineage?: string): Promise<IssuedCert[]> {
    // COLLATE "C": lineages sort by code point as SQLite's BINARY collation sorts them, whatever
    // the database's locale (en_US would put "a-b" and "ab" the other way round).
    const { rows } = lineage === undefined
      ? await this.db.query<Row>(`SELECT ${COLUMNS} FROM issued ORDER BY lineage COLLATE "C", version DESC`)
      : await this.db.query<Row>(`SELECT ${COLUMNS} FROM issued WHERE lineage = $1 ORDER BY version DESC`, [lineage]);
    return rows.map(fromRow);
  }

  /** The newest issued certificate per lineage, keyed by lineage. */
  async latestAll(): Promise<Map<string, IssuedCert>> {
    const { rows } = await this.db.query<Row>(`SELECT DISTINCT ON (lineage) ${COLUMNS} FROM issued ORDER BY lineage, version DESC`);
    return new Map(rows.map((r) => [r.lineage, fromRow(r)]));
  }

  async maxVersion(lineage: string): Promise<number> {
    const { rows } = await this.db.query<{ v: number | string | null }>('SELECT MAX(version) AS v FROM issued WHERE lineage = $1', [lineage]);
    const v = rows[0]?.v ?? null;
    return v === null ? 0 : Number(v);
  }

  async markRevoked(id: number, at: string, reason: number): Promise<void> {
    await this.db.query('UPDATE issued SET revoked_at = $1, revoke_reason = $2 WHERE id = $3', [at, reason, id]);
  }

  /**
   * Stores a version's files, its private key sealed under the current KEK. Idempotent: storing
   * the same files again (a retried run, two nodes finishing the same issuance) is no error;
   * different files for a version already stored are refused — a version is never rewritten.
   */
  async putPems(lineage: string, version: number, pems: CertPems, fence?: Fence): Promise<void> {
    const to = { lineage, version };
    const sealed = sealKey(this.keks.seal, pems.privkey, to);
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same version to commit, so the
    // comparison below always sees the winner's row.
    const { rowCount } = await fencedWrite(this.db, fence, (q) => q.query(`INSERT INTO issued_files (lineage, version, cert, chain, fullchain, privkey_sealed, kek_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (lineage, version) DO NOTHING`, [lineage, version, pems.cert, pems.chain, pems.fullchain, sealed, sealedWith(sealed)]));
    if (rowCount === 1) return;
    const stored = await this.files(lineage, version);
    if (stored === null) {
      // Only if someone deleted the row between the two statements: a retry settles it.
      throw new StoreError('invalid-argument', `the files of ${lineage} version ${version} changed while they were being stored; try again`);
    }
    const differs: string[] = (['cert', 'chain', 'fullchain'] as const).filter((k) => stored[k] !== pems[k]);
    // Opening the stored key checks the KEK too: one nobody here can open is named as such.
    if (openKey(this.openWith, stored.privkey_sealed, to) !== pems.privkey) differs.push('privkey');
    if (differs.length > 0) {
      throw new StoreError('invalid-argument', `${lineage} version ${version} is already stored with other files (${differs.join(', ')} differ); an issued version is never rewritten`);
    }
  }

  /** A version's files with its private key opened, or null when the store does not hold them. */
  async pems(lineage: string, version: number): Promise<CertPems | null> {
    const row = await this.files(lineage, version);
    if (row === null) return null;
    return { cert: row.cert, chain: row.chain, fullchain: row.fullchain, privkey: openKey(this.openWith, row.privkey_sealed, { lineage, version }) };
  }

  private async files(lineage: string, version: number): Promise<FilesRow | null> {
    const { rows } = await this.db.query<FilesRow>('SELECT cert, chain, fullchain, privkey_sealed FROM issued_files WHERE lineage = $1 AND version = $2', [lineage, version]);
    return rows[0] ?? null;
  }
}
