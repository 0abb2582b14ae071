/**
 * Leased locks on PostgreSQL (store/pg/locks.ts) under real concurrency (issue 15): two stores on
 * their own connections racing for one lock, 20 times over, exactly one wins each race — for a new
 * lock, for an expired one being taken over, and when both are made to queue on the same row first
 * so that neither can be served before the other has asked. Lease arithmetic follows the injected
 * clock, never the server's (the contract suite covers the rest of the semantics on both engines).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { openPgDb, type PgDb } from '../../src/store/pg/db.js';
import { PgLockStore } from '../../src/store/pg/locks.js';
import { applyPgMigrations } from '../../src/store/pg/migrate.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';
const RACES = 20;
const LEASE = 60_000;

/** Resolves once `n` sessions of this database wait on a lock (polls pg_stat_activity: no fixed sleep). */
async function waitForLockWaiters(q: pg.ClientBase, n: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await q.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
    );
    if ((r.rows[0]?.n ?? 0) >= n) return;
    if (Date.now() > deadline) assert.fail(`only ${r.rows[0]?.n ?? 0} of ${n} sessions came to wait on a lock within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PostgreSQL leased locks under concurrency', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let url: string;
  let dbA: PgDb;
  let dbB: PgDb;
  let admin: pg.Client;
  let now = Date.parse('2030-01-01T00:00:00.000Z');
  const clock = (): number => now;
  let a: PgLockStore;
  let b: PgLockStore;

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    cluster = await startStoreCluster();
    url = await cluster.newDatabase();
    admin = await connectPg(parsePgUrl(url));
    await applyPgMigrations(admin);
    // One connection each: the two stores are two processes as far as the server can tell.
    dbA = await openPgDb(parsePgUrl(url), { poolSize: 1 });
    dbB = await openPgDb(parsePgUrl(url), { poolSize: 1 });
    a = new PgLockStore(dbA, clock);
    b = new PgLockStore(dbB, clock);
  });
  after(async () => {
    await dbA?.close();
    await dbB?.close();
    await admin?.end().catch(() => undefined);
    await cluster?.stop();
  });

  /** Both ask at once; exactly one gets it, and the row names that one with the clock's lease. */
  async function race(name: string, before?: () => Promise<void>): Promise<'a' | 'b'> {
    const asked = Promise.all([a.tryAcquire(name, 'a', LEASE), b.tryAcquire(name, 'b', LEASE)]);
    if (before) await before();
    const [gotA, gotB] = await asked;
    assert.equal(Number(gotA !== null) + Number(gotB !== null), 1, `${name}: exactly one of a (${gotA}) and b (${gotB}) holds it`);
    const winner = gotA !== null ? 'a' : 'b';
    const token = (gotA ?? gotB)!;
    assert.deepEqual(await a.holder(name), { owner: winner, acquiredAt: now, expiresAt: now + LEASE, token });
    const rows = await admin.query('SELECT owner FROM locks WHERE name = $1', [name]);
    assert.deepEqual(rows.rows, [{ owner: winner }]);
    return winner;
  }

  it(`a new lock, ${RACES} races: exactly one winner each time`, async () => {
    for (let i = 0; i < RACES; i++) await race(`new-${i}`);
  });

  it(`an expired lock taken over, ${RACES} races: exactly one winner each time, never the old holder's row`, async () => {
    for (let i = 0; i < RACES; i++) {
      const name = `expired-${i}`;
      assert.equal(await a.tryAcquire(name, 'old', 1000), 1);
      now += 1000; // the lease ends exactly now: expired (expires_at <= now), as in SQLite
      assert.equal(await a.holder(name), null);
      await race(name);
    }
  });

  it(`both queued on the same row before either is served, ${RACES} races: exactly one winner`, async () => {
    for (let i = 0; i < RACES; i++) {
      // An expired lease held FOR UPDATE by a third session: both racers block on the row, then
      // re-check the WHERE against what the other committed when it is released.
      const name = `queued-${i}`;
      await admin.query('INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES ($1, $2, $3, $3)', [name, 'old', now - 1]);
      await admin.query('BEGIN');
      await admin.query('SELECT 1 FROM locks WHERE name = $1 FOR UPDATE', [name]);
      await race(name, async () => {
        await waitForLockWaiters(admin, 2);
        await admin.query('COMMIT');
      });
    }
  });

  it(`both queued on an uncommitted insert of the same name that is rolled back, ${RACES} races: exactly one winner`, async () => {
    for (let i = 0; i < RACES; i++) {
      // Both racers' INSERTs wait for the third session's; when it rolls back, one inserts and the
      // other meets that row in ON CONFLICT, unexpired and not its own.
      const name = `inserting-${i}`;
      await admin.query('BEGIN');
      await admin.query('INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES ($1, $2, $3, $3)', [name, 'ghost', now]);
      await race(name, async () => {
        await waitForLockWaiters(admin, 2);
        await admin.query('ROLLBACK');
      });
    }
  });

  it('leases follow the injected clock, not the server: held until expiresAt, free from it', async () => {
    now = Date.parse('2001-01-01T00:00:00.000Z'); // decades before the server's own time
    assert.equal(await a.tryAcquire('clock', 'a', 5000), 1);
    assert.deepEqual(await b.holder('clock'), { owner: 'a', acquiredAt: now, expiresAt: now + 5000, token: 1 });
    now += 4999;
    assert.equal(await b.tryAcquire('clock', 'b', 5000), null, 'one millisecond left');
    assert.equal(await b.heartbeat('clock', 'b', 5000), false, 'only the holder extends');
    assert.equal(await a.heartbeat('clock', 'a', 5000), true, 'the end moves to now + 5000');
    now += 4999;
    assert.equal(await b.tryAcquire('clock', 'b', 5000), null, 'the heartbeat kept it');
    now += 1;
    assert.equal(await b.tryAcquire('clock', 'b', 5000), 2, 'the takeover raises the token');
    assert.equal(await a.heartbeat('clock', 'a', 5000), false, 'the lease was lost');
  });
});
