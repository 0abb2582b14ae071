/**
 * Leased locks on PostgreSQL (store/locks.ts's behaviour and clock). tryAcquire is one statement:
 * the row is inserted, or taken over only when its lease ran out or it is already ours, so of two
 * processes asking at once exactly one gets `true` (the other's ON CONFLICT update finds the
 * WHERE false once the first committed, and returns no row).
 */
import type { LockHolder } from '../locks.js';
import type { LockStore } from '../contract.js';
import type { PgDb, PgQueryable } from './db.js';
import { fencedError, type Fence } from '../fence.js';

/**
 * Throws StoreError 'fenced' unless `fence` is the lock's current token. Run it inside the write's
 * transaction: FOR SHARE makes a concurrent takeover wait for that transaction to end.
 */
export async function assertPgFence(q: PgQueryable, fence: Fence | undefined): Promise<void> {
  if (!fence) return;
  const r = await q.query<{ token: string }>('SELECT token FROM locks WHERE name = $1 FOR SHARE', [fence.lock]);
  const current = r.rows[0] ? Number(r.rows[0].token) : null;
  if (current !== fence.token) throw fencedError(fence, current);
}

/** Runs `write` with the fence checked in the same transaction (none needed without a fence). */
export async function fencedWrite<T>(db: PgQueryable, fence: Fence | undefined, write: (q: PgQueryable) => Promise<T>): Promise<T> {
  if (!fence) return write(db);
  const pool = db as Partial<PgDb>;
  if (typeof pool.tx !== 'function') {
    // Already one client inside a transaction (a snapshot's): check there.
    await assertPgFence(db, fence);
    return write(db);
  }
  return pool.tx(async (q) => {
    await assertPgFence(q, fence);
    return write(q);
  });
}

export class PgLockStore implements LockStore {
  constructor(private readonly db: PgQueryable, private readonly clock: () => number = Date.now) {}

  async tryAcquire(name: string, owner: string, leaseMs: number): Promise<number | null> {
    const now = this.clock();
    const r = await this.db.query<{ token: string }>(
      `INSERT INTO locks (name, owner, acquired_at, expires_at, token) VALUES ($1, $2, $3, $4, 1)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, token = locks.token + 1
       WHERE locks.owner = excluded.owner OR locks.expires_at <= $3
       RETURNING token`,
      [name, owner, now, now + leaseMs],
    );
    return r.rowCount === 1 ? Number(r.rows[0]!.token) : null;
  }

  async heartbeat(name: string, owner: string, leaseMs: number, token?: number): Promise<boolean> {
    const r = await this.db.query('UPDATE locks SET expires_at = $1 WHERE name = $2 AND owner = $3 AND ($4::bigint IS NULL OR token = $4) AND expires_at > 0', [this.clock() + leaseMs, name, owner, token ?? null]);
    return r.rowCount === 1;
  }

  /** Ends the lease; the row stays (expired) so that the token never goes back. */
  async release(name: string, owner: string, token?: number): Promise<void> {
    await this.db.query('UPDATE locks SET expires_at = 0 WHERE name = $1 AND owner = $2 AND ($3::bigint IS NULL OR token = $3)', [name, owner, token ?? null]);
  }

  async holder(name: string): Promise<LockHolder | null> {
    const r = await this.db.query<{ owner: string; acquired_at: string; expires_at: string; token: string }>('SELECT owner, acquired_at, expires_at, token FROM locks WHERE name = $1', [name]);
    const row = r.rows[0];
    if (!row || Number(row.expires_at) <= this.clock()) return null;
    return { owner: row.owner, acquiredAt: Number(row.acquired_at), expiresAt: Number(row.expires_at), token: Number(row.token) };
  }
}
