// Retention benchmark (issue #10 §5): a year of daily runs over N endpoints with an injected clock,
// and the size of the database as it goes. Target at 10,000 endpoints: ≤ 100 MB after a year, and
// flat growth once the 90 days of history are full.
//
//   node --import tsx bench/retention.ts                  N = $BENCH_RETENTION_ENDPOINTS (default 1000)
//   BENCH_LARGE=1 node --import tsx bench/retention.ts    N = 10,000
//   BENCH_RETENTION_DAYS=…                                 days simulated (default 365)
//
// No TLS: each day's scans are written through the store's real batch API (ScanRepository.recordMany,
// one transaction, as `certs scan`/`run` do) and then the real retention step of a cycle runs
// (service/prune.ts pruneStore, default store.retention: 90 days, 5 versions) with that day as
// `now`. The fleet is meant to look like a real one, not like the best case for deduplication:
//   - every endpoint has its own leaf (a deterministic 1.2 kB "DER", as in the store tests) behind
//     one of 8 intermediates and 2 roots; leaves last 90 days and are renewed after 60, staggered
//     over the fleet, so ~1/60 of the fleet gets a new certificate every day;
//   - 5% renew late (at day 80), so for their last 10 days "expires in N days" changes daily;
//   - 1% are unreachable one day in five (a different problem and no chain that day);
//   - days left and the scan duration change on every scan.
// One JSON line every 15 days and on the last day: {bench, day, endpoints, dbBytes, walBytes,
// scans, results, certificates, recordMs, pruneMs, pruned}; then a summary line against the target.
// Exit 0 even when the target is missed (a report).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config } from '../src/config/types.js';
import type { Problem } from '../src/core/problems.js';
import { pruneStore } from '../src/service/prune.js';
import { openStore, type RecordItem } from '../src/store/index.js';
import { asyncStore } from '../src/store/sqlite-async.js';
import { fakeCert, reportFor, type FakeCert } from '../test/helpers/store-fixtures.js';
import { intEnv } from './_common.js';

const LARGE = process.env.BENCH_LARGE === '1';
const N = LARGE ? 10_000 : intEnv('BENCH_RETENTION_ENDPOINTS', 1000);
const DAYS = intEnv('BENCH_RETENTION_DAYS', 365);
const TARGET_BYTES = 100 * 1024 * 1024;
const SCAN_DAYS = 90;
const DAY = 86_400_000;
const START = Date.parse('2026-01-01T04:00:00.000Z');
const LIFETIME = 90;
const REPORT_EVERY = 15;

const roots = [fakeCert('Bench Root X1', { isCA: true }), fakeCert('Bench Root X2', { isCA: true })];
const inters = Array.from({ length: 8 }, (_, i) => fakeCert(`Bench Intermediate ${i}`, { issuer: roots[i % 2]!.info.subject, isCA: true }));

/** Leaf generation g of endpoint i, cached while it is served. */
const leaves = new Map<string, FakeCert>();
function leaf(i: number, gen: number, issuedDay: number): FakeCert {
  const key = `${i}:${gen}`;
  let c = leaves.get(key);
  if (!c) {
    const notAfter = new Date(START + (issuedDay + LIFETIME) * DAY).toISOString();
    c = fakeCert(`host${String(i).padStart(5, '0')}.example.com #${gen}`, { issuer: inters[i % inters.length]!.info.subject, notAfter });
    leaves.set(key, c);
    leaves.delete(`${i}:${gen - 1}`);
  }
  return c;
}

/** What endpoint i serves on `day`: renewed every `every` days, offset so renewals are spread out. */
function dayItem(i: number, day: number): RecordItem {
  const name = `host${String(i).padStart(5, '0')}.example.com`;
  const scannedAt = new Date(START + day * DAY + (i % 600) * 100).toISOString();
  const every = i % 20 === 0 ? 80 : 60;
  const offset = i % every;
  const gen = Math.floor((day + offset) / every);
  const issuedDay = gen * every - offset;
  if (i % 100 === 7 && day % 5 === 0) {
    const problems: Problem[] = [{ code: 'unreachable', severity: 'critical', message: `${name}:443: connect ECONNREFUSED 192.0.2.${i % 250}:443` }];
    return { report: reportFor({ domain: name }, [], { scannedAt, problems, daysLeft: null }), chainDer: [], extra: { durationMs: 3 + (i % 7) } };
  }
  const l = leaf(i, gen, issuedDay);
  const inter = inters[i % inters.length]!;
  const chain = [l, inter, roots[(i % inters.length) % 2]!];
  const daysLeft = Math.floor((Date.parse(l.info.notAfter) - Date.parse(scannedAt)) / DAY);
  const problems: Problem[] = daysLeft <= 14 ? [{ code: 'expiring-soon', severity: 'warning', message: `${name} expires in ${daysLeft} days (${l.info.notAfter})` }] : [];
  return {
    report: reportFor({ domain: name }, chain, { scannedAt, problems, daysLeft }),
    chainDer: chain.map((c) => c.der),
    extra: { path: chain.map((c, j) => ({ fingerprint256: c.info.fingerprint256, source: 'served', anchor: j === 2 })), durationMs: 20 + ((i * 7 + day * 13) % 180) + 0.25 },
  };
}

const fileSize = (p: string): number => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

const work = mkdtempSync(join(os.tmpdir(), 'certs-bench-retention-'));
try {
  const dataDir = join(work, 'data');
  let clock = START;
  const store = openStore(dataDir, { clock: () => clock });
  const async = asyncStore(store, dataDir);
  const config = { dataDir, domains: [], store: { retention: { scanDays: SCAN_DAYS, keepVersions: 5 } } } as unknown as Config;
  const db = join(dataDir, 'certs.db');
  const count = (table: string): number => store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  const sizes: number[] = [];
  const t0 = performance.now();
  let recordTotal = 0;
  let pruneTotal = 0;
  let pruneMax = 0;
  let tables: Record<string, number> = {};
  let freeBytes = 0;
  let vacuums = 0;
  let vacuumMsMax = 0;
  try {
    for (let day = 0; day < DAYS; day++) {
      clock = START + day * DAY;
      const items = Array.from({ length: N }, (_, i) => dayItem(i, day));
      const r0 = performance.now();
      store.scans.recordMany(items);
      const recordMs = performance.now() - r0;
      const p0 = performance.now();
      const pruned = await pruneStore(config, async, { now: new Date(clock + 3_600_000), owner: 'bench' });
      const pruneMs = performance.now() - p0;
      if (pruned.errors.length > 0) throw new Error(`prune failed on day ${day}: ${pruned.errors.join('; ')}`);
      recordTotal += recordMs;
      pruneTotal += pruneMs;
      if (pruned.vacuumed) {
        vacuums++;
        vacuumMsMax = Math.max(vacuumMsMax, pruneMs);
      } else {
        pruneMax = Math.max(pruneMax, pruneMs);
      }
      const dbBytes = fileSize(db);
      sizes.push(dbBytes + fileSize(`${db}-wal`));
      if ((day + 1) % REPORT_EVERY === 0 || day === DAYS - 1) {
        console.log(JSON.stringify({
          bench: 'retention', day: day + 1, endpoints: N, dbBytes, walBytes: fileSize(`${db}-wal`),
          scans: count('scans'), results: count('scan_results'), certificates: count('certificates'),
          recordMs: Math.round(recordMs), pruneMs: Math.round(pruneMs), pruned: { scans: pruned.scans, certificates: pruned.certificates, vacuumed: pruned.vacuumed },
        }));
      }
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    tables = Object.fromEntries(
      (store.db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 8').raw().all() as [string, number][]),
    );
    freeBytes = (store.db.pragma('freelist_count', { simple: true }) as number) * (store.db.pragma('page_size', { simple: true }) as number);
  } finally {
    store.close();
  }
  const at = (d: number): number | null => (sizes.length >= d ? sizes[d - 1]! : null);
  const full = at(SCAN_DAYS + 30);
  const last = sizes.at(-1)!;
  const finalDb = fileSize(db);
  console.log(JSON.stringify({
    bench: 'retention.summary', endpoints: N, days: DAYS, scanDays: SCAN_DAYS,
    bytesAtDay90: at(SCAN_DAYS), bytesAtDay120: full, bytesLast: last, dbBytesAtEnd: finalDb,
    maxBytes: Math.max(...sizes),
    // Growth once history is full: from day 120 (a full 90-day window plus a renewal cycle) to the end.
    growthAfterDay120: full === null ? null : Math.round(((last - full) / full) * 1000) / 10,
    targetBytes: LARGE ? TARGET_BYTES : Math.round((TARGET_BYTES * N) / 10_000),
    meetsTarget: Math.max(...sizes) <= (LARGE ? TARGET_BYTES : (TARGET_BYTES * N) / 10_000),
    recordMsPerDay: Math.round(recordTotal / DAYS), pruneMsPerDay: Math.round(pruneTotal / DAYS), pruneMsMaxWithoutVacuum: Math.round(pruneMax),
    wallS: Math.round((performance.now() - t0) / 100) / 10,
    freeBytes,
    tables,
    vacuums,
    vacuumDayPruneMsMax: Math.round(vacuumMsMax),
  }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
