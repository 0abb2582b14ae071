/**
 * Fencing tokens (issue 16). Every acquisition of a lock raises its row's token by one, and the
 * row is never deleted, so a token never comes back. A write made under a lock carries the
 * (lock, token) it was taken with; the store refuses it, writing nothing, once the lock's row holds
 * another token, i.e. once another holder took the lock over after our lease ran out. That is
 * what makes a paused process (SIGSTOP, a long GC, a VM migration) harmless: whatever it believes
 * about its lease when it wakes up, its late writes are refused by the database itself.
 *
 * The check runs inside the write's own transaction: on SQLite that transaction is IMMEDIATE (no
 * other writer can take the lock over in between); on PostgreSQL it reads the lock's row FOR
 * SHARE, so a takeover (an UPDATE of that row) waits until the write has committed, and a write
 * that comes after the takeover sees the new token.
 */
import { StoreError } from '../core/errors.js';
import type { Db } from './db.js';

export interface Fence {
  /** The lock's name (`cert:<lineage>`, `notify`, …). */
  lock: string;
  /** The token the lease was acquired with. */
  token: number;
}

export function fencedError(fence: Fence, current: number | null): StoreError {
  return new StoreError('fenced', `the ${fence.lock} lock was taken over by another holder (token ${current ?? 'none'}, ours ${fence.token}) after our lease ran out; this write was refused and nothing was written`, {
    hint: 'another node finished the work; nothing to do (a process paused past its lease, e.g. by SIGSTOP or a long stall, cannot overwrite it)',
  });
}


/** SQLite: throws StoreError 'fenced' unless `fence` is its lock's current token. Call inside the write's transaction. */
export function assertFence(db: Db, fence: Fence | undefined): void {
  if (!fence) return;
  const current = db.prepare('SELECT token FROM locks WHERE name = ?').pluck().get(fence.lock) as number | undefined;
  if (current !== fence.token) throw fencedError(fence, current ?? null);
}
