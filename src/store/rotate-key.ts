/**
 * `certs store rotate-key` (issue 15): every private key in issued_files re-sealed from the old
 * key-encryption key to the new one.
 *
 * In batches, each one transaction that takes its rows FOR UPDATE, opens each key with the old
 * (or already the new) KEK, seals it with the new one and writes it back. Rows already under the
 * new KEK's ID are not selected, so a rerun after a crash (or a second rotate-key at the same
 * time: SKIP LOCKED) simply finishes the job; a rerun once done changes nothing. A key that the
 * given KEKs cannot open stops the rotation with the error naming it; the batches before it stay
 * committed, which is fine: those keys open with the new KEK, and the store holds both until done.
 */
import { openKey, sealKey, sealedWith, type Kek } from './key-crypto.js';
import type { PgDb } from './pg/db.js';

export interface RotateResult {
  /** The KEK the keys are sealed with now. */
  newKekId: string;
  /** issued_files rows in the store. */
  total: number;
  /** Re-sealed by this run. */
  resealed: number;
  /** Already under the new KEK before this run. */
  alreadyNew: number;
}

const BATCH = 100;

interface Sealed {
  lineage: string;
  version: number | string;
  privkey_sealed: Buffer;
}

export async function rotateKeks(db: PgDb, oldKek: Kek, newKek: Kek, opts: { batch?: number; onBatch?: (resealed: number) => void | Promise<void> } = {}): Promise<RotateResult> {
  const batch = opts.batch ?? BATCH;
  const before = await db.query<{ total: string; already: string }>('SELECT count(*) AS total, count(*) FILTER (WHERE kek_id = $1) AS already FROM issued_files', [newKek.id]);
  const total = Number(before.rows[0]!.total);
  const alreadyNew = Number(before.rows[0]!.already);
  let resealed = 0;
  for (;;) {
    const n = await db.tx(async (q) => {
      // SKIP LOCKED: a second rotate-key running at once takes other rows rather than waiting.
      const { rows } = await q.query<Sealed>(`SELECT lineage, version, privkey_sealed FROM issued_files WHERE kek_id <> $1
        ORDER BY lineage COLLATE "C", version LIMIT $2 FOR UPDATE SKIP LOCKED`, [newKek.id, batch]);
      for (const r of rows) {
        const to = { lineage: r.lineage, version: Number(r.version) };
        const sealed = sealKey(newKek, openKey([oldKek, newKek], r.privkey_sealed, to), to);
        await q.query('UPDATE issued_files SET privkey_sealed = $1, kek_id = $2 WHERE lineage = $3 AND version = $4', [sealed, sealedWith(sealed), r.lineage, to.version]);
      }
      return rows.length;
    });
    if (n === 0) break;
    resealed += n;
    await opts.onBatch?.(resealed);
  }
  return { newKekId: newKek.id, total, resealed, alreadyNew };
}
