// The SQLite store a test opened (openStore) as the async store the services take: one wrapper
// per Store, so a test can keep writing through the synchronous repositories to set a scene and
// hand the same store to a service.
import { dirname } from 'node:path';
import type { LockRepository, Store } from '../../src/store/index.js';
import type { AsyncStore, LockStore } from '../../src/store/contract.js';
import { asyncStore } from '../../src/store/sqlite-async.js';

const wrapped = new WeakMap<Store, AsyncStore>();

/** `store` behind the async contract; its archive is the directory of its database file. */
export function a(store: Store): AsyncStore;
export function a(store: Store | null): AsyncStore | null;
export function a(store: Store | null): AsyncStore | null {
  if (!store) return null;
  let w = wrapped.get(store);
  if (!w) {
    w = asyncStore(store, dirname(store.db.name));
    wrapped.set(store, w);
  }
  return w;
}

/** A lock repository (or a test's subclass of one) as the async LockStore the leases take. */
export function al(locks: LockRepository): LockStore {
  return {
    tryAcquire: async (name, owner, leaseMs) => locks.tryAcquire(name, owner, leaseMs),
    heartbeat: async (name, owner, leaseMs) => locks.heartbeat(name, owner, leaseMs),
    release: async (name, owner) => locks.release(name, owner),
    holder: async (name) => locks.holder(name),
  };
}
