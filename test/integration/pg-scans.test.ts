/**
 * The PostgreSQL scan store, views and maintenance (store/pg/scans.ts, views.ts, maintenance.ts)
 * against the SQLite ones: the same reports recorded into both, every read compared (deepEqual,
 * and the status texts byte for byte), prune counts, atomicity of recordMany, the stored texts'
 * rendering, and two writers at once. One private PostgreSQL 15 per file, a fresh database per test.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../src/core/errors.js';
import type { EndpointReport } from '../../src/core/model.js';
import type { Problem } from '../../src/core/problems.js';
import { openStore, type RecordItem, type Store } from '../../src/store/index.js';
import type { StatusTarget } from '../../src/store/status-rows.js';
import { parsePgUrl } from '../../src/store/pg/connect.js';
import { openPgDb, type PgDb } from '../../src/store/pg/db.js';
import { applyPgMigrations } from '../../src/store/pg/migrate.js';
import { PgScanStore, PG_STATUS_TEXT_RENDERING } from '../../src/store/pg/scans.js';
import { PgViewStore } from '../../src/store/pg/views.js';
import { PgMaintenanceStore } from '../../src/store/pg/maintenance.js';
import { fakeCert, fleet, reportFor } from '../helpers/store-fixtures.js';
import { postgresUnavailable, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const unavailable = postgresUnavailable();
const required = process.env['TEST_SERVERS_REQUIRED'] === '1';

interface Pair {
  sq: Store;
  dataDir: string;
  db: PgDb;
  pg: PgScanStore;
  views: PgViewStore;
  maintenance: PgMaintenanceStore;
}

/** `sql` with ? placeholders on both engines (numbered for PostgreSQL). */
async function both(p: Pair, sql: string, params: unknown[] = []): Promise<void> {
  p.sq.db.prepare(sql).run(...params.map((v) => (typeof v === 'boolean' ? Number(v) : v)));
  let n = 0;
  await p.db.query(sql.replace(/\?/g, () => `$${++n}`), params);
}

async function pgCount(db: PgDb, table: string, where = ''): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} ${where}`);
  return Number(rows[0]!.n);
}

function sqCount(store: Store, table: string, where = ''): number {
  return store.db.prepare(`SELECT count(*) FROM ${table} ${where}`).pluck().get() as number;
}

const odd = ['quote " and \\ backslash', 'tab\tnewline\ncr\r', 'separators \u001e\u001f and \u007f', 'ünïcödé 😀 \u2028 \ud7ff \ue000', 'CN=a,O=b'];
const inter = fakeCert('Inter', { isCA: true });

/** One scan per item: the plain case and every kind of field the store writes (cf. test/unit/service/status-json.test.ts). */
function varied(): RecordItem[] {
  const out: RecordItem[] = [];
  const add = (target: Parameters<typeof reportFor>[0], over: Partial<EndpointReport> = {}, opts: Parameters<typeof reportFor>[2] = {}, extra?: RecordItem['extra']) => {
    const leaf = fakeCert(`${target.domain}|${target.host ?? ''}|${target.address ?? ''}|${out.length}`, { issuer: inter.info.subject });
    const report = { ...reportFor(target, [leaf, inter], opts), ...over };
    out.push({ report, chainDer: [leaf.der, inter.der], ...(extra ? { extra } : {}) });
  };
  add({ domain: 'plain.example' }, {}, {}, { path: [{ fingerprint256: 'X' }], durationMs: 12.5 });
  add({ domain: 'noproto.example' }, { protocol: null, orderKnown: undefined, crossCheck: undefined });
  add({ domain: 'order.example' }, { orderKnown: false, note: 'the chain came in two records' });
  add({ domain: 'cross.example' }, { crossCheck: { openssl: 'unable to get local issuer certificate', agrees: false, note: 'OpenSSL disagrees "here"' } });
  add({ domain: 'extra.example' }, { notBefore: '2025-01-01T00:00:00.000Z', servedCount: 2, leafNotAfter: '2026-02-01T00:00:00.000Z' });
  add({ domain: 'extra-null.example' }, { notBefore: null, servedCount: 0 });
  add({ domain: 'extra-big.example' }, { servedCount: 2 ** 53 + 2 });
  add({ domain: 'extra-nested.example' }, { nested: { a: [1, 2.5] } } as Partial<EndpointReport>);
  add({ domain: 'file.example', host: 'file.example', port: 0, source: 'file' }, { file: '/etc/ssl/file.pem', servedCount: 1 });
  add({ domain: 'error.example' }, { error: 'connection refused', status: 'unknown' }, { problems: [{ code: 'unreachable', severity: 'critical', message: 'connect ECONNREFUSED' }] });
  add({ domain: 'problems.example' }, {}, { problems: [{ code: 'expiring-soon', severity: 'warning', message: 'expires in 12 days', hint: 'renew it' }, { code: 'wrong-order', severity: 'warning', message: 'served out of order' }] });
  add({ domain: 'problems-odd.example' }, {}, { problems: [{ code: 'odd', severity: 'critical', message: odd.join(' | '), n: [1e21, -0, 0.1 + 0.2, 2 ** 53 + 2, -1.5e-7], e: {}, a: [], deep: { a: [{ b: [[]] }] } } as unknown as Problem] });
  add({ domain: 'problems-nocode.example' }, {}, { problems: [{ severity: 'warning', message: 'no code' } as unknown as Problem] });
  add({ domain: 'days.example' }, { daysLeft: -3 });
  add({ domain: 'days-frac.example' }, { daysLeft: 12.5 });
  add({ domain: 'days-null.example' }, { daysLeft: null, notAfter: null, fingerprint256: null, issuer: null, subject: null });
  add({ domain: 'epoch.example' }, {}, { scannedAt: '1970-01-01T00:00:00.000Z' });
  add({ domain: 'far.example' }, {}, { scannedAt: '+010000-01-01T00:00:00.000Z' });
  add({ domain: 'late.example' }, {}, { scannedAt: '9999-12-31T23:59:59.999Z' });
  odd.forEach((s, i) => add({ domain: `odd${i}.example` }, { subject: s, issuer: `${s} CA`, error: s, protocol: s }));
  // Several addresses of one name (and one name also scanned without an address), out of order.
  for (const [address, at] of [['192.0.2.10', '2025-06-01T12:00:00.000Z'], ['192.0.2.9', '2025-06-01T12:00:01.000Z'], ['2001:db8::1', '2025-06-01T12:00:00.500Z'], ['192.0.2.99', '2025-06-01T10:00:00.000Z']] as const) {
    add({ domain: 'multi.example', address }, {}, { scannedAt: at });
  }
  add({ domain: 'multi.example' }, {}, { scannedAt: '2025-06-01T09:00:00.000Z' });
  return out;
}

const target = (domain: string, over: Partial<StatusTarget> = {}): StatusTarget => ({ domain, host: domain, port: 443, source: 'tls', ...over });

describe('PostgreSQL scan store = SQLite scan store', { skip: !required && unavailable ? unavailable : false }, () => {
  let cluster: StoreCluster;
  let root: string;
  const open: Pair[] = [];
  const extraDbs: PgDb[] = [];

  before(async () => {
    if (unavailable) throw new Error(unavailable);
    cluster = await startStoreCluster();
    root = mkdtempSync(join(tmpdir(), 'certs-pg-scans-'));
  });
  after(async () => {
    await cluster?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const p of open.splice(0)) {
      p.sq.close();
      await p.db.close();
    }
    for (const db of extraDbs.splice(0)) await db.close();
  });

  let seq = 0;
  async function pair(): Promise<Pair & { url: string }> {
    const url = await cluster.newDatabase();
    const db = await openPgDb(parsePgUrl(url));
    await applyPgMigrations(db);
    const dataDir = join(root, `t${++seq}`);
    const p = { sq: openStore(dataDir), dataDir, db, pg: new PgScanStore(db), views: new PgViewStore(db), maintenance: new PgMaintenanceStore(db) };
    open.push(p);
    return { ...p, url };
  }

  it('records the same reports and reads them back the same: latest, status texts byte for byte, by id, history, detail, views', async () => {
    const p = await pair();
    const items = varied();
    // Through both entry points: a batch, then single records (ids must come out the same).
    const sqIds = [...p.sq.scans.recordMany(items.slice(0, 20)), ...items.slice(20).map((i) => p.sq.scans.record(i.report, i.chainDer, i.extra))];
    const pgIds = [...(await p.pg.recordMany(items.slice(0, 20)))];
    for (const i of items.slice(20)) pgIds.push(await p.pg.record(i.report, i.chainDer, i.extra));
    assert.equal(pgIds.length, items.length);
    assert.deepEqual(pgIds, sqIds);
    // History: an older scan recorded later does not become the latest; a newer one does.
    const older = { ...items[0]!, report: { ...items[0]!.report, scannedAt: '2025-05-01T00:00:00.000Z', daysLeft: 73 } };
    const newer = { ...items[0]!, report: { ...items[0]!.report, scannedAt: '2025-06-02T00:00:00.000Z', daysLeft: 41, status: 'warning' as const } };
    for (const i of [older, newer, older]) assert.equal(await p.pg.record(i.report, i.chainDer, i.extra), p.sq.scans.record(i.report, i.chainDer, i.extra));
    // In one batch too: the newest wins, of two at the same time the later one; an older one never.
    const tie = { ...newer, report: { ...newer.report, daysLeft: 40 } };
    assert.deepEqual(await p.pg.recordMany([newer, older, tie, older]), p.sq.scans.recordMany([newer, older, tie, older]));

    const latest = await p.pg.latest();
    assert.deepEqual(latest, p.sq.scans.latest());
    assert.equal(latest.length, items.length, 'one row per endpoint');
    assert.equal(latest.find((r) => r.domain === 'plain.example')!.daysLeft, 40, 'the newest scan is the latest, the last of a tie');
    assert.deepEqual(await p.pg.latest({ withChain: true }), p.sq.scans.latest({ withChain: true }));
    const someDomains = { domains: ['multi.example', 'odd3.example', 'nowhere.example'], withChain: true };
    assert.deepEqual(await p.pg.latest(someDomains), p.sq.scans.latest(someDomains));
    assert.equal((await p.pg.latest(someDomains)).length, 6);
    assert.deepEqual(await p.pg.latest({ domains: [] }), []);

    // Status rows in both forms: the same bytes, including which rows SQLite leaves to JS.
    const domains = [...new Set(items.map((i) => i.report.domain))];
    const targets = domains.map((d) => (d === 'file.example' ? target(d, { port: 0, source: 'file' }) : target(d)));
    // The current certificate of two targets: a row serving another is `touched`.
    targets[0]!.issued = 'FF:NOT-SERVED';
    targets[1]!.issued = items[1]!.report.fingerprint256;
    const bytewise = targets.filter((t) => t.domain !== 'far.example');
    for (const form of ['json', 'table'] as const) {
      const pgText = await p.pg.statusText(bytewise, form);
      assert.ok(pgText !== null && pgText.length > 1000, `statusText ${form} has rows`);
      assert.equal(pgText, p.sq.scans.statusText(bytewise, form), `statusText ${form}`);
      // A year SQLite cannot write: the text differs, the rows do not (parseStatusRows drops it).
      assert.deepEqual(await p.pg.statusRows(targets, form), p.sq.scans.statusRows(targets, form), `statusRows ${form}`);
    }
    const rows = await p.pg.statusRows(targets);
    assert.deepEqual(rows.filter((r) => r.touched).map((r) => r.target), [0], 'only the target whose issued certificate is not served');
    const byDomain = (d: string) => rows.filter((r) => r.target === domains.indexOf(d));
    assert.equal(byDomain('days-frac.example')[0]!.text, null, 'left to JS as on SQLite');
    assert.equal(byDomain('extra-nested.example')[0]!.text, null);
    assert.ok(byDomain('problems-odd.example')[0]!.text!.includes('"deep"'), 'problems SQLite writes are written');
    assert.deepEqual(byDomain('multi.example').map((r) => r.address ?? ''), ['', '192.0.2.10', '192.0.2.9', '192.0.2.99', '2001:db8::1']);
    const tableRows = await p.pg.statusRows(targets, 'table');
    assert.equal(tableRows.find((r) => r.target === domains.indexOf('problems-nocode.example'))!.text, null);
    assert.equal(tableRows.find((r) => r.target === domains.indexOf('error.example'))!.text, '[42,"2026-01-01T00:00:00.000Z","CN=Inter","connection refused",null,"unreachable"]');
    assert.equal(await p.pg.statusText([target('nowhere.example')]), null);
    assert.equal(await p.pg.statusText([]), p.sq.scans.statusText([]));
    // The string form of the targets is taken as it is.
    const param = JSON.stringify(bytewise.map((t) => [t.domain, t.host, t.port, t.source, t.issued ?? null]));
    assert.equal(await p.pg.statusText(param, 'json'), p.sq.scans.statusText(param, 'json'));

    const ids = [...rows.map((r) => r.id), 999_999];
    assert.deepEqual(await p.pg.reportsById(ids), p.sq.scans.reportsById(ids));
    assert.deepEqual(await p.pg.reportsById(ids, { withChain: true }), p.sq.scans.reportsById(ids, { withChain: true }));
    assert.equal((await p.pg.reportsById(ids)).size, rows.length);
    assert.deepEqual(await p.pg.reportsById([]), new Map());

    const keys = [
      { domain: 'plain.example', host: 'plain.example', port: 443 },
      { domain: 'multi.example', host: 'multi.example', port: 443 },
      { domain: 'multi.example', host: 'multi.example', port: 443, address: '192.0.2.9' },
      { domain: 'multi.example', host: 'multi.example', port: 443, address: '', source: 'tls' as const },
      { domain: 'file.example', host: 'file.example', port: 0, source: 'file' as const },
      { domain: 'file.example', host: 'file.example', port: 0, source: 'tls' as const },
      { domain: 'nowhere.example', host: 'nowhere.example', port: 443 },
    ];
    for (const k of keys) {
      assert.deepEqual(await p.pg.history(k), p.sq.scans.history(k), `history ${JSON.stringify(k)}`);
      assert.deepEqual(await p.pg.history(k, 2, { withChain: true }), p.sq.scans.history(k, 2, { withChain: true }));
      assert.deepEqual(await p.pg.detail(k), p.sq.scans.detail(k), `detail ${JSON.stringify(k)}`);
    }
    assert.deepEqual((await p.pg.history(keys[0]!)).map((r) => r.scannedAt), [...Array(3).fill('2025-06-02T00:00:00.000Z'), '2025-06-01T12:00:00.000Z', ...Array(4).fill('2025-05-01T00:00:00.000Z')]);
    assert.equal((await p.pg.history(keys[1]!, 3)).length, 3);
    const detail = await p.pg.detail(keys[0]!);
    assert.deepEqual(detail?.path, [{ fingerprint256: 'X' }]);
    assert.equal(detail?.durationMs, 12.5);
    assert.equal(await p.pg.detail(keys[6]!), null);

    // Views.
    const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
    const lean = await p.views.leanScanRows();
    assert.equal(lean.length, items.length);
    assert.deepEqual([...lean].sort(byId), p.sq.views.leanScanRows().sort(byId));
    assert.deepEqual(await p.views.storedEndpoints(), p.sq.views.storedEndpoints());
    for (const id of [1, 7, 999_999]) assert.deepEqual(await p.views.storedEndpoint(id), p.sq.views.storedEndpoint(id));
    const fps = [items[0]!.report.fingerprint256!, inter.info.fingerprint256, 'NO:SUCH'];
    assert.deepEqual(await p.views.certificateNotBefore(fps), p.sq.views.certificateNotBefore(fps));
    assert.equal((await p.views.certificateNotBefore(fps)).size, 2);
  });

  it('prunes the same scans, results and certificates, never an endpoint\'s latest', async () => {
    const p = await pair();
    const days = ['2025-01-01', '2025-02-01', '2025-03-01', '2025-04-01'];
    const items = fleet(6);
    for (const [n, day] of days.entries()) {
      // Each month another leaf for the first two endpoints: their old certificates become unused.
      const month = items.map((item, i) => {
        if (i > 1) return { ...item, report: { ...item.report, scannedAt: `${day}T00:00:00.000Z` } };
        const leaf = fakeCert(`renewed ${i} ${n}`, { issuer: item.report.chain![1]!.subject });
        const chain = [leaf.info, ...item.report.chain!.slice(1)];
        return { report: { ...item.report, scannedAt: `${day}T00:00:00.000Z`, fingerprint256: leaf.info.fingerprint256, chain }, chainDer: [leaf.der, ...item.chainDer.slice(1)], extra: item.extra };
      });
      assert.deepEqual(await p.pg.recordMany(month), p.sq.scans.recordMany(month));
    }
    assert.equal(await pgCount(p.db, 'scans'), 24);
    const pruned = await p.pg.pruneHistory(3);
    assert.equal(pruned, 6);
    assert.equal(pruned, p.sq.scans.pruneHistory(3));
    assert.equal(await p.pg.pruneHistory(3), 0);
    await assert.rejects(p.pg.pruneHistory(0), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');

    const counts = await p.pg.pruneBefore(new Date('2025-02-15T00:00:00.000Z'));
    assert.deepEqual(counts, p.sq.scans.pruneBefore(new Date('2025-02-15T00:00:00.000Z')));
    assert.deepEqual(counts, { scans: 6, results: 2, certificates: 4 }, 'the February scans; the January and February leaves of the two renewed endpoints');
    for (const t of ['scans', 'scan_results', 'certificates', 'endpoints']) assert.equal(await pgCount(p.db, t), sqCount(p.sq, t), t);
    // Certificates no endpoint serves now keep their info, not their bytes.
    assert.equal(await pgCount(p.db, 'certificates', 'WHERE der IS NULL'), sqCount(p.sq, 'certificates', 'WHERE der IS NULL'));
    assert.equal(sqCount(p.sq, 'certificates', 'WHERE der IS NULL'), 2, 'the March leaves, in history only');
    assert.deepEqual(await p.pg.latest({ withChain: true }), p.sq.scans.latest({ withChain: true }));
    const k = { domain: items[0]!.report.domain, host: items[0]!.report.host, port: 443 };
    assert.deepEqual(await p.pg.history(k, 20, { withChain: true }), p.sq.scans.history(k, 20, { withChain: true }));
    // Everything older than everything: only the latest scans stay.
    const all = await p.pg.pruneBefore(new Date('2030-01-01T00:00:00.000Z'));
    assert.deepEqual(all, p.sq.scans.pruneBefore(new Date('2030-01-01T00:00:00.000Z')));
    assert.equal(await pgCount(p.db, 'scans'), 6);
    assert.deepEqual(await p.pg.pruneBefore(new Date('2030-01-01T00:00:00.000Z')), { scans: 0, results: 0, certificates: 0 });
    await assert.rejects(p.pg.pruneBefore(new Date('nonsense')), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');
  });

  it('stores all of a recordMany or nothing of it', async () => {
    const p = await pair();
    const items = fleet(300);
    const tables = ['scans', 'endpoints', 'certificates', 'scan_results'];
    const bad = (over: Partial<EndpointReport>): RecordItem => ({ ...items[0]!, report: { ...fleet(1)[0]!.report, domain: 'bad.example', ...over } as EndpointReport });
    // Refused by the database (a CHECK), by JS (the time), and a NUL PostgreSQL text cannot hold.
    for (const [what, item] of [['status', bad({ status: 'fine' as never })], ['scannedAt', bad({ scannedAt: 'not a time' })], ['NUL', bad({ subject: 'CN=a\u0000b' })]] as const) {
      await assert.rejects(p.pg.recordMany([...items, item]), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument', what);
      for (const t of tables) assert.equal(await pgCount(p.db, t), 0, `${what}: nothing in ${t}`);
    }
    assert.throws(() => p.sq.scans.recordMany([...items, bad({ status: 'fine' as never })]), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');
    // The same batch without the bad item is stored whole. (Its ids are not SQLite's: a
    // PostgreSQL sequence does not give back the ids a rolled-back transaction drew.)
    const ids = await p.pg.recordMany(items);
    p.sq.scans.recordMany(items);
    assert.equal(new Set(ids).size, 300);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    for (const t of tables) assert.equal(await pgCount(p.db, t), sqCount(p.sq, t), t);
    assert.equal(await pgCount(p.db, 'endpoints'), 300);
    assert.deepEqual(await p.pg.latest({ withChain: true }), p.sq.scans.latest({ withChain: true }));
    const fps = items.map((i) => i.report.fingerprint256!);
    assert.deepEqual(await p.views.certificateNotBefore(fps), p.sq.views.certificateNotBefore(fps));
    assert.deepEqual(await p.pg.recordMany([]), []);
  });

  it('reads stored status texts only when this rendering made them; the next writer renders them again', async () => {
    const p = await pair();
    const items = varied();
    p.sq.scans.recordMany(items.slice(0, -1));
    await p.pg.recordMany(items.slice(0, -1));
    const targets = [...new Set(items.map((i) => i.report.domain))].filter((d) => d !== 'far.example' && d !== 'file.example').map((d) => target(d));
    const want = { json: p.sq.scans.statusText(targets, 'json'), table: p.sq.scans.statusText(targets, 'table') };
    const meta = async () => (await p.db.query<{ value: string }>("SELECT value FROM meta WHERE key = 'status_text_rendering'")).rows[0]?.value;
    assert.equal(await meta(), PG_STATUS_TEXT_RENDERING);
    // As a copy from SQLite (or another certs version) leaves it: texts of another rendering.
    await p.db.query(`UPDATE endpoints SET status_json = '    {"tampered": true}', status_table = '["tampered"]'`);
    assert.notEqual(await p.pg.statusText(targets, 'json'), want.json, 'this rendering\'s texts are read as stored');
    await p.db.query(`UPDATE meta SET value = 'another-rendering' WHERE key = 'status_text_rendering'`);
    assert.equal(await p.pg.statusText(targets, 'json'), want.json, 'another rendering\'s texts are not read');
    assert.equal(await p.pg.statusText(targets, 'table'), want.table);
    const last = items[items.length - 1]!;
    await p.pg.record(last.report, last.chainDer, last.extra);
    p.sq.scans.record(last.report, last.chainDer, last.extra);
    want.json = p.sq.scans.statusText(targets, 'json');
    want.table = p.sq.scans.statusText(targets, 'table');
    assert.equal(await meta(), PG_STATUS_TEXT_RENDERING);
    assert.equal(await pgCount(p.db, 'endpoints', `WHERE status_json LIKE '%tampered%' OR status_table LIKE '%tampered%'`), 0, 'every endpoint rendered again');
    assert.equal(await p.pg.statusText(targets, 'json'), want.json);
    assert.equal(await p.pg.statusText(targets, 'table'), want.table);
  });

  it('two stores writing the same endpoints at once: every scan kept, the newest is the latest', async () => {
    const p = await pair();
    const other = await openPgDb(parsePgUrl(p.url));
    extraDbs.push(other);
    const second = new PgScanStore(other);
    const base = fleet(50);
    const at = (items: RecordItem[], day: string, reverse: boolean) => {
      const out = items.map((i) => ({ ...i, report: { ...i.report, scannedAt: `${day}T00:00:00.000Z` } }));
      return reverse ? out.reverse() : out;
    };
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([p.pg.recordMany(at(base, `2025-07-0${round + 1}`, false)), second.recordMany(at(base, `2025-08-0${round + 1}`, true))]);
      assert.equal(new Set([...a, ...b]).size, 100);
    }
    assert.equal(await pgCount(p.db, 'scans'), 500);
    assert.equal(await pgCount(p.db, 'endpoints'), 50);
    const latest = await p.pg.latest();
    assert.deepEqual(new Set(latest.map((r) => r.scannedAt)), new Set(['2025-08-05T00:00:00.000Z']));
  });

  it('maintenance and outbox search as on SQLite: runs, archive versions, compaction', async () => {
    const p = await pair();
    // Runs: old finished ones go, except the newest finished; a recent one stays.
    for (const [started, finished] of [['2025-01-01T00:00:00.000Z', '2025-01-01T00:01:00.000Z'], ['2025-02-01T00:00:00.000Z', '2025-02-01T00:01:00.000Z'], ['2025-03-01T00:00:00.000Z', null], ['2025-09-01T00:00:00.000Z', '2025-09-01T00:01:00.000Z'], ['2025-03-02T00:00:00.000Z', null]]) {
      await both(p, 'INSERT INTO runs (started_at, finished_at, outcome) VALUES (?, ?, ?)', [started, finished, finished ? 'ok' : null]);
    }
    const cutoff = new Date('2025-06-01T00:00:00.000Z');
    const pruned = await p.maintenance.pruneRuns(cutoff);
    assert.equal(pruned, 4);
    assert.equal(pruned, p.sq.maintenance.pruneRuns(cutoff));
    await both(p, 'INSERT INTO runs (started_at, finished_at, outcome) VALUES (?, ?, ?)', ['2025-10-01T00:00:00.000Z', null, null]);
    assert.equal(await p.maintenance.pruneRuns(new Date('2026-01-01T00:00:00.000Z')), p.sq.maintenance.pruneRuns(new Date('2026-01-01T00:00:00.000Z')));
    assert.equal(await pgCount(p.db, 'runs'), 1, 'the newest finished run stays');

    // Archive: versions 1-5 recorded, 1-4 on this machine's disk; 2 is deployed, 5 current.
    const lineage = 'www.example.com';
    for (let v = 1; v <= 5; v++) {
      await both(p, `INSERT INTO issued (lineage, version, fingerprint256, serial, not_before, not_after, issuer, names_json, key_type, directory_url, dir, issued_at)
        VALUES (?, ?, ?, '01', '2025-01-01T00:00:00.000Z', '2025-04-01T00:00:00.000Z', 'CN=Inter', '[]', 'ecdsa-p256', 'https://acme.test/dir', '/x', '2025-01-01T00:00:00.000Z')`, [lineage, v, `FP:${v}`]);
      await p.db.query(`INSERT INTO issued_files (lineage, version, cert, chain, fullchain, privkey_sealed, kek_id) VALUES ($1, $2, 'c', 'ch', 'fc', '\\x00', 'k')`, [lineage, v]);
    }
    await both(p, `INSERT INTO deployments (lineage, snippet_path, snippet_sha256, fingerprint256, deployed_at, version) VALUES (?, '/s', 'h', 'FP:2', '2025-01-02T00:00:00.000Z', 2)`, [lineage]);
    const dirs = (dataDir: string) => join(dataDir, 'certs', lineage, 'archive');
    for (const dataDir of [join(p.dataDir, 'pg'), p.dataDir]) for (let v = 1; v <= 4; v++) mkdirSync(join(dirs(dataDir), String(v)), { recursive: true });
    const result = await p.maintenance.pruneArchive(join(p.dataDir, 'pg'), lineage, 2);
    assert.deepEqual(result, { removed: [1, 3], kept: [2, 4, 5] });
    assert.deepEqual(result, p.sq.maintenance.pruneArchive(p.dataDir, lineage, 2));
    assert.deepEqual([1, 2, 3, 4].map((v) => existsSync(join(dirs(join(p.dataDir, 'pg')), String(v)))), [false, true, false, true]);
    assert.deepEqual((await p.db.query<{ version: number }>('SELECT version FROM issued_files ORDER BY version')).rows.map((r) => Number(r.version)), [2, 4, 5]);
    assert.equal(await pgCount(p.db, 'issued'), 3);
    await assert.rejects(p.maintenance.pruneArchive(p.dataDir, lineage, 0), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');

    // Outbox: a webhook payload naming the endpoint, an email whose text does, and one about another.
    const msg = (key: string, channel: string, text: string, payload: string | null) =>
      both(p, `INSERT INTO outbox (key, channel, subject, text, payload_json, created_at, next_attempt_at) VALUES (?, ?, 's', ?, ?, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`, [key, channel, text, payload]);
    await msg('k1', 'webhook', 'x', JSON.stringify({ events: [{ endpoint: 'www.example.com:443' }] }));
    await msg('k2', 'email', 'www.example.com:443 expires', null);
    await msg('k3', 'email', 'other.example:443 expires', null);
    await msg('k4', 'webhook', 'www.example.com:443', JSON.stringify({ endpoint: 'other.example:443' }));
    for (const [label, limit] of [['www.example.com:443', 50], ['www.example.com:443', 1], ['', 50], ['%', 50]] as const) {
      assert.deepEqual(await p.views.outboxMentioning(label, limit), p.sq.views.outboxMentioning(label, limit), `${label} ${limit}`);
    }
    assert.equal((await p.views.outboxMentioning('www.example.com:443')).length, 2);

    const c = await p.maintenance.compact();
    assert.ok(c.bytesBefore > 0 && c.bytesAfter > 0, JSON.stringify(c));
    await p.maintenance.truncateWal();
  });
});
