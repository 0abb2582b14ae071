/**
 * The store contract (test/contract/store-contract.ts) on the PostgreSQL engine (pg/store.ts):
 * one private PostgreSQL 15 for this file (loopback, TLS), a fresh database per test. Each open is
 * a pool of its own on that database, as two nodes sharing it would hold.
 *
 * Then what only a network engine can suffer: the connection killed (pg_terminate_backend, as a
 * crashed node, a failover or a network cut does) while a recordMany or commitRun of many rows is
 * in flight. All or nothing: afterwards none of it is visible, and the store works on the next call.
 *
 * For the lead (pg/db.ts, not this file's to change), found by this file on 2026-12-04:
 * - A connection killed while its client is checked out of the pool (inside tx) makes pg.Client
 *   emit 'error' ("Connection terminated unexpectedly") with no listener: pg-pool removes its
 *   idle listener on checkout, so the process dies of an uncaught exception (a daemon would exit
 *   on any PostgreSQL restart or failover mid-transaction). A listener on the client from
 *   pool.connect() to release fixes it; the crash tests pass with one.
 * - snapshot(read): an error thrown by `read` itself comes back wrapped ("a transaction failed:
 *   …", StoreError 'postgres'); SQLite's snapshot rethrows it as it was (contract test
 *   "a failing read rejects…").
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { StoreError } from '../../src/core/errors.js';
import type { AsyncStore } from '../../src/store/contract.js';
import { connectPg, parsePgUrl } from '../../src/store/pg/connect.js';
import { openPgStore } from '../../src/store/pg/store.js';
import type { NewOutboxMessage, RecordItem } from '../../src/store/index.js';
import { storeContract } from '../contract/store-contract.js';
import { fleet } from '../helpers/store-fixtures.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';
const skip = !required && unavailable ? unavailable : false;

const KEK = randomBytes(32).toString('base64');

let cluster: StoreCluster | undefined;
async function theCluster(): Promise<StoreCluster> {
  if (unavailable) throw new Error(unavailable);
  cluster ??= await startStoreCluster();
  return cluster;
}
after(async () => {
  await cluster?.stop();
});

let url = '';
storeContract('postgres', {
  async open(opts = {}) {
    return openPgStore(url, { keyEncryptionKey: KEK, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.node ? { node: opts.node } : {}) });
  },
  async fresh() {
    url = await (await theCluster()).newDatabase('contract');
  },
  // The cluster is stopped once, after the crash tests below too.
  async cleanup() {},
}, { skip });

/** Polls `probe` until it gives a value; fails after `ms`. */
async function until<T>(probe: () => Promise<T | null>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the PostgreSQL store when its connection is killed mid-transaction', { skip }, () => {
  /**
   * Runs `write` on a fresh store while `table` is locked by another session, so the write's
   * transaction stops inside, after what it wrote before touching `table`; kills its backend
   * there, and returns the store (still open) with the write's rejection.
   */
  async function killedDuring(table: string, write: (s: AsyncStore) => Promise<unknown>): Promise<{ store: AsyncStore; err: unknown; admin: pg.Client; wroteBefore: string[] }> {
    const c = await theCluster();
    const dbUrl = await c.newDatabase('crash');
    const store = await openPgStore(dbUrl, { keyEncryptionKey: KEK });
    const admin = await connectPg(parsePgUrl(dbUrl));
    const locker = await connectPg(parsePgUrl(dbUrl));
    try {
      // Migrated, a pooled connection open, and the scan store's one-time work done (the first
      // recording renders the status texts, reading every table it writes).
      await store.meta.set('warm', 'yes');
      await store.scans.recordMany(fleet(1, { scannedAt: '2030-05-01T00:00:00.000Z' }).map((i) => ({ ...i, report: { ...i.report, domain: 'warm.example', host: 'warm.example' } })));
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      let err: unknown = null;
      let settled = false;
      const inFlight = write(store).then(
        () => { settled = true; },
        (e: unknown) => { settled = true; err = e; },
      );
      // The writer's backend, waiting for the table inside its transaction.
      const pid = await until(async () => {
        if (settled) assert.fail(`the write ended before it reached ${table}: ${String(err)}`);
        const r = await admin.query<{ pid: number }>(
          `SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
            WHERE a.datname = current_database() AND NOT l.granted AND l.relation = $1::regclass AND a.pid <> $2 AND a.xact_start IS NOT NULL`,
          [table, lockerPid],
        );
        return r.rows[0]?.pid ?? null;
      }, 20_000, `the write to wait for ${table}`);
      // What it had written (row locks taken) before it stopped: the kill lands mid-transaction.
      const held = await admin.query<{ rel: string }>(
        `SELECT DISTINCT relation::regclass::text AS rel FROM pg_locks WHERE pid = $1 AND granted AND mode = 'RowExclusiveLock' AND relation IS NOT NULL ORDER BY 1`,
        [pid],
      );
      const killed = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
      assert.equal(killed.rows[0]!.ok, true);
      await locker.query('ROLLBACK');
      await inFlight;
      assert.ok(settled);
      return { store, err, admin, wroteBefore: held.rows.map((r) => r.rel) };
    } finally {
      await locker.end().catch(() => undefined);
    }
  }

  async function count(admin: pg.Client, table: string): Promise<number> {
    return Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
  }

  it('recordMany of 2,000 scans: nothing of it is visible, and the next recordMany stores', async () => {
    const items: RecordItem[] = fleet(2000, { scannedAt: '2030-06-01T00:00:00.000Z' });
    // scans is written after the certificates, endpoints and results of the first item.
    const { store, err, admin, wroteBefore } = await killedDuring('scans', (s) => s.scans.recordMany(items));
    try {
      assert.ok(err instanceof StoreError && err.code === 'connection', `rejected as a lost connection: ${String(err)}`);
      assert.ok(wroteBefore.includes('certificates'), `killed after writing: ${wroteBefore.join(', ')}`);
      assert.deepEqual((await store.scans.latest()).map((r) => r.domain), ['warm.example']);
      assert.equal(await store.scans.statusText([{ domain: items[0]!.report.domain, host: items[0]!.report.host, port: 443, source: 'tls' }]), null);
      // Only the warm-up scan's rows: its endpoint, result and scan, its leaf, intermediate and root.
      for (const [t, n] of [['certificates', 3], ['endpoints', 1], ['scan_results', 1], ['scans', 1]] as const) assert.equal(await count(admin, t), n, `${t}: nothing of the killed write`);

      const ids = await store.scans.recordMany(items.slice(0, 50));
      assert.equal(ids.length, 50);
      assert.equal((await store.scans.latest({ withChain: true })).length, 51);
      assert.equal(await store.meta.get('warm'), 'yes');
    } finally {
      await admin.end();
      await store.close();
    }
  });

  it('commitRun of 2,000 messages: no key, problem, message or meta of it, and the next run commits', async () => {
    const messages: NewOutboxMessage[] = Array.from({ length: 2000 }, (_, i) => ({
      key: `crash-${i}`, channel: 'email', to: ['ops@example.com'], subject: `s${i}`, text: `t${i}`, html: null, payload: null,
      createdAt: '2030-01-01T00:00:00.000Z', nextAttemptAt: '2030-01-01T00:00:00.000Z',
    }));
    const run = {
      at: '2030-01-01T00:00:00.000Z',
      markSent: messages.map((m) => `sent-${m.key}`),
      activate: messages.slice(0, 500).map((m) => ({ endpointKey: `${m.key}.example:443`, domain: `${m.key}.example`, endpoint: `${m.key}.example:443`, code: 'expired', since: '2030-01-01T00:00:00.000Z', message: 'm' })),
      clear: [],
      messages,
      meta: { digest: '2030-01-01' },
    };
    // notify_meta is written last: everything else of the run is in when the kill lands.
    const { store, err, admin, wroteBefore } = await killedDuring('notify_meta', (s) => s.notifications.commitRun(run));
    try {
      assert.ok(err instanceof StoreError && err.code === 'connection', `rejected as a lost connection: ${String(err)}`);
      assert.ok(wroteBefore.includes('outbox') && wroteBefore.includes('notify_sent'), `killed after writing: ${wroteBefore.join(', ')}`);
      assert.deepEqual(await store.notifications.sentKeys(), new Set());
      assert.deepEqual(await store.notifications.active(), []);
      assert.equal(await store.notifications.pendingCount(), 0);
      assert.deepEqual(await store.notifications.list(), []);
      assert.equal(await store.notifications.meta('digest'), null);
      for (const t of ['notify_sent', 'notify_active', 'outbox', 'notify_meta']) assert.equal(await count(admin, t), 0, `${t} is empty`);

      const ids = await store.notifications.commitRun(run);
      assert.equal(ids.length, 2000);
      assert.equal(await store.notifications.pendingCount(), 2000);
      assert.equal(await store.notifications.meta('digest'), '2030-01-01');
    } finally {
      await admin.end();
      await store.close();
    }
  });
});
