import type { Db } from './db.js';

export interface LockHolder {
  owner: string;
  acquiredAt: number;
  expiresAt: number;
  /** The fencing token of the current lease. */
  token: number;
}

/**
 * Leased locks in SQLite (ARCHITECTURE §4). A holder extends its lease with `heartbeat` while it
 * works; a lease that ran out belongs to nobody, so a process killed with -9 blocks the next one
 * for at most one lease. Every call is one IMMEDIATE transaction: two processes asking at the same
 * moment are serialised by SQLite, and exactly one of them gets the lock.
 */
export class LockRepository {
  constructor(private readonly db: Db, private readonly clock: () => number = Date.now) {}

  /** The lease's fencing token (>= 1, one more than the lock's last), or null when someone else holds it. */
  tryAcquire(name: string, owner: string, leaseMs: number): number | null {
    return this.db.transaction(() => {
      const now = this.clock();
      const row = this.db.prepare('SELECT owner, expires_at, token FROM locks WHERE name = ?').get(name) as { owner: string; expires_at: number; token: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) return null;
      const token = (row?.token ?? 0) + 1;
      this.db.prepare('INSERT INTO locks (name, owner, acquired_at, expires_at, token) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, token = excluded.token')
        .run(name, owner, now, now + leaseMs, token);
      return token;
    }).immediate();
  }

  /** Extends the lease; false when it was lost (expired and taken by someone else, or released). */
  heartbeat(name: string, owner: string, leaseMs: number, token?: number): boolean {
    const now = this.clock();
    return this.db.prepare('UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND (? IS NULL OR token = ?) AND expires_at > 0').run(now + leaseMs, name, owner, token ?? null, token ?? null).changes === 1;
  }

  /** Ends the lease; the row stays (expired) so that the token never goes back. */
  release(name: string, owner: string, token?: number): void {
    this.db.prepare('UPDATE locks SET expires_at = 0 WHERE name = ? AND owner = ? AND (? IS NULL OR token = ?)').run(name, owner, token ?? null, token ?? null);
  }

  holder(name: string): LockHolder | null {
    const row = this.db.prepare('SELECT owner, acquired_at, expires_at, token FROM locks WHERE name = ?').get(name) as { owner: string; acquired_at: number; expires_at: number; token: number } | undefined;
    if (!row || row.expires_at <= this.clock()) return null;
    return { owner: row.owner, acquiredAt: row.acquired_at, expiresAt: row.expires_at, token: row.token };
  }


}
