import { al } from '../../helpers/async-store.js';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { CertsError } from '../../../src/core/errors.js';
import { applyMigrations, LockRepository, MIGRATIONS, openStore, SCHEMA_VERSION, type Db, type IssuedCert, type Store } from '../../../src/store/index.js';
import { LEASE_MS, tryLease, waitLease } from '../../../src/service/lease.js';

const root = mkdtempSync(join(tmpdir(), 'certs-store-acme-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
function freshDataDir(): string {
  return join(root, `t${++seq}`);
}

/** A clock the test moves by hand; starts at 2030-01-01T00:00:00Z. */
function manualClock(): { now: () => number; set(ms: number): void; advance(ms: number): void } {
  let t = Date.UTC(2030, 0, 1);
  return {
    now: () => t,
    set: (ms) => void (t = ms),
    advance: (ms) => void (t += ms),
  };
}

function withStore<T>(fn: (store: Store, dataDir: string) => T, opts: { clock?: () => number } = {}): T {
  const dataDir = freshDataDir();
  const store = openStore(dataDir, opts);
  try {
    return fn(store, dataDir);
  } finally {
    store.close();
  }
}

async function withStoreAsync<T>(fn: (store: Store, dataDir: string) => Promise<T>, opts: { clock?: () => number } = {}): Promise<T> {
  const dataDir = freshDataDir();
  const store = openStore(dataDir, opts);
  try {
    return await fn(store, dataDir);
  } finally {
    store.close();
  }
}

function tables(db: Db): string[] {
  return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
}

/** Polls `cond` every few milliseconds until it holds; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function cert(lineage: string, version: number, over: Partial<IssuedCert> = {}): IssuedCert {
  return {
    lineage,
    version,
    fingerprint256: `${lineage}:${version}:FP`,
    serial: `0${version}AB`,
    notBefore: `2030-0${version}-01T00:00:00.000Z`,
    notAfter: `2030-0${version + 3}-01T00:00:00.000Z`,
    issuer: 'CN=Test Issuing CA',
    names: [lineage, `www.${lineage}`],
    keyType: 'ecdsa-p256',
    directoryUrl: 'https://acme.test/directory',
    profile: null,
    ariCertId: `ari-${lineage}-${version}`,
    replacedId: version > 1 ? `ari-${lineage}-${version - 1}` : null,
    dir: `/data/certs/${lineage}/archive/${version}`,
    issuedAt: `2030-0${version}-01T00:05:00.000Z`,
    reason: version === 1 ? 'first issuance' : 'one third of the lifetime left',
    revokedAt: null,
    revokeReason: null,
    ...over,
  };
}

describe('migration 2', () => {
  it('creates the ACME tables on a fresh database', () => {
    withStore((store) => {
      assert.equal(SCHEMA_VERSION, 11);
      assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.deepEqual(tables(store.db), ['acme_accounts', 'acme_challenges', 'certificates', 'deploy_failures', 'deployments', 'endpoints', 'issued', 'locks', 'meta', 'nodes', 'notify_active', 'notify_meta', 'notify_seen', 'notify_sent', 'outbox', 'renewal_attempts', 'renewal_state', 'runs', 'scan_batches', 'scan_cycles', 'scan_results', 'scans']);
      const indexes = store.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
      assert.deepEqual(indexes, ['endpoints_last_scan', 'issued_fingerprint', 'outbox_pending', 'renewal_attempts_lineage', 'runs_started', 'scans_endpoint']);
    });
  });

  it('upgrades a version 1 database, keeping its scans, and applies nothing on reopen', () => {
    const dataDir = freshDataDir();
    mkdirSync(dataDir, { recursive: true });
    const raw = new Database(join(dataDir, 'certs.db'));
    applyMigrations(raw, MIGRATIONS.slice(0, 1));
    raw.exec("INSERT INTO endpoints (domain, host, port, source) VALUES ('old.example', 'old.example', 443, 'tls')");
    assert.equal(raw.pragma('user_version', { simple: true }), 1);
    raw.close();

    const store = openStore(dataDir);
    try {
      assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.ok(tables(store.db).includes('issued'));
      assert.ok(tables(store.db).includes('deployments'));
      assert.equal(store.db.prepare('SELECT domain FROM endpoints').pluck().get(), 'old.example');
      assert.equal(applyMigrations(store.db, MIGRATIONS), 0);
    } finally {
      store.close();
    }
  });
});

describe('AccountRepository', () => {
  it('returns null for an unknown directory, then saves and upserts by directory URL', () => {
    withStore((store) => {
      const dir = 'https://acme.test/directory';
      assert.equal(store.accounts.get(dir), null);

      const first = { directoryUrl: dir, accountUrl: null, keyFile: '/data/accounts/a.key', email: null, createdAt: '2030-01-01T00:00:00.000Z' };
      store.accounts.save(first);
      assert.deepEqual(store.accounts.get(dir), first);

      // Registration finished: the CA gave an account URL; the key moved; an email was added.
      store.accounts.save({ directoryUrl: dir, accountUrl: 'https://acme.test/acct/1', keyFile: '/data/accounts/b.key', email: 'ops@example.com', createdAt: '2031-05-05T00:00:00.000Z' });
      assert.deepEqual(store.accounts.get(dir), {
        directoryUrl: dir,
        accountUrl: 'https://acme.test/acct/1',
        keyFile: '/data/accounts/b.key',
        email: 'ops@example.com',
        createdAt: '2030-01-01T00:00:00.000Z', // an upsert keeps when the account was created
      });
      assert.equal(store.db.prepare('SELECT count(*) FROM acme_accounts').pluck().get(), 1);

      const other = { directoryUrl: 'https://other.test/dir', accountUrl: 'https://other.test/a/9', keyFile: '/k', email: null, createdAt: '2030-02-02T00:00:00.000Z' };
      store.accounts.save(other);
      assert.deepEqual(store.accounts.get(other.directoryUrl), other);
      assert.equal(store.accounts.get(dir)?.accountUrl, 'https://acme.test/acct/1');
    });
  });
});

describe('IssuedRepository', () => {
  it('records versions and reads them back by lineage, version and across lineages', () => {
    withStore((store) => {
      assert.equal(store.issued.latest('a.example'), null);
      assert.equal(store.issued.maxVersion('a.example'), 0);
      assert.deepEqual(store.issued.list(), []);
      assert.equal(store.issued.latestAll().size, 0);

      const ids = [
        store.issued.record(cert('a.example', 1)),
        store.issued.record(cert('b.example', 1, { profile: 'shortlived', keyType: 'rsa2048' })),
        store.issued.record(cert('a.example', 2)),
        store.issued.record(cert('a.example', 3, { names: ['a.example', '*.a.example', '192.0.2.1'] })),
      ];
      assert.equal(new Set(ids).size, 4);

      const a3 = store.issued.latest('a.example');
      assert.deepEqual(a3, { ...cert('a.example', 3, { names: ['a.example', '*.a.example', '192.0.2.1'] }), id: ids[3] });
      assert.deepEqual(store.issued.byVersion('a.example', 2), { ...cert('a.example', 2), id: ids[2] });
      assert.equal(store.issued.byVersion('a.example', 9), null);
      assert.equal(store.issued.byVersion('c.example', 1), null);
      assert.equal(store.issued.maxVersion('a.example'), 3);
      assert.equal(store.issued.maxVersion('b.example'), 1);

      assert.deepEqual(store.issued.list('a.example').map((c) => c.version), [3, 2, 1]);
      assert.deepEqual(store.issued.list().map((c) => `${c.lineage}#${c.version}`), ['a.example#3', 'a.example#2', 'a.example#1', 'b.example#1']);

      const all = store.issued.latestAll();
      assert.deepEqual([...all.keys()].sort(), ['a.example', 'b.example']);
      assert.equal(all.get('a.example')?.version, 3);
      assert.equal(all.get('b.example')?.profile, 'shortlived');
      assert.equal(all.get('b.example')?.keyType, 'rsa2048');
    });
  });

  it('marks a certificate revoked', () => {
    withStore((store) => {
      const id = store.issued.record(cert('r.example', 1));
      store.issued.record(cert('r.example', 2));
      store.issued.markRevoked(id, '2030-03-03T03:03:03.000Z', 4);
      const v1 = store.issued.byVersion('r.example', 1);
      assert.equal(v1?.revokedAt, '2030-03-03T03:03:03.000Z');
      assert.equal(v1?.revokeReason, 4);
      const v2 = store.issued.byVersion('r.example', 2);
      assert.equal(v2?.revokedAt, null, 'only that one');
      assert.equal(v2?.revokeReason, null);
    });
  });

  it('refuses the same lineage and version twice', () => {
    withStore((store) => {
      store.issued.record(cert('d.example', 1));
      assert.throws(() => store.issued.record(cert('d.example', 1, { fingerprint256: 'other' })), /UNIQUE constraint failed: issued\.lineage, issued\.version/);
      assert.equal(store.issued.list('d.example').length, 1);
    });
  });
});

describe('RenewalRepository', () => {
  const ari = {
    certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    start: '2030-02-01T00:00:00.000Z',
    end: '2030-02-03T00:00:00.000Z',
    chosen: '2030-02-02T07:13:00.000Z',
    retryAfter: '2030-01-20T06:00:00.000Z',
    explanationUrl: 'https://ca.test/incident/42',
  };

  it('counts failures and keeps the latest error and backoff', () => {
    withStore((store) => {
      assert.equal(store.renewals.get('f.example'), null);
      store.renewals.recordFailure('f.example', { at: '2030-01-01T00:00:00.000Z', error: 'rate limited', code: 'rateLimited', nextAttemptAt: '2030-01-01T00:10:00.000Z' });
      store.renewals.recordFailure('f.example', { at: '2030-01-01T00:10:00.000Z', error: 'DNS timeout', code: 'timeout', nextAttemptAt: '2030-01-01T01:10:00.000Z' });
      assert.deepEqual(store.renewals.get('f.example'), {
        lineage: 'f.example',
        failures: 2,
        nextAttemptAt: '2030-01-01T01:10:00.000Z',
        lastAttemptAt: '2030-01-01T00:10:00.000Z',
        lastSuccessAt: null,
        lastError: 'DNS timeout',
        lastErrorCode: 'timeout',
        ari: null,
      });
      assert.equal(store.renewals.get('other.example'), null, 'per lineage');
    });
  });

  it('round-trips the ARI window, with and without an explanation URL', () => {
    withStore((store) => {
      store.renewals.setAri('a.example', ari);
      assert.deepEqual(store.renewals.get('a.example')?.ari, ari);
      assert.equal(store.renewals.get('a.example')?.failures, 0);
      const plain = { ...ari, explanationUrl: null, chosen: '2030-02-01T12:00:00.000Z' };
      store.renewals.setAri('a.example', plain);
      assert.deepEqual(store.renewals.get('a.example')?.ari, plain);
    });
  });

  it('clears failures, error, backoff and the ARI window on success', () => {
    withStore((store) => {
      store.renewals.recordFailure('s.example', { at: '2030-01-01T00:00:00.000Z', error: 'boom', code: 'serverInternal', nextAttemptAt: '2030-01-02T00:00:00.000Z' });
      store.renewals.setAri('s.example', ari);
      store.renewals.recordSuccess('s.example', '2030-01-02T00:00:05.000Z');
      assert.deepEqual(store.renewals.get('s.example'), {
        lineage: 's.example',
        failures: 0,
        nextAttemptAt: null,
        lastAttemptAt: '2030-01-02T00:00:05.000Z',
        lastSuccessAt: '2030-01-02T00:00:05.000Z',
        lastError: null,
        lastErrorCode: null,
        ari: null,
      });
      // A failure after a success counts from one again and keeps lastSuccessAt.
      store.renewals.recordFailure('s.example', { at: '2030-01-03T00:00:00.000Z', error: 'again', code: 'x', nextAttemptAt: '2030-01-03T00:05:00.000Z' });
      const s = store.renewals.get('s.example');
      assert.equal(s?.failures, 1);
      assert.equal(s?.lastSuccessAt, '2030-01-02T00:00:05.000Z');
      assert.deepEqual([...store.renewals.all().keys()], ['s.example']);
    });
  });

  it('keeps the history of attempts, newest first', () => {
    withStore((store) => {
      const first = store.renewals.attemptStarted('h.example', '2030-01-01T00:00:00.000Z', 'first issuance');
      store.renewals.attemptFinished(first, { at: '2030-01-01T00:00:30.000Z', outcome: 'failed', error: 'DNS timeout', orderUrl: 'https://acme.test/order/1' });
      const second = store.renewals.attemptStarted('h.example', '2030-01-01T01:00:00.000Z', 'retry after backoff');
      store.renewals.attemptFinished(second, { at: '2030-01-01T01:00:20.000Z', outcome: 'issued' });
      store.renewals.attemptStarted('h.example', '2030-02-01T00:00:00.000Z', 'ARI window');
      store.renewals.attemptStarted('other.example', '2030-02-01T00:00:00.000Z', 'first issuance');

      assert.deepEqual(store.renewals.attempts('h.example'), [
        { startedAt: '2030-02-01T00:00:00.000Z', finishedAt: null, outcome: null, reason: 'ARI window', error: null },
        { startedAt: '2030-01-01T01:00:00.000Z', finishedAt: '2030-01-01T01:00:20.000Z', outcome: 'issued', reason: 'retry after backoff', error: null },
        { startedAt: '2030-01-01T00:00:00.000Z', finishedAt: '2030-01-01T00:00:30.000Z', outcome: 'failed', reason: 'first issuance', error: 'DNS timeout' },
      ]);
      assert.deepEqual(store.renewals.attempts('h.example', 1).map((a) => a.reason), ['ARI window']);
      assert.equal(store.renewals.attempts('other.example').length, 1);
      assert.deepEqual(store.renewals.attempts('none.example'), []);
      assert.equal(store.db.prepare('SELECT order_url FROM renewal_attempts WHERE id = ?').pluck().get(first), 'https://acme.test/order/1');
      assert.throws(() => store.renewals.attemptFinished(second, { at: 'x', outcome: 'bogus' as 'issued' }), /CHECK constraint failed/);
    });
  });
});

describe('LockRepository with an injected clock', () => {
  it('leases, refuses others, re-acquires for the owner, extends, expires and is taken over', () => {
    const clock = manualClock();
    withStore((store) => {
      const { locks } = store;
      const t0 = clock.now();
      assert.equal(locks.holder('run'), null);
      assert.equal(locks.tryAcquire('run', 'A', 1000), 1);
      assert.deepEqual(locks.holder('run'), { owner: 'A', acquiredAt: t0, expiresAt: t0 + 1000, token: 1 });

      clock.advance(500);
      assert.equal(locks.tryAcquire('run', 'B', 1000), null, 'B refused while the lease runs');
      assert.equal(locks.holder('run')?.owner, 'A');
      assert.equal(locks.tryAcquire('other-lock', 'B', 1000), 1, 'locks are per name');

      assert.equal(locks.tryAcquire('run', 'A', 1000), 2, 'the owner re-acquires (a new token)');
      assert.equal(locks.holder('run')?.expiresAt, t0 + 1500);

      clock.advance(900);
      assert.equal(locks.heartbeat('run', 'A', 1000), true);
      assert.equal(locks.holder('run')?.expiresAt, t0 + 2400, 'heartbeat extends from now');
      assert.equal(locks.heartbeat('run', 'B', 1000), false, 'a non-owner cannot extend it');
      assert.equal(locks.holder('run')?.expiresAt, t0 + 2400);

      clock.advance(999);
      assert.equal(locks.holder('run')?.owner, 'A', 'one millisecond before expiry');
      assert.equal(locks.tryAcquire('run', 'B', 1000), null);
      clock.advance(1);
      assert.equal(locks.holder('run'), null, 'null once expired');

      assert.equal(locks.tryAcquire('run', 'B', 5000), 3, 'an expired lease is taken over');
      assert.deepEqual(locks.holder('run'), { owner: 'B', acquiredAt: t0 + 2400, expiresAt: t0 + 7400, token: 3 });
      assert.equal(locks.heartbeat('run', 'A', 1000), false, "the first owner's heartbeat reports the loss");
      assert.equal(locks.holder('run')?.owner, 'B');

      locks.release('run', 'A');
      assert.equal(locks.holder('run')?.owner, 'B', 'release only by the owner');
      locks.release('run', 'B');
      assert.equal(locks.holder('run'), null);
      assert.equal(locks.tryAcquire('run', 'A', 1000), 4, 'free again, and the token did not go back');
    }, { clock: clock.now });
  });

  it('lets the owner revive a lease that expired but nobody took', () => {
    const clock = manualClock();
    withStore(({ locks }) => {
      locks.tryAcquire('cert:x', 'A', 1000);
      clock.advance(5000);
      assert.equal(locks.holder('cert:x'), null);
      assert.equal(locks.heartbeat('cert:x', 'A', 1000), true, 'documented: false only when someone else took it');
      assert.equal(locks.holder('cert:x')?.owner, 'A');
    }, { clock: clock.now });
  });

  it('is shared between two connections on the same file', () => {
    const clock = manualClock();
    const dataDir = freshDataDir();
    const one = openStore(dataDir, { clock: clock.now });
    const two = openStore(dataDir, { clock: clock.now });
    try {
      assert.equal(one.locks.tryAcquire('run', 'one', 1000), 1);
      assert.equal(two.locks.tryAcquire('run', 'two', 1000), null);
      assert.equal(two.locks.holder('run')?.owner, 'one');
      clock.advance(1000);
      assert.equal(two.locks.tryAcquire('run', 'two', 1000), 2);
      assert.equal(one.locks.heartbeat('run', 'one', 1000, 1), false);
    } finally {
      one.close();
      two.close();
    }
  });
});

describe('LockRepository under a real race', () => {
  /**
   * Two threads, each with its own connection to the same file, meet at a barrier and call
   * tryAcquire for the same lock at the same moment; the winner releases it before the next
   * round. Runs as CommonJS eval code so no helper file is needed; tsx is registered in the worker.
   */
  const WORKER = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { register } = await import(workerData.tsxApi);
      register();
      const { openStore } = await import(workerData.storeUrl);
      const { dataDir, id, rounds } = workerData;
      const ctl = new Int32Array(workerData.ctl);
      const res = new Int32Array(workerData.results);
      function barrier() {
        const gen = Atomics.load(ctl, 1);
        if (Atomics.add(ctl, 0, 1) === 1) {
          Atomics.store(ctl, 0, 0);
          Atomics.add(ctl, 1, 1);
          Atomics.notify(ctl, 1);
          return;
        }
        while (Atomics.load(ctl, 1) === gen) {
          if (Atomics.wait(ctl, 1, gen, 10000) === 'timed-out') throw new Error('barrier timed out: the other worker died');
        }
      }
      const store = openStore(dataDir);
      const owner = 'worker-' + id;
      try {
        for (let r = 0; r < rounds; r++) {
          barrier();
          const won = store.locks.tryAcquire('race', owner, 60000);
          res[r * 2 + id] = won ? 1 : 2;
          barrier();
          if (won) {
            const h = store.locks.holder('race');
            if (!h || h.owner !== owner) throw new Error('round ' + r + ': won but the holder is ' + JSON.stringify(h));
            store.locks.release('race', owner);
          }
        }
      } finally {
        store.close();
      }
      parentPort.postMessage({ done: true });
    })().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
  `;

  it('gives the lock to exactly one of two connections, every time', { timeout: 120_000 }, async () => {
    const rounds = 300;
    const dataDir = freshDataDir();
    openStore(dataDir).close(); // migrated before the race
    const ctl = new SharedArrayBuffer(8);
    const results = new SharedArrayBuffer(rounds * 2 * 4);
    const shared = {
      dataDir,
      rounds,
      ctl,
      results,
      tsxApi: import.meta.resolve('tsx/esm/api'),
      storeUrl: new URL('../../../src/store/index.ts', import.meta.url).href,
    };
    const workers = [0, 1].map((id) => new Worker(WORKER, { eval: true, workerData: { ...shared, id } }));
    try {
      await Promise.all(
        workers.map(
          (w, id) =>
            new Promise<void>((resolve, reject) => {
              w.once('message', (m: { done?: boolean; error?: string }) => (m.done ? resolve() : reject(new Error(`worker ${id}: ${m.error}`))));
              w.once('error', reject);
              w.once('exit', (code) => reject(new Error(`worker ${id} exited (${code}) before finishing`)));
            }),
        ),
      );
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const res = new Int32Array(results);
    const wins = [0, 0];
    for (let r = 0; r < rounds; r++) {
      const pair = [res[r * 2]!, res[r * 2 + 1]!];
      assert.deepEqual([...pair].sort(), [1, 2], `round ${r}: exactly one winner, got ${JSON.stringify(pair)}`);
      wins[pair.indexOf(1)]! += 1;
    }
    assert.equal(wins[0]! + wins[1]!, rounds);
    const check = openStore(dataDir);
    try {
      assert.equal(check.locks.holder('race'), null, 'every winner released');
    } finally {
      check.close();
    }
  });
});

describe('lease.ts', () => {
  it('tryLease takes the lock or returns null; release frees it once', async () => {
    const clock = manualClock();
    await withStoreAsync(async ({ locks }) => {
      const a = await tryLease(al(locks), 'run', 'A');
      assert.ok(a);
      try {
        assert.equal(a.name, 'run');
        assert.equal(a.held(), true);
        assert.deepEqual(locks.holder('run'), { owner: 'A', acquiredAt: clock.now(), expiresAt: clock.now() + LEASE_MS, token: 1 });
        assert.equal(await tryLease(al(locks), 'run', 'B'), null);
      } finally {
        await a.release();
      }
      assert.equal(a.held(), false);
      assert.equal(locks.holder('run'), null);
      const b = await tryLease(al(locks), 'run', 'B');
      assert.ok(b);
      await a.release(); // a second release must not free someone else's lock
      assert.equal(locks.holder('run')?.owner, 'B');
      await b.release();
    }, { clock: clock.now });
  });

  it('reports a lease lost to a takeover through held(), and its release leaves the new holder alone', async () => {
    const clock = manualClock();
    await withStoreAsync(async ({ locks }) => {
      // 150 ms lease: the heartbeat runs every 50 ms.
      const a = await tryLease(al(locks), 'cert:x', 'A', 150);
      assert.ok(a);
      try {
        // Synchronously, so no heartbeat can run in between: the lease runs out and C takes it.
        clock.advance(1000);
        assert.equal(locks.tryAcquire('cert:x', 'C', 60_000), 2);
        await until(() => !a.held(), 5000, 'the heartbeat to notice the lost lease');
      } finally {
        await a.release();
      }
      assert.equal(locks.holder('cert:x')?.owner, 'C');
    }, { clock: clock.now });
  });

  it('waitLease gets the lock once the holder releases it', async () => {
    const clock = manualClock();
    await withStoreAsync(async (store) => {
      const a = await tryLease(al(store.locks), 'run', 'A');
      assert.ok(a);
      // Count B's attempts and let A go during B's third one: no timing involved.
      class Watching extends LockRepository {
        attempts = 0;
        override tryAcquire(name: string, owner: string, leaseMs: number): number | null {
          if (owner === 'B' && ++this.attempts === 3) void a!.release();
          return super.tryAcquire(name, owner, leaseMs);
        }
      }
      const locks = new Watching(store.db, clock.now);
      const b = await waitLease(al(locks), 'run', 'B', 10_000, { pollMs: 1 });
      try {
        assert.equal(locks.attempts, 3);
        assert.equal(b.held(), true);
        assert.equal(store.locks.holder('run')?.owner, 'B');
      } finally {
        await b.release();
      }
    }, { clock: clock.now });
  });

  it('waitLease gets the lock when a timer releases it', async () => {
    const clock = manualClock();
    await withStoreAsync(async ({ locks }) => {
      const a = await tryLease(al(locks), 'run', 'A');
      assert.ok(a);
      let released = false;
      const timer = setTimeout(() => {
        released = true;
        void a.release();
      }, 20);
      try {
        const started = Date.now();
        const b = await waitLease(al(locks), 'run', 'B', 10_000, { pollMs: 5 });
        assert.equal(released, true, 'not before A let go');
        assert.ok(Date.now() - started < 10_000);
        assert.equal(locks.holder('run')?.owner, 'B');
        await b.release();
      } finally {
        clearTimeout(timer);
        await a.release();
      }
    }, { clock: clock.now });
  });

  it('waitLease with waitMs 0 on a held lock throws, naming the holder and its lease', async () => {
    const clock = manualClock();
    await withStoreAsync(async ({ locks }) => {
      const a = await tryLease(al(locks), 'run', 'host-1:4242:cafe');
      assert.ok(a);
      try {
        await assert.rejects(waitLease(al(locks), 'run', 'B', 0), (err: unknown) => {
          assert.ok(err instanceof CertsError, String(err));
          assert.equal(err.code, 'locked');
          assert.equal(
            err.message,
            'another certs process holds the run lock (host-1:4242:cafe, lease until 2030-01-01T00:01:00.000Z); try again when it has finished',
          );
          assert.match(err.hint ?? '', /lease expires/);
          return true;
        });
        assert.equal(locks.holder('run')?.owner, 'host-1:4242:cafe', 'the holder keeps it');
      } finally {
        await a.release();
      }
    }, { clock: clock.now });
  });
});
