/** Retention (issue #10 §5): scan history by age, archive versions by count, with an injected clock. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Config } from '../../../src/config/types.js';
import { StoreError } from '../../../src/core/errors.js';
import { applyMigrations, MIGRATIONS, openStore, type IssuedCert, type Store } from '../../../src/store/index.js';
import { archiveVersions, currentPaths, switchCurrent, versionPaths, writeArchiveVersion } from '../../../src/store/archive.js';
import { pruneArchive } from '../../../src/store/prune.js';
import { pruneStore } from '../../../src/service/prune.js';
import { fakeCert, reportFor, type FakeCert } from '../../helpers/store-fixtures.js';
import { a } from '../../helpers/async-store.js';

const root = mkdtempSync(join(tmpdir(), 'certs-store-prune-'));
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

const count = (store: Store, table: string): number => store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T03:00:00.000Z');
const day = (n: number): string => new Date(T0 + n * DAY).toISOString();

function config(dataDir: string, retention: { scanDays?: number; keepVersions?: number } = {}): Config {
  // pruneStore reads only dataDir, domains and store.retention.
  return { dataDir, domains: [], store: { retention: { scanDays: 90, keepVersions: 5, ...retention } } } as unknown as Config;
}

const rootCa = fakeCert('Prune Root', { isCA: true });
const inter = fakeCert('Prune Intermediate', { issuer: rootCa.info.subject, isCA: true });

function scan(store: Store, domain: string, leaf: FakeCert, at: string, daysLeft = 40): void {
  const chain = [leaf, inter, rootCa];
  store.scans.record(reportFor({ domain }, chain, { scannedAt: at, daysLeft }), chain.map((c) => c.der));
}

const hasCert = (store: Store, c: FakeCert): boolean =>
  store.db.prepare('SELECT 1 FROM certificates WHERE fingerprint256 = ?').pluck().get(c.info.fingerprint256) === 1;

describe('scan history retention', () => {
  it('100 days of daily scans: keeps the last 90 days and each endpoint’s latest; drops certificates no scan refers to', async () => {
    await withStore(async (store, dataDir) => {
      const oldLeaf = fakeCert('daily.example v1', { issuer: inter.info.subject });
      const newLeaf = fakeCert('daily.example v2', { issuer: inter.info.subject });
      const goneLeaf = fakeCert('gone.example', { issuer: inter.info.subject });
      for (let d = 0; d < 100; d++) scan(store, 'daily.example', d < 5 ? oldLeaf : newLeaf, day(d), 60 - (d % 60));
      // An endpoint scanned last 150 days before "now" (removed from the inventory, say).
      scan(store, 'gone.example', goneLeaf, day(-52));
      scan(store, 'gone.example', goneLeaf, day(-51));
      scan(store, 'gone.example', goneLeaf, day(-50));
      assert.equal(count(store, 'scans'), 103);

      const now = new Date(T0 + 99 * DAY + 3_600_000); // an hour after the 100th scan
      const report = await pruneStore(config(dataDir), a(store), { now, owner: 'test' });

      // Cut-off: now - 90 days = day 9 + 1 h, so days 10..99 stay (90 scans), days 0..9 go.
      const kept = store.scans.history({ domain: 'daily.example', host: 'daily.example', port: 443 }, 1000).map((r) => r.scannedAt);
      assert.equal(kept.length, 90);
      assert.equal(kept.at(-1), day(10));
      assert.equal(kept[0], day(99));
      const gone = store.scans.history({ domain: 'gone.example', host: 'gone.example', port: 443 }, 10).map((r) => r.scannedAt);
      assert.deepEqual(gone, [day(-50)], 'only the latest scan of an endpoint not scanned for 150 days');
      assert.deepEqual(store.scans.latest().map((r) => [r.domain, r.scannedAt]), [['daily.example', day(99)], ['gone.example', day(-50)]]);

      assert.equal(report.scans, 10 + 2);
      assert.equal(report.certificates, 1, 'the leaf served only on days 0..4');
      assert.equal(hasCert(store, oldLeaf), false);
      for (const c of [newLeaf, goneLeaf, inter, rootCa]) assert.ok(hasCert(store, c), c.info.subject);
      assert.deepEqual(report.errors, []);

      // The kept scans still read back whole, chain included.
      const [latest] = store.scans.latest({ domains: ['gone.example'], withChain: true });
      assert.deepEqual(latest!.chain!.map((c) => c.subject), [goneLeaf.info.subject, inter.info.subject, rootCa.info.subject]);
      // Nothing left to do a minute later.
      assert.deepEqual(store.scans.pruneBefore(new Date(now.getTime() + 60_000 - 90 * DAY)), { scans: 0, results: 0, certificates: 0 });
    });
  });

  it('stores what a scan found once: 30 identical daily scans share one result row', async () => {
    await withStore(async (store) => {
      const leaf = fakeCert('same.example', { issuer: inter.info.subject });
      for (let d = 0; d < 30; d++) scan(store, 'same.example', leaf, day(d));
      assert.equal(count(store, 'scans'), 30);
      assert.equal(count(store, 'scan_results'), 1);
      scan(store, 'same.example', leaf, day(30), 39);
      assert.equal(count(store, 'scan_results'), 1, 'days left live in the scan row');
      store.scans.record({ ...reportFor({ domain: 'same.example' }, [leaf, inter, rootCa], { scannedAt: day(31) }), protocol: 'TLSv1.3' }, [leaf.der, inter.der, rootCa.der]);
      assert.equal(count(store, 'scan_results'), 2);
      assert.deepEqual(store.scans.history({ domain: 'same.example', host: 'same.example', port: 443 }, 3).map((r) => [r.protocol, r.daysLeft]), [['TLSv1.3', 42], ['TLSv1.2', 39], ['TLSv1.2', 40]]);
    });
  });

  it('a certificate no endpoint serves any more keeps its decoded info, not its bytes; served again, it gets them back', async () => {
    await withStore(async (store) => {
      const v1 = fakeCert('renewed.example v1', { issuer: inter.info.subject });
      const v2 = fakeCert('renewed.example v2', { issuer: inter.info.subject });
      scan(store, 'renewed.example', v1, day(0));
      scan(store, 'renewed.example', v2, day(1));
      store.scans.pruneBefore(new Date(T0 - DAY));
      const der = (c: FakeCert) => store.db.prepare('SELECT der FROM certificates WHERE fingerprint256 = ?').pluck().get(c.info.fingerprint256);
      assert.equal(der(v1), null);
      assert.deepEqual(der(v2), v2.der);
      assert.deepEqual(der(inter), inter.der);
      const [older] = store.scans.history({ domain: 'renewed.example', host: 'renewed.example', port: 443 }, 2, { withChain: true }).slice(1);
      assert.deepEqual(older!.chain!.map((c) => c.subject), [v1.info.subject, inter.info.subject, rootCa.info.subject], 'history still shows the chain');
      scan(store, 'renewed.example', v1, day(2));
      assert.deepEqual(der(v1), v1.der);
    });
  });

  it('stores the usual chain path as references into the chain and reads back the same value; any other path as it was', async () => {
    await withStore(async (store) => {
      const leaf = fakeCert('path.example', { issuer: inter.info.subject });
      const chain = [leaf, inter];
      const path = [...chain, rootCa].map((c, j) => ({ fingerprint256: c.info.fingerprint256, source: j < 2 ? 'served' : 'trust-store', anchor: j === 2 }));
      store.scans.record(reportFor({ domain: 'path.example' }, [...chain, rootCa]), chain.map((c) => c.der), { path, durationMs: 12.3456 });
      const refs = store.db.prepare('SELECT path_json, path_refs FROM scan_results').raw().get() as [string | null, string | null];
      assert.deepEqual(refs, [null, '[[0,"served",false],[1,"served",false],[2,"trust-store",true]]']);
      const detail = store.scans.detail({ domain: 'path.example', host: 'path.example', port: 443 })!;
      assert.deepEqual(detail.path, path);
      assert.equal(detail.durationMs, 12.346, 'whole microseconds');

      const odd = [{ fingerprint256: 'AA:BB', source: 'served', anchor: false }];
      store.scans.record(reportFor({ domain: 'odd.example' }, []), [], { path: odd });
      assert.deepEqual(store.scans.detail({ domain: 'odd.example', host: 'odd.example', port: 443 })!.path, odd);
    });
  });

  it('rebuilds the file at most weekly and leaves the WAL empty after every prune', async () => {
    await withStore(async (store, dataDir) => {
      const leaf = fakeCert('wal.example', { issuer: inter.info.subject });
      for (let d = 0; d < 20; d++) scan(store, 'wal.example', leaf, day(d));
      const wal = join(dataDir, 'certs.db-wal');
      assert.ok(statSync(wal).size > 0);
      const at = (d: number) => pruneStore(config(dataDir, { scanDays: 5 }), a(store), { now: new Date(T0 + d * DAY), owner: 'test' });
      assert.equal((await at(20)).vacuumed, true, 'never vacuumed before');
      assert.equal(statSync(wal).size, 0);
      assert.equal(count(store, 'scans'), 5, 'days 15..19');
      assert.equal((await at(21)).vacuumed, false);
      assert.equal((await at(26)).vacuumed, false);
      assert.equal((await at(27)).vacuumed, true, 'a week later');
      assert.equal(store.meta.get('store.vacuumedAt'), day(27));
      assert.equal(count(store, 'scans'), 1, 'all older than 5 days: only the latest is left');
      assert.equal(statSync(wal).size, 0);
    });
  });

  it('refuses a cut-off that is not a date', async () => {
    await withStore(async (store) => {
      assert.throws(() => store.scans.pruneBefore(new Date('nonsense')), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');
    });
  });
});

describe('migration 7', () => {
  it('moves the scans of a version 6 database into results, keeping times, latest pointers and reports', async () => {
    const dataDir = join(root, `t${++seq}`);
    mkdirSync(dataDir, { recursive: true });
    const raw = new Database(join(dataDir, 'certs.db'));
    raw.pragma('foreign_keys = ON');
    applyMigrations(raw, MIGRATIONS.slice(0, 6));
    raw.exec(`INSERT INTO endpoints (id, domain, host, port, source) VALUES (1, 'm.example', 'm.example', 443, 'tls');
      INSERT INTO scans (id, endpoint_id, scanned_at, status, days_left, problems_json, chain_json, duration_ms)
        VALUES (1, 1, '2025-06-01T12:00:00.123Z', 'ok', 30, '[]', '[]', 5.5),
               (2, 1, '2025-06-02T12:00:00.456Z', 'warning', 29, '[{"code":"x","severity":"warning","message":"m"}]', '[]', 6);
      UPDATE endpoints SET last_scan_id = 2;`);
    raw.close();

    const store = openStore(dataDir);
    try {
      const history = store.scans.history({ domain: 'm.example', host: 'm.example', port: 443 });
      assert.deepEqual(history.map((r) => [r.scannedAt, r.status, r.daysLeft, r.problems.length]), [
        ['2025-06-02T12:00:00.456Z', 'warning', 29, 1],
        ['2025-06-01T12:00:00.123Z', 'ok', 30, 0],
      ]);
      assert.equal(store.scans.detail({ domain: 'm.example', host: 'm.example', port: 443 })!.scanId, 2, 'endpoints.last_scan_id survived the table swap');
      assert.equal(store.scans.detail({ domain: 'm.example', host: 'm.example', port: 443 })!.durationMs, 6);
      assert.equal(count(store, 'scan_results'), 2);
      assert.deepEqual(store.db.pragma('foreign_key_check'), []);
    } finally {
      store.close();
    }
  });
});

function issue(store: Store, dataDir: string, lineage: string, n: number): IssuedCert[] {
  const out: IssuedCert[] = [];
  for (let v = 1; v <= n; v++) {
    const pems = { cert: `CERT ${v}\n`, chain: `CHAIN ${v}\n`, fullchain: `FULLCHAIN ${v}\n`, privkey: `KEY ${v}\n` };
    const { version, paths } = writeArchiveVersion(dataDir, lineage, pems);
    const c: IssuedCert = {
      lineage, version, fingerprint256: `FP:${lineage}:${version}`, serial: `0${version}`, notBefore: day(v * 30), notAfter: day(v * 30 + 90), issuer: 'CN=CA',
      names: [lineage], keyType: 'ecdsa-p256', directoryUrl: 'https://acme.test/dir', profile: null, ariCertId: null, replacedId: null,
      dir: paths.dir, issuedAt: day(v * 30), reason: null, revokedAt: null, revokeReason: null,
    };
    c.id = store.issued.record(c);
    out.push(c);
  }
  return out;
}

describe('archive retention', () => {
  it('8 versions, current = v3, nginx deployed v4: those survive with the newest, the rest go with their keys and rows', async () => {
    await withStore(async (store, dataDir) => {
      const lineage = 'keep.example';
      const certs = issue(store, dataDir, lineage, 8);
      switchCurrent(dataDir, lineage, 3);
      store.deployments.save({ lineage, snippetPath: '/etc/nginx/certs/keep.conf', snippetSha256: 'x', fingerprint256: certs[3]!.fingerprint256, version: 4, deployedAt: day(120), verifiedAt: null, staleSince: null, staleDetail: null });
      const before = new Map([3, 4, 6, 7, 8].map((v) => [v, readFileSync(versionPaths(dataDir, lineage, v).privkey, 'utf8')]));

      const result = pruneArchive(store.db, dataDir, lineage, 3);

      assert.deepEqual(result.removed, [1, 2, 5]);
      assert.deepEqual(result.kept, [3, 4, 6, 7, 8]);
      assert.deepEqual(archiveVersions(dataDir, lineage), [3, 4, 6, 7, 8]);
      for (const v of [1, 2, 5]) {
        assert.equal(existsSync(versionPaths(dataDir, lineage, v).privkey), false, `key of v${v} gone`);
        assert.equal(existsSync(versionPaths(dataDir, lineage, v).dir), false);
      }
      for (const [v, key] of before) {
        const p = versionPaths(dataDir, lineage, v).privkey;
        assert.equal(readFileSync(p, 'utf8'), key, `v${v} key untouched`);
        assert.equal(statSync(p).mode & 0o777, 0o600, `v${v} key still 0600`);
      }
      assert.deepEqual(store.issued.list(lineage).map((c) => c.version), [8, 7, 6, 4, 3], 'issued describes what is on disk');
      assert.equal(store.issued.latest(lineage)!.version, 8);
      assert.equal(readlinkSync(join(dataDir, 'certs', lineage, 'current')), 'archive/3');
      assert.equal(readFileSync(currentPaths(dataDir, lineage).privkey, 'utf8'), 'KEY 3\n');
      assert.deepEqual(pruneArchive(store.db, dataDir, lineage, 3).removed, [], 'nothing more on a second pass');
    });
  });

  it('a deployment known only by its certificate protects the version holding it; a pending retry is kept too', async () => {
    await withStore(async (store, dataDir) => {
      const lineage = 'fp.example';
      const certs = issue(store, dataDir, lineage, 6);
      switchCurrent(dataDir, lineage, 6);
      store.deployments.save({ lineage, snippetPath: '/s', snippetSha256: 'x', fingerprint256: certs[1]!.fingerprint256, deployedAt: day(1), verifiedAt: null, staleSince: null, staleDetail: null });
      store.db.prepare("INSERT INTO deploy_failures (lineage, version, code, detail, failures, since, last_at) VALUES (?, 3, 'nginx-test-failed', 'd', 1, ?, ?)").run(lineage, day(2), day(2));
      assert.deepEqual(pruneArchive(store.db, dataDir, lineage, 1).removed, [1, 4, 5]);
      assert.deepEqual(archiveVersions(dataDir, lineage), [2, 3, 6]);
    });
  });

  it('the default keeps 5 versions; a lineage whose lock another process holds is skipped, not waited for', async () => {
    await withStore(async (store, dataDir) => {
      issue(store, dataDir, 'a.example', 7);
      switchCurrent(dataDir, 'a.example', 7);
      issue(store, dataDir, 'b.example', 7);
      switchCurrent(dataDir, 'b.example', 7);
      assert.ok(store.locks.tryAcquire('cert:b.example', 'someone-else', 60_000));
      const report = await pruneStore(config(dataDir), a(store), { now: new Date(T0), owner: 'test' });
      assert.equal(report.versions, 2);
      assert.deepEqual(report.skipped, ['b.example']);
      assert.deepEqual(archiveVersions(dataDir, 'a.example'), [3, 4, 5, 6, 7]);
      assert.deepEqual(archiveVersions(dataDir, 'b.example'), [1, 2, 3, 4, 5, 6, 7]);
      assert.equal(store.locks.holder('cert:a.example'), null, 'our lock released');
    });
  });

  it('forgets rows of versions whose files are already gone (a crash between the two), even without an archive directory', async () => {
    await withStore(async (store, dataDir) => {
      issue(store, dataDir, 'rows.example', 3);
      rmSync(join(dataDir, 'certs', 'rows.example'), { recursive: true });
      assert.deepEqual(pruneArchive(store.db, dataDir, 'rows.example', 1).removed, [1, 2]);
      assert.deepEqual(store.issued.list('rows.example').map((c) => c.version), [3]);
    });
  });

  it('reports a failure instead of throwing, and refuses a nonsensical keepVersions', async () => {
    await withStore(async (store, dataDir) => {
      issue(store, dataDir, 'c.example', 2);
      assert.throws(() => pruneArchive(store.db, dataDir, 'c.example', 0), (err: unknown) => err instanceof StoreError && /keepVersions must be an integer ≥ 1, got 0/.test(err.message));
      const report = await pruneStore(config(dataDir, { keepVersions: 0 }), a(store), { now: new Date(T0), owner: 'test' });
      assert.equal(report.errors.length, 1);
      assert.match(report.errors[0]!, /archive of c\.example: .*keepVersions/);
      assert.deepEqual(archiveVersions(dataDir, 'c.example'), [1, 2]);
    });
  });
});
