/**
 * Leased locks on PostgreSQL (store/locks.ts's behaviour and clock). tryAcquire is one statement:
 * the row is inserted, or taken over only when its lease ran out or it is already ours, so of two
 * processes asking at once exactly one gets `true` (the other's ON CONFLICT update finds the
 * WHERE false once the first committed, and returns no row).
 */
import type { LockHolder } from '../locks.js';
import type { LockStore } from '../contract.js';
import type { PgQueryable } from './db.js';

export class PgLockStore implements LockStore {
  constructor(private readonly db: PgQueryable, private readonly clock: () => number = Date.now) {}

  async tryAcquire(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.clock();
    const r = await this.db.query(
      `INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
       WHERE locks.owner = excluded.owner OR locks.expires_at <= $3
       RETURNING name`,
      [name, owner, now, now + leaseMs],
    );
    return r.rowCount === 1;
  }

  async heartbeat(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.db.query('UPDATE locks SET expires_at = $1 WHERE name = $2 AND owner = $3', [this.clock() + leaseMs, name, owner]);
    return r.rowCount === 1;
  }

  async release(name: string, owner: string): Promise<void> {
    await this.db.query('DELETE FROM locks WHERE name = $1 AND owner = $2', [name, owner]);
  }

  async holder(name: string): Promise<LockHolder | null> {
    const r = await this.db.query<{ owner: string; acquired_at: string; expires_at: string }>('SELECT owner, acquired_at, expires_at FROM locks WHERE name = $1', [name]);
    const row = r.rows[0];
    if (!row || Number(row.expires_at) <= this.clock()) return null;
    return { owner: row.owner, acquiredAt: Number(row.acquired_at), expiresAt: Number(row.expires_at) };
  }
}
