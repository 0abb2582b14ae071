/** The runs table (migration 8): start, finish, the latest finished run, and retention by age. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../../../src/core/errors.js';
import { applyMigrations, MIGRATIONS, openStore, SCHEMA_VERSION, type Store } from '../../../src/store/index.js';
import { pruneRuns } from '../../../src/store/prune.js';
import { pruneStore } from '../../../src/service/prune.js';
import type { Config } from '../../../src/config/types.js';
import { a } from '../../helpers/async-store.js';

const root = mkdtempSync(join(tmpdir(), 'certs-store-runs-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
async function withStore<T>(fn: (store: Store, dataDir: string) => T | Promise<T>): Promise<T> {
  const dataDir = join(root, `t${++seq}`);
  const store = openStore(dataDir);
  try {
    return await fn(store, dataDir);
  } finally {
    store.close();
  }
}

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T03:00:00.000Z');
const day = (n: number): string => new Date(T0 + n * DAY).toISOString();
const summary = { renewed: ['a.test'], deployed: ['a.test'], failed: ['b.test'], notified: 3 };

describe('RunRepository', () => {
  it('a started run is listed unfinished; latestFinished ignores it until it finishes', async () => {
    await withStore(async (store) => {
      const first = store.runs.start(day(0));
      store.runs.finish(first, { finishedAt: day(0.01), outcome: 'ok', exitCode: 0, summary: { renewed: [], deployed: [], failed: [], notified: 0 } });
      const second = store.runs.start(day(1));
      assert.deepEqual(store.runs.list().map((r) => [r.id, r.finishedAt, r.outcome]), [[second, null, null], [first, day(0.01), 'ok']]);
      assert.equal(store.runs.latestFinished()?.id, first, 'a run in progress (or killed) is not the last run');
      store.runs.finish(second, { finishedAt: day(1.01), outcome: 'failed', exitCode: 1, summary });
      assert.deepEqual(store.runs.latestFinished(), { id: second, startedAt: day(1), finishedAt: day(1.01), outcome: 'failed', exitCode: 1, summary });
    });
  });

  it('finishing a run that is not recorded is an error, not a silent no-op', async () => {
    await withStore(async (store) => {
      assert.throws(() => store.runs.finish(42, { finishedAt: day(0), outcome: 'ok', exitCode: 0, summary }), (e: unknown) => e instanceof StoreError && /run 42 is not recorded/.test(e.message));
    });
  });

  it('an outcome outside the list is refused by the schema', async () => {
    await withStore(async (store) => {
      const id = store.runs.start(day(0));
      assert.throws(() => store.runs.finish(id, { finishedAt: day(0), outcome: 'weird' as 'ok', exitCode: 0, summary }), StoreError);
    });
  });

  it('a summary written by another version is read field by field', async () => {
    await withStore(async (store) => {
      const id = store.runs.start(day(0));
      store.db.prepare("UPDATE runs SET finished_at = ?, outcome = 'ok', summary_json = ? WHERE id = ?").run(day(0), JSON.stringify({ renewed: ['x', 7], extra: true }), id);
      assert.deepEqual(store.runs.latestFinished()?.summary, { renewed: ['x'], deployed: [], failed: [], notified: 0 });
    });
  });
});

describe('migration 8', () => {
  it('upgrades a version 7 database: its scans stay, runs is empty', async () => {
    const dataDir = join(root, `m${++seq}`);
    mkdirSync(dataDir, { recursive: true });
    const raw = new Database(join(dataDir, 'certs.db'));
    applyMigrations(raw, MIGRATIONS.slice(0, 7));
    raw.exec("INSERT INTO endpoints (domain, host, port, source) VALUES ('old.example', 'old.example', 443, 'tls')");
    raw.close();
    const store = openStore(dataDir);
    try {
      assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(store.db.prepare('SELECT domain FROM endpoints').pluck().get(), 'old.example');
      assert.deepEqual(store.runs.list(), []);
      assert.equal(store.runs.latestFinished(), null);
    } finally {
      store.close();
    }
  });
});

describe('run retention', () => {
  function seed(store: Store, days: number[], finished = true): number[] {
    return days.map((d) => {
      const id = store.runs.start(day(d));
      if (finished) store.runs.finish(id, { finishedAt: day(d + 0.01), outcome: 'ok', exitCode: 0, summary });
      return id;
    });
  }

  it('deletes runs started before the cutoff, keeping the rest', async () => {
    await withStore(async (store) => {
      seed(store, [0, 10, 95, 100]);
      assert.equal(pruneRuns(store.db, new Date(day(100 - 90))), 1, 'day 0 goes; day 10 is exactly at the cutoff and stays');
      assert.deepEqual(store.runs.list().map((r) => r.startedAt), [day(100), day(95), day(10)]);
    });
  });

  it('the last finished run stays however old (a daemon stopped for months still shows when it last ran)', async () => {
    await withStore(async (store) => {
      const [, last] = seed(store, [0, 5]);
      // A run started later that never finished (killed) goes with the old ones.
      seed(store, [6], false);
      assert.equal(pruneRuns(store.db, new Date(day(200))), 2);
      assert.deepEqual(store.runs.list().map((r) => r.id), [last]);
    });
  });

  it('pruneStore applies it with store.retention.scanDays and reports the count', async () => {
    await withStore(async (store, dataDir) => {
      seed(store, [0, 1, 2, 60]);
      const config = { dataDir, domains: [], store: { retention: { scanDays: 30, keepVersions: 5 } } } as unknown as Config;
      const report = await pruneStore(config, a(store), { now: new Date(day(61)), owner: 'test' });
      assert.deepEqual(report.errors, []);
      assert.equal(report.runs, 3);
      assert.deepEqual(store.runs.list().map((r) => r.startedAt), [day(60)]);
    });
  });

  it('an invalid cutoff is refused', async () => {
    await withStore(async (store) => {
      assert.throws(() => pruneRuns(store.db, new Date(Number.NaN)), StoreError);
    });
  });
});
