/** Holding a leased SQLite lock while work runs: heartbeat in the background, release in `finally`. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BusyError } from '../core/errors.js';
import type { LockRepository } from '../store/locks.js';

export const LEASE_MS = 60_000;

/** A lock owner id that names the process, for "held by …" messages. */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export interface Lease {
  readonly name: string;
  /** False once the lease was lost (a heartbeat found someone else holding it). */
  held(): boolean;
  release(): void;
}

export function tryLease(locks: LockRepository, name: string, owner: string, leaseMs = LEASE_MS): Lease | null {
  if (!locks.tryAcquire(name, owner, leaseMs)) return null;
  let held = true;
  const timer = setInterval(() => {
    try {
      held = locks.heartbeat(name, owner, leaseMs);
    } catch {
      // A busy database skips one beat; the lease is three beats long.
    }
    if (!held) clearInterval(timer);
  }, Math.max(50, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    name,
    held: () => held,
    release() {
      clearInterval(timer);
      if (held) locks.release(name, owner);
      held = false;
    },
  };
}

/**
 * Waits for a lock (another `certs renew` or `certs run` finishing), polling until `waitMs` has
 * passed. Throws a BusyError naming the holder when it never came free.
 */
export async function waitLease(locks: LockRepository, name: string, owner: string, waitMs: number, opts: { pollMs?: number; leaseMs?: number } = {}): Promise<Lease> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lease = tryLease(locks, name, owner, opts.leaseMs);
    if (lease) return lease;
    if (Date.now() >= deadline) {
      const h = locks.holder(name);
      throw new BusyError(`another certs process holds the ${name} lock${h ? ` (${h.owner}, lease until ${new Date(h.expiresAt).toISOString()})` : ''}; try again when it has finished`, {
        hint: 'a process that was killed releases its lock when its lease expires (one minute)',
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 250, Math.max(1, deadline - Date.now()))));
  }
}
