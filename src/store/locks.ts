import type { Db } from './db.js';

export interface LockHolder {
  owner: string;
  acquiredAt: number;
  expiresAt: number;
}

/**
 * Leased locks in SQLite (ARCHITECTURE §4). A holder extends its lease with `heartbeat` while it
 * works; a lease that ran out belongs to nobody, so a process killed with -9 blocks the next one
 * for at most one lease. Every call is one IMMEDIATE transaction: two processes asking at the same
 * moment are serialised by SQLite, and exactly one of them gets the lock.
 */
export class LockRepository {
  constructor(private readonly db: Db, private readonly clock: () => number = Date.now) {}

  tryAcquire(name: string, owner: string, leaseMs: number): boolean {
    return this.db.transaction(() => {
      const now = this.clock();
      const row = this.db.prepare('SELECT owner, expires_at FROM locks WHERE name = ?').get(name) as { owner: string; expires_at: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) return false;
      this.db.prepare('INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at')
        .run(name, owner, now, now + leaseMs);
      return true;
    }).immediate();
  }

  /** Extends the lease; false when it was lost (expired and taken by someone else). */
  heartbeat(name: string, owner: string, leaseMs: number): boolean {
    const now = this.clock();
    return this.db.prepare('UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ?').run(now + leaseMs, name, owner).changes === 1;
  }

  release(name: string, owner: string): void {
    this.db.prepare('DELETE FROM locks WHERE name = ? AND owner = ?').run(name, owner);
  }

  holder(name: string): LockHolder | null {
    const row = this.db.prepare('SELECT owner, acquired_at, expires_at FROM locks WHERE name = ?').get(name) as { owner: string; acquired_at: number; expires_at: number } | undefined;
    if (!row || row.expires_at <= this.clock()) return null;
    return { owner: row.owner, acquiredAt: row.acquired_at, expiresAt: row.expires_at };
  }
}
