/** Holding a leased store lock while work runs: heartbeat in the background, release in `finally`. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BusyError } from '../core/errors.js';
import type { AsyncStore, LockStore } from '../store/contract.js';
import type { Fence } from '../store/fence.js';

export const LEASE_MS = 60_000;

/** A lock owner id that names the process, for "held by …" messages. */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export interface Lease {
  readonly name: string;
  /** The lease's fencing token: writes made under it carry `fence`, and the store refuses them once another holder took over. */
  readonly token: number;
  readonly fence: Fence;
  /** False once the lease was lost (a heartbeat found someone else holding it). */
  held(): boolean;
  /** Stops the heartbeat and gives the lock back; never throws (an unreleased lease expires). */
  release(): Promise<void>;
}

export async function tryLease(locks: LockStore, name: string, owner: string, leaseMs = LEASE_MS): Promise<Lease | null> {
  const token = await locks.tryAcquire(name, owner, leaseMs);
  if (token === null) return null;
  let held = true;
  let beating = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = true;
    locks.heartbeat(name, owner, leaseMs, token).then(
      (still) => {
        // A beat answered after release() must not bring the lease back.
        if (held) held = still;
        if (!held) clearInterval(timer);
      },
      // A busy or unreachable database skips one beat; the lease is three beats long.
      () => undefined,
    ).finally(() => (beating = false));
  }, Math.max(50, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    name,
    token,
    fence: { lock: name, token },
    held: () => held,
    async release() {
      clearInterval(timer);
      const was = held;
      held = false;
      if (was) await locks.release(name, owner, token).catch(() => undefined);
    },
  };
}

/**
 * Waits for a lock (another `certs renew` or `certs run` finishing), polling until `waitMs` has
 * passed. Throws a BusyError naming the holder when it never came free.
 */
export async function waitLease(locks: LockStore, name: string, owner: string, waitMs: number, opts: { pollMs?: number; leaseMs?: number } = {}): Promise<Lease> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lease = await tryLease(locks, name, owner, opts.leaseMs);
    if (lease) return lease;
    if (Date.now() >= deadline) {
      const h = await locks.holder(name);
      throw new BusyError(`another certs process holds the ${name} lock${h ? ` (${h.owner}, lease until ${new Date(h.expiresAt).toISOString()})` : ''}; try again when it has finished`, {
        hint: 'a process that was killed releases its lock when its lease expires (cluster.leaseSeconds, one minute by default)',
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 250, Math.max(1, deadline - Date.now()))));
  }
}

/**
 * The lock over a lineage's files on this machine (deploy, repair's deploy, archive pruning). On
 * SQLite, one machine, it is the certificate's own lock, so nothing moves `current` while a renewal
 * records a version. On PostgreSQL each node deploys to its own nginx: `cert:<lineage>@<node>`, so
 * the nodes of a cluster deploy a new version at the same time, while ordering stays one node's
 * (`cert:<lineage>`, cluster-wide).
 */
export function localCertLock(store: Pick<AsyncStore, 'engine' | 'node'>, lineage: string): string {
  return store.engine === 'postgres' ? `cert:${lineage}@${store.node}` : `cert:${lineage}`;
}
