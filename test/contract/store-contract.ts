/**
 * The store contract (issue 15): what every engine behind store/contract.ts's AsyncStore must do,
 * as one node:test suite any engine runs (test/unit/store/contract-sqlite.test.ts,
 * test/integration/store-contract-pg.test.ts). Everything goes through the AsyncStore interface:
 * the engines are judged by what a service can see, never by their tables.
 *
 * The promises pinned here are the SQLite repositories' (src/store/*.ts): round trips (write, read
 * back deepEqual), orderings and limits, what null means, all-or-nothing writes, lock leases under
 * an injected clock, one state per snapshot, and two connections writing at once (two processes,
 * or two nodes of a cluster) losing nothing.
 */
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/core/errors.js';
import type { EndpointReport } from '../../src/core/model.js';
import type { Problem } from '../../src/core/problems.js';
import type { AsyncStore } from '../../src/store/contract.js';
import type { CertPems } from '../../src/store/archive.js';
import { parseStatusRows, statusParam, type StatusTarget } from '../../src/store/status-rows.js';
import type { ActiveRow, DeploymentRow, IssuedCert, NewOutboxMessage, RecordItem } from '../../src/store/index.js';
import { fakeCert, reportFor, type FakeCert } from '../helpers/store-fixtures.js';

export interface StoreFactory {
  /**
   * Opens the current database. Two opens of the same database are two independent connections,
   * as two processes (or two nodes) would hold. `clock` drives lock leases.
   */
  open(opts?: { clock?: () => number; node?: string }): Promise<AsyncStore>;
  /** Makes a new empty database the next opens use (called before every test). */
  fresh(): Promise<void>;
  /** Removes whatever the factory made (called once, after the suite). */
  cleanup(): Promise<void>;
  /**
   * Puts a version's files where this engine's `issued.pems` reads them when `putPems` is not
   * what stores them (sqlite: the archive on this machine, written before a version is
   * recorded). Absent for engines whose putPems stores them (postgres).
   */
  placePems?(lineage: string, version: number, pems: CertPems): Promise<void>;
}

const rootCa = fakeCert('Contract Root', { isCA: true });
const inter = fakeCert('Contract Intermediate', { issuer: rootCa.info.subject, isCA: true });

function leafFor(domain: string): FakeCert {
  return fakeCert(domain, { issuer: inter.info.subject });
}

/** One scan of `domain` (leaf, intermediate, root), as the scan service records it. */
function scanItem(
  target: { domain: string; host?: string; port?: number; address?: string; source?: 'tls' | 'file' },
  opts: { scannedAt?: string; problems?: Problem[]; leaf?: FakeCert; daysLeft?: number | null } = {},
): RecordItem {
  const chain = [opts.leaf ?? leafFor(target.host ?? target.domain), inter, rootCa];
  return {
    report: reportFor(target, chain, opts),
    chainDer: chain.map((c) => c.der),
    extra: { path: chain.map((c, j) => ({ fingerprint256: c.info.fingerprint256, source: 'served', anchor: j === 2 })), durationMs: 20 },
  };
}

/** A report as `latest()` without `withChain` returns it. */
function withoutChain(report: EndpointReport): EndpointReport {
  const { chain: _chain, ...rest } = report;
  return rest;
}

function issuedCert(lineage: string, version: number, over: Partial<IssuedCert> = {}): IssuedCert {
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
    profile: version === 2 ? 'shortlived' : null,
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

function message(key: string, over: Partial<NewOutboxMessage> = {}): NewOutboxMessage {
  return {
    key,
    channel: 'email',
    to: ['ops@example.com', 'oncall@example.com'],
    subject: `subject of ${key}`,
    text: `text of ${key}\nsecond line ünïcödé`,
    html: `<p>${key}</p>`,
    payload: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    nextAttemptAt: '2030-01-01T00:00:00.000Z',
    ...over,
  };
}

function webhook(key: string, over: Partial<NewOutboxMessage> = {}): NewOutboxMessage {
  return message(key, { channel: 'webhook', to: [], html: null, payload: { event: 'expiring', domains: ['a.example'], days: 12, nested: { ok: true } }, ...over });
}

function active(endpointKey: string, code: string): ActiveRow {
  return { endpointKey, domain: endpointKey.split(':')[0]!, endpoint: endpointKey, code, since: '2030-01-01T00:00:00.000Z', message: `${code} on ${endpointKey}` };
}

const emptyRun = { at: '2030-01-01T00:00:00.000Z', markSent: [] as string[], activate: [] as ActiveRow[], clear: [] as Array<Pick<ActiveRow, 'endpointKey' | 'code'>>, messages: [] as NewOutboxMessage[] };

/** A clock the test moves by hand. */
function manualClock(start = Date.UTC(2030, 0, 1)): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** How `certs status --json` writes a report as an element of its list (store/status-rows.ts). */
function asStatusJson(report: EndpointReport): string {
  return `    ${JSON.stringify(report, null, 2).split('\n').join('\n    ')}`;
}

function target(domain: string, over: Partial<StatusTarget> = {}): StatusTarget {
  return { domain, host: domain, port: 443, source: 'tls', ...over };
}

async function rejectsWith(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail(`${what}: expected it to fail`);
}

/** `skip`: a reason to skip the whole suite (e.g. no PostgreSQL on this machine). */
export function storeContract(engine: string, factory: StoreFactory, opts: { skip?: string | false } = {}): void {
  describe(`the store contract (${engine})`, { skip: opts.skip ?? false }, () => {
    let opened: AsyncStore[] = [];
    /** Opens the current database; closed after the test. */
    async function open(opts: { clock?: () => number; node?: string } = {}): Promise<AsyncStore> {
      const s = await factory.open(opts);
      opened.push(s);
      return s;
    }
    beforeEach(async () => {
      await factory.fresh();
    });
    afterEach(async () => {
      const all = opened;
      opened = [];
      for (const s of all) await s.close();
    });
    after(async () => {
      await factory.cleanup();
    });

    it('names its engine', async () => {
      const s = await open();
      assert.equal(s.engine, engine);
      assert.equal(typeof s.location, 'string');
      await s.assertWritable();
    });

    describe('scans', () => {
      it('round-trips a report: problems, optional fields, the served order, path, error and duration', async () => {
        const s = await open();
        const leaf = leafFor('www.example.com');
        // Served out of order on purpose: the stored chain keeps the served order.
        const served = [leaf, rootCa, inter];
        const report = reportFor({ domain: 'example.com', host: 'www.example.com', port: 8443, address: '203.0.113.7' }, served, {
          problems: [
            { code: 'wrong-order', severity: 'warning', message: 'served out of order', hint: 'fix ssl_certificate' },
            { code: 'contains-anchor', severity: 'warning', message: 'the root is served' },
          ],
        });
        report.crossCheck = { openssl: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', agrees: false, note: 'openssl saw no issuer' };
        report.orderKnown = false;
        const path = [{ fingerprint256: leaf.info.fingerprint256, source: 'served', anchor: false }, { note: 'not a path entry' }];
        const id = await s.scans.record(report, served.map((c) => c.der), { path, durationMs: 12.5 });
        assert.equal(typeof id, 'number');

        assert.deepEqual(await s.scans.latest({ withChain: true }), [report]);
        const [withChain] = await s.scans.latest({ withChain: true });
        assert.deepEqual(withChain!.chain!.map((c) => c.subject), ['CN=www.example.com', 'CN=Contract Root', 'CN=Contract Intermediate']);
        const [plain] = await s.scans.latest();
        assert.deepEqual(plain, withoutChain(report));
        assert.equal('chain' in plain!, false, 'no chain unless asked for');

        const detail = await s.scans.detail({ domain: 'example.com', host: 'www.example.com', port: 8443 });
        assert.deepEqual(detail, { scanId: id, report, path, error: null, durationMs: 12.5 });
      });

      it('keeps fields without a column, leaves unrecorded optional fields out, keeps unparsed DER out of the chain', async () => {
        const s = await open();
        const report: EndpointReport = {
          domain: 'files.example',
          host: 'files.example',
          port: 0,
          source: 'file',
          file: '/etc/ssl/files.pem',
          status: 'unknown',
          daysLeft: null,
          notAfter: null,
          fingerprint256: null,
          issuer: null,
          subject: null,
          problems: [],
          scannedAt: '2030-06-01T00:00:00.000Z',
          error: 'EACCES: permission denied, open /etc/ssl/files.pem',
        };
        // A DER without CertInfo (the analysis could not parse it) is evidence, not a chain entry.
        await s.scans.record(report, [Buffer.from('not a certificate at all')]);
        assert.deepEqual(await s.scans.latest({ withChain: true }), [{ ...report, chain: [] }]);
        assert.deepEqual(await s.scans.latest(), [report]);
      });

      it('derives the probe error from the problems unless given; detail of an unknown endpoint is null', async () => {
        const s = await open();
        const problem: Problem = { code: 'timeout', severity: 'critical', message: 'slow.example:443: no TLS handshake within 5000 ms' };
        await s.scans.record(reportFor({ domain: 'slow.example' }, [], { problems: [problem] }), []);
        assert.deepEqual((await s.scans.detail({ domain: 'slow.example', host: 'slow.example', port: 443 }))!.error, { code: 'timeout', message: problem.message });
        await s.scans.record(reportFor({ domain: 'fine.example' }, []), [], { error: { code: 'custom', message: 'given' } });
        const fine = await s.scans.detail({ domain: 'fine.example', host: 'fine.example', port: 443 });
        assert.deepEqual(fine!.error, { code: 'custom', message: 'given' });
        assert.equal(fine!.path, null, 'no path recorded');
        assert.equal(fine!.durationMs, null);
        assert.equal(await s.scans.detail({ domain: 'nope.example', host: 'nope.example', port: 443 }), null);
        assert.equal(await s.scans.detail({ domain: 'fine.example', host: 'fine.example', port: 444 }), null);
      });

      it('recordMany returns the scan ids in item order; nothing recorded reads as empty', async () => {
        const s = await open();
        assert.deepEqual(await s.scans.latest(), []);
        assert.deepEqual(await s.scans.recordMany([]), []);
        const items = ['c.example', 'a.example', 'b.example'].map((d) => scanItem({ domain: d }));
        const ids = await s.scans.recordMany(items);
        assert.equal(ids.length, 3);
        assert.equal(new Set(ids).size, 3, 'distinct ids');
        for (const [i, item] of items.entries()) {
          const d = await s.scans.detail({ domain: item.report.domain, host: item.report.host, port: 443 });
          assert.equal(d!.scanId, ids[i], `id of item ${i}`);
        }
      });

      it('latest: ordered by domain, host, port, address, source (bytewise), filtered by domains', async () => {
        const s = await open();
        // Bytewise order, as SQLite's BINARY collation: 'Z' < 'a', '-' < '.', ports as numbers.
        const keys: Array<{ domain: string; host?: string; port?: number; address?: string; source?: 'tls' | 'file' }> = [
          { domain: 'a.example', port: 8443 },
          { domain: 'Z.example' },
          { domain: 'a.example', port: 25 },
          { domain: 'ab.example' },
          { domain: 'a-b.example' },
          { domain: 'a.example', port: 443, address: '2001:db8::1' },
          { domain: 'a.example', port: 443, address: '192.0.2.1' },
          { domain: 'a.example', port: 443 },
          { domain: 'a.example', host: 'mail.a.example', port: 443 },
          { domain: 'a.example', port: 443, source: 'file' },
        ];
        await s.scans.recordMany(keys.map((k) => scanItem(k)));
        const got = (await s.scans.latest()).map((r) => `${r.domain}|${r.host}|${r.port}|${r.address ?? ''}|${r.source}`);
        assert.deepEqual(got, [
          'Z.example|Z.example|443||tls',
          'a-b.example|a-b.example|443||tls',
          'a.example|a.example|25||tls',
          'a.example|a.example|443||file',
          'a.example|a.example|443||tls',
          'a.example|a.example|443|192.0.2.1|tls',
          'a.example|a.example|443|2001:db8::1|tls',
          'a.example|a.example|8443||tls',
          'a.example|mail.a.example|443||tls',
          'ab.example|ab.example|443||tls',
        ]);
        const some = await s.scans.latest({ domains: ['ab.example', 'Z.example', 'none.example'] });
        assert.deepEqual(some.map((r) => r.domain), ['Z.example', 'ab.example']);
        assert.deepEqual(await s.scans.latest({ domains: [] }), []);
      });

      it('latest only moves forward; history is newest first, limited, merged across addresses without one', async () => {
        const s = await open();
        const at = (day: number) => `2030-06-${String(day).padStart(2, '0')}T12:00:00.000Z`;
        const key = { domain: 'h.example' };
        await s.scans.record(scanItem(key, { scannedAt: at(5) }).report, scanItem(key).chainDer);
        await s.scans.record(scanItem(key, { scannedAt: at(3) }).report, scanItem(key).chainDer);
        const newer = scanItem(key, { scannedAt: at(7), problems: [{ code: 'expiring-soon', severity: 'warning', message: 'soon' }] });
        await s.scans.record(newer.report, newer.chainDer);
        await s.scans.record(scanItem(key, { scannedAt: at(6) }).report, scanItem(key).chainDer);
        const [latest] = await s.scans.latest();
        assert.equal(latest!.scannedAt, at(7), 'an older scan recorded later does not hide the newer one');
        assert.deepEqual(latest, withoutChain(newer.report));
        assert.equal((await s.scans.detail({ domain: 'h.example', host: 'h.example', port: 443 }))!.report.scannedAt, at(7));

        const hist = await s.scans.history({ domain: 'h.example', host: 'h.example', port: 443 });
        assert.deepEqual(hist.map((r) => r.scannedAt), [at(7), at(6), at(5), at(3)]);
        assert.deepEqual(hist[0], withoutChain(newer.report));
        assert.deepEqual((await s.scans.history({ domain: 'h.example', host: 'h.example', port: 443 }, 2)).map((r) => r.scannedAt), [at(7), at(6)]);
        const [chained] = await s.scans.history({ domain: 'h.example', host: 'h.example', port: 443 }, 1, { withChain: true });
        assert.deepEqual(chained, newer.report);

        // Two addresses of one name: merged without an address, apart with one.
        await s.scans.record(scanItem({ domain: 'm.example', address: '192.0.2.1' }, { scannedAt: at(1) }).report, []);
        await s.scans.record(scanItem({ domain: 'm.example', address: '192.0.2.2' }, { scannedAt: at(2) }).report, []);
        const merged = await s.scans.history({ domain: 'm.example', host: 'm.example', port: 443 });
        assert.deepEqual(merged.map((r) => r.address), ['192.0.2.2', '192.0.2.1']);
        const one = await s.scans.history({ domain: 'm.example', host: 'm.example', port: 443, address: '192.0.2.1' });
        assert.deepEqual(one.map((r) => r.address), ['192.0.2.1']);
        assert.deepEqual(await s.scans.history({ domain: 'm.example', host: 'm.example', port: 443, source: 'file' }), []);
        assert.deepEqual(await s.scans.history({ domain: 'never.example', host: 'never.example', port: 443 }), []);
      });

      it('statusText in both forms for recorded reports; statusRows and reportsById agree with latest', async () => {
        const s = await open();
        const items = [
          scanItem({ domain: 'plain.example' }),
          scanItem({ domain: 'addr.example', address: '192.0.2.10' }),
          scanItem({ domain: 'addr.example', address: '2001:db8::10' }, { leaf: leafFor('addr-renewed.example') }),
          scanItem({ domain: 'problems.example' }, { problems: [{ code: 'expiring-soon', severity: 'warning', message: 'expires in "12" days', hint: 'renew\tnow' }, { code: 'weak-key', severity: 'critical', message: 'ünïcödé 😀' }] }),
          scanItem({ domain: 'nodays.example' }, { daysLeft: null }),
        ];
        const fileReport: EndpointReport = { ...reportFor({ domain: 'file.example', port: 0, source: 'file' }, []), file: '/etc/ssl/file.pem', error: 'ENOENT' };
        await s.scans.recordMany([...items, { report: fileReport, chainDer: [] }]);
        const latest = await s.scans.latest();
        const byKey = new Map(latest.map((r) => [`${r.domain}|${r.address ?? ''}`, r]));

        const targets = [
          target('problems.example'),
          target('addr.example', { issued: items[1]!.report.fingerprint256 }),
          target('missing.example'),
          target('plain.example', { issued: 'AA:BB' }),
          target('nodays.example'),
          target('file.example', { port: 0, source: 'file' }),
        ];
        const json = await s.scans.statusText(targets, 'json');
        assert.equal(typeof json, 'string');
        const rows = parseStatusRows(json);
        assert.equal(rows.length, 6, 'one row per stored endpoint of the targets (two for addr.example)');
        assert.deepEqual([...new Set(rows.map((r) => r.target))].sort(), [0, 1, 3, 4, 5]);
        let texts = 0;
        for (const row of rows) {
          const report = byKey.get(`${targets[row.target]!.domain}|${row.address ?? ''}`);
          assert.ok(report, `row of ${targets[row.target]!.domain} ${row.address ?? ''}`);
          assert.equal(row.status, report.status);
          assert.equal(row.scannedAtMs, Date.parse(report.scannedAt!));
          if (row.text !== null) {
            texts++;
            assert.equal(row.text, asStatusJson(report), `json text of ${report.domain}`);
          }
          const [byId] = (await s.scans.reportsById([row.id])).values();
          assert.deepEqual(byId, report, `reportsById of ${report.domain}`);
        }
        assert.ok(texts >= 5, `the store serialised the plain reports (${texts})`);
        const touched = rows.filter((r) => r.touched).map((r) => `${targets[r.target]!.domain}|${r.address ?? ''}`).sort();
        // addr.example's first address serves the issued certificate, its second another; plain.example serves another.
        assert.deepEqual(touched, ['addr.example|2001:db8::10', 'plain.example|']);

        const table = parseStatusRows(await s.scans.statusText(targets, 'table'));
        assert.deepEqual(table.map((r) => [r.target, r.id, r.address]), rows.map((r) => [r.target, r.id, r.address]));
        let cells = 0;
        for (const row of table) {
          const report = byKey.get(`${targets[row.target]!.domain}|${row.address ?? ''}`)!;
          if (row.text === null) continue;
          cells++;
          assert.deepEqual(JSON.parse(row.text), [report.daysLeft, report.notAfter, report.issuer, report.error ?? null, report.file ?? null, report.problems.map((p) => p.code).join(', ')], `table text of ${report.domain}`);
        }
        assert.ok(cells >= 5, `the store wrote the table fields (${cells})`);

        assert.equal(await s.scans.statusText(statusParam(targets), 'json'), json, 'statusParam\'s string is the same question');
        assert.deepEqual(await s.scans.statusRows(targets), rows);
        assert.equal(await s.scans.statusText([target('missing.example')]), null);
        assert.equal(await s.scans.statusText([]), null);
        assert.deepEqual(await s.scans.statusRows([target('missing.example')]), []);
        assert.deepEqual(await s.scans.reportsById([]), new Map());
        assert.deepEqual(await s.scans.reportsById([987654]), new Map());
        const ids = rows.map((r) => r.id);
        const all = await s.scans.reportsById(ids, { withChain: true });
        assert.equal(all.size, 6);
        const [problemRow] = rows.filter((r) => r.target === 0);
        assert.deepEqual(all.get(problemRow!.id), items[3]!.report);
      });

      it('pruneHistory keeps the newest n per endpoint (never the latest); pruneBefore drops by age', async () => {
        const s = await open();
        const at = (day: number) => `2030-06-${String(day).padStart(2, '0')}T00:00:00.000Z`;
        for (const d of ['p.example', 'q.example']) {
          for (let day = 1; day <= 5; day++) await s.scans.recordMany([scanItem({ domain: d }, { scannedAt: at(day) })]);
        }
        await assert.rejects(s.scans.pruneHistory(0), (err) => err instanceof StoreError && err.code === 'invalid-argument');
        assert.equal(await s.scans.pruneHistory(2), 6);
        assert.deepEqual((await s.scans.history({ domain: 'p.example', host: 'p.example', port: 443 })).map((r) => r.scannedAt), [at(5), at(4)]);
        assert.equal(await s.scans.pruneHistory(2), 0);

        // r.example: scanned once long ago (its latest stays), and with its own leaf.
        await s.scans.recordMany([scanItem({ domain: 'r.example' }, { scannedAt: '2029-01-01T00:00:00.000Z' })]);
        const counts = await s.scans.pruneBefore(new Date(at(5)));
        assert.equal(counts.scans, 2, 'day 4 of p and q; each endpoint keeps its latest');
        assert.equal(typeof counts.results, 'number');
        assert.equal(typeof counts.certificates, 'number');
        assert.deepEqual((await s.scans.history({ domain: 'q.example', host: 'q.example', port: 443 })).map((r) => r.scannedAt), [at(5)]);
        assert.deepEqual((await s.scans.history({ domain: 'r.example', host: 'r.example', port: 443 })).map((r) => r.scannedAt), ['2029-01-01T00:00:00.000Z']);
        assert.deepEqual(await s.scans.pruneBefore(new Date(at(5))), { scans: 0, results: 0, certificates: 0 });
        await assert.rejects(s.scans.pruneBefore(new Date('nonsense')), (err) => err instanceof StoreError && err.code === 'invalid-argument');
        // What remains still reads whole.
        assert.deepEqual((await s.scans.latest({ withChain: true })).map((r) => r.chain!.length), [3, 3, 3]);
      });
    });

    describe('repositories', () => {
      it('accounts: null before, saved, updated in place (created_at kept)', async () => {
        const s = await open();
        assert.equal(await s.accounts.get('https://acme.test/dir'), null);
        const row = { directoryUrl: 'https://acme.test/dir', accountUrl: null, keyFile: '/data/accounts/a.key', email: null, createdAt: '2030-01-01T00:00:00.000Z' };
        await s.accounts.save(row);
        assert.deepEqual(await s.accounts.get('https://acme.test/dir'), row);
        await s.accounts.save({ ...row, accountUrl: 'https://acme.test/acct/1', email: 'ops@example.com', keyFile: '/data/accounts/b.key', createdAt: '2031-01-01T00:00:00.000Z' });
        assert.deepEqual(await s.accounts.get('https://acme.test/dir'), { ...row, accountUrl: 'https://acme.test/acct/1', email: 'ops@example.com', keyFile: '/data/accounts/b.key' });
        assert.equal(await s.accounts.get('https://other.test/dir'), null);
      });

      it('issued: record, latest, byVersion, list (lineage, then newest first), latestAll, maxVersion, markRevoked', async () => {
        const s = await open();
        assert.equal(await s.issued.latest('b.example'), null);
        assert.equal(await s.issued.byVersion('b.example', 1), null);
        assert.deepEqual(await s.issued.list(), []);
        assert.deepEqual(await s.issued.latestAll(), new Map());
        assert.equal(await s.issued.maxVersion('b.example'), 0);

        const certs = [issuedCert('b.example', 1), issuedCert('a.example', 1), issuedCert('b.example', 3), issuedCert('b.example', 2)];
        const ids: number[] = [];
        for (const c of certs) ids.push(await s.issued.record(c));
        assert.equal(new Set(ids).size, 4);
        const withId = certs.map((c, i) => ({ ...c, id: ids[i] }));
        assert.deepEqual(await s.issued.latest('b.example'), withId[2]);
        assert.deepEqual(await s.issued.byVersion('b.example', 2), withId[3]);
        assert.equal(await s.issued.byVersion('b.example', 4), null);
        assert.deepEqual(await s.issued.list(), [withId[1], withId[2], withId[3], withId[0]]);
        assert.deepEqual(await s.issued.list('b.example'), [withId[2], withId[3], withId[0]]);
        assert.deepEqual(await s.issued.list('c.example'), []);
        assert.deepEqual(await s.issued.latestAll(), new Map([['a.example', withId[1]], ['b.example', withId[2]]]));
        assert.equal(await s.issued.maxVersion('b.example'), 3);

        await s.issued.markRevoked(ids[3]!, '2030-05-01T00:00:00.000Z', 4);
        assert.deepEqual(await s.issued.byVersion('b.example', 2), { ...withId[3], revokedAt: '2030-05-01T00:00:00.000Z', revokeReason: 4 });
        assert.deepEqual(await s.issued.byVersion('b.example', 3), withId[2], 'only that version');
        await assert.rejects(s.issued.record(issuedCert('b.example', 2)), 'a version is recorded once');
        assert.equal((await s.issued.list('b.example')).length, 3);
      });

      it('issued: putPems then pems round-trips a version\'s files; pems of an unknown version is null', async () => {
        const s = await open();
        const pems: CertPems = {
          cert: '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n',
          chain: '-----BEGIN CERTIFICATE-----\nMIIBchain\n-----END CERTIFICATE-----\n',
          fullchain: '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nMIIBchain\n-----END CERTIFICATE-----\n',
          privkey: '-----BEGIN PRIVATE KEY-----\nMIGHprivate\n-----END PRIVATE KEY-----\n',
        };
        const other: CertPems = { ...pems, cert: pems.cert.replace('cert', 'cert2'), privkey: pems.privkey.replace('private', 'other') };
        assert.equal(await s.issued.pems('p.example', 1), null);
        await s.issued.record(issuedCert('p.example', 1));
        await s.issued.record(issuedCert('p.example', 2));
        await factory.placePems?.('p.example', 1, pems);
        await factory.placePems?.('p.example', 2, other);
        await s.issued.putPems('p.example', 1, pems);
        await s.issued.putPems('p.example', 2, other);
        await s.issued.putPems('p.example', 1, pems); // idempotent
        assert.deepEqual(await s.issued.pems('p.example', 1), pems);
        assert.deepEqual(await s.issued.pems('p.example', 2), other);
        assert.equal(await s.issued.pems('p.example', 3), null);
        assert.equal(await s.issued.pems('q.example', 1), null);
        // Another connection (another node) reads the same files.
        const t = await open();
        assert.deepEqual(await t.issued.pems('p.example', 2), other);
      });

      it('renewals: failures counted, ARI kept until a success clears it, attempts newest first', async () => {
        const s = await open();
        assert.equal(await s.renewals.get('r.example'), null);
        assert.deepEqual(await s.renewals.all(), new Map());
        await s.renewals.recordFailure('r.example', { at: '2030-01-01T00:00:00.000Z', error: 'rate limited', code: 'acme', nextAttemptAt: '2030-01-01T01:00:00.000Z' });
        await s.renewals.recordFailure('r.example', { at: '2030-01-01T02:00:00.000Z', error: 'timeout', code: 'network', nextAttemptAt: '2030-01-01T06:00:00.000Z' });
        const failing = { lineage: 'r.example', failures: 2, nextAttemptAt: '2030-01-01T06:00:00.000Z', lastAttemptAt: '2030-01-01T02:00:00.000Z', lastSuccessAt: null, lastError: 'timeout', lastErrorCode: 'network', ari: null };
        assert.deepEqual(await s.renewals.get('r.example'), failing);
        const ari = { certId: 'ari-1', start: '2030-02-01T00:00:00.000Z', end: '2030-02-03T00:00:00.000Z', chosen: '2030-02-02T00:00:00.000Z', retryAfter: '2030-01-02T00:00:00.000Z', explanationUrl: null };
        await s.renewals.setAri('r.example', ari);
        assert.deepEqual(await s.renewals.get('r.example'), { ...failing, ari });
        await s.renewals.setAri('s.example', { ...ari, explanationUrl: 'https://ca.test/why' });
        assert.deepEqual(await s.renewals.get('s.example'), { lineage: 's.example', failures: 0, nextAttemptAt: null, lastAttemptAt: null, lastSuccessAt: null, lastError: null, lastErrorCode: null, ari: { ...ari, explanationUrl: 'https://ca.test/why' } });
        await s.renewals.recordSuccess('r.example', '2030-01-01T07:00:00.000Z');
        const ok = { lineage: 'r.example', failures: 0, nextAttemptAt: null, lastAttemptAt: '2030-01-01T07:00:00.000Z', lastSuccessAt: '2030-01-01T07:00:00.000Z', lastError: null, lastErrorCode: null, ari: null };
        assert.deepEqual(await s.renewals.get('r.example'), ok);
        assert.deepEqual([...(await s.renewals.all()).keys()].sort(), ['r.example', 's.example']);
        assert.deepEqual((await s.renewals.all()).get('r.example'), ok);

        assert.deepEqual(await s.renewals.attempts('r.example'), []);
        const a1 = await s.renewals.attemptStarted('r.example', '2030-01-01T00:00:00.000Z', 'due');
        const a2 = await s.renewals.attemptStarted('r.example', '2030-01-02T00:00:00.000Z', 'ari');
        await s.renewals.attemptStarted('other.example', '2030-01-02T00:00:00.000Z', 'due');
        assert.notEqual(a1, a2);
        await s.renewals.attemptFinished(a1, { at: '2030-01-01T00:01:00.000Z', outcome: 'failed', error: 'boom', orderUrl: 'https://acme.test/order/1' });
        assert.deepEqual(await s.renewals.attempts('r.example'), [
          { startedAt: '2030-01-02T00:00:00.000Z', finishedAt: null, outcome: null, reason: 'ari', error: null },
          { startedAt: '2030-01-01T00:00:00.000Z', finishedAt: '2030-01-01T00:01:00.000Z', outcome: 'failed', reason: 'due', error: 'boom' },
        ]);
        await s.renewals.attemptFinished(a2, { at: '2030-01-02T00:01:00.000Z', outcome: 'issued' });
        assert.deepEqual(await s.renewals.attempts('r.example', 1), [{ startedAt: '2030-01-02T00:00:00.000Z', finishedAt: '2030-01-02T00:01:00.000Z', outcome: 'issued', reason: 'ari', error: null }]);
      });

      it('deployments are per node: each node reads and writes its own rows; everywhere() lists every node\'s', async () => {
        const a = await open({ node: 'web-a' });
        const b = await open({ node: 'web-b' });
        assert.equal(a.node, 'web-a');
        const row: DeploymentRow = { lineage: 'n.example', snippetPath: '/etc/nginx/certs/n.conf', snippetSha256: 'ab'.repeat(32), fingerprint256: 'AA:BB', version: 3, deployedAt: '2030-01-01T00:00:00.000Z', verifiedAt: null, staleSince: null, staleDetail: null };
        await a.deployments.save(row);
        assert.deepEqual(await a.deployments.get('n.example'), row);
        assert.equal(await b.deployments.get('n.example'), null, 'web-b has not deployed it');
        assert.deepEqual(await b.deployments.all(), new Map());
        await b.deployments.save({ ...row, version: 2 });
        await b.deployments.markStale('n.example', '2030-01-02T00:00:00.000Z', 'old served');
        assert.equal((await a.deployments.get('n.example'))!.staleSince, null, 'a stale mark of web-b leaves web-a alone');
        await a.deployments.recordFailure({ lineage: 'n.example', version: 4, fingerprint256: null, code: 'reload', detail: 'reload failed', at: '2030-01-03T00:00:00.000Z' });
        assert.equal(await b.deployments.failure('n.example'), null);
        assert.equal((await a.deployments.failure('n.example'))!.failures, 1);
        assert.deepEqual((await b.deployments.everywhere()).map((d) => [d.node, d.version, d.staleSince]), [['web-a', 3, null], ['web-b', 2, '2030-01-02T00:00:00.000Z']]);
        assert.deepEqual((await b.deployments.failuresEverywhere()).map((f) => [f.node, f.version]), [['web-a', 4]]);
        await b.deployments.clearFailure('n.example');
        assert.equal((await a.deployments.failure('n.example'))!.failures, 1, 'web-b clears only its own');
      });

      it('deployments: saved and updated, verified, stale (first time kept), failures counted and cleared', async () => {
        const s = await open();
        assert.equal(await s.deployments.get('d.example'), null);
        assert.deepEqual(await s.deployments.all(), new Map());
        const row: DeploymentRow = { lineage: 'd.example', snippetPath: '/etc/nginx/certs/d.conf', snippetSha256: 'ab'.repeat(32), fingerprint256: 'AA:BB', version: 3, deployedAt: '2030-01-01T00:00:00.000Z', verifiedAt: null, staleSince: null, staleDetail: null };
        await s.deployments.save(row);
        assert.deepEqual(await s.deployments.get('d.example'), row);
        const monitored: DeploymentRow = { lineage: 'm.example', snippetPath: '/etc/nginx/m.conf', snippetSha256: 'cd'.repeat(32), fingerprint256: null, deployedAt: '2030-01-01T00:00:00.000Z', verifiedAt: null, staleSince: null, staleDetail: null };
        await s.deployments.save(monitored);
        assert.deepEqual(await s.deployments.get('m.example'), { ...monitored, version: null }, 'a version not given reads as null');

        await s.deployments.markStale('d.example', '2030-01-02T00:00:00.000Z', 'old certificate served');
        await s.deployments.markStale('d.example', '2030-01-03T00:00:00.000Z', 'still old');
        assert.deepEqual(await s.deployments.get('d.example'), { ...row, staleSince: '2030-01-02T00:00:00.000Z', staleDetail: 'still old' });
        await s.deployments.markVerified('d.example', '2030-01-04T00:00:00.000Z');
        assert.deepEqual(await s.deployments.get('d.example'), { ...row, verifiedAt: '2030-01-04T00:00:00.000Z' });
        const redeployed = { ...row, version: 4, fingerprint256: 'CC:DD', deployedAt: '2030-02-01T00:00:00.000Z' };
        await s.deployments.save(redeployed);
        assert.deepEqual(await s.deployments.all(), new Map<string, DeploymentRow>([['d.example', redeployed], ['m.example', { ...monitored, version: null }]]));

        assert.equal(await s.deployments.failure('d.example'), null);
        assert.deepEqual(await s.deployments.failures(), new Map());
        await s.deployments.recordFailure({ lineage: 'd.example', version: 5, fingerprint256: 'EE:FF', code: 'nginx-test', detail: 'emerg', at: '2030-03-01T00:00:00.000Z' });
        await s.deployments.recordFailure({ lineage: 'd.example', version: 6, fingerprint256: null, code: 'reload', detail: 'reload failed', at: '2030-03-02T00:00:00.000Z' });
        const failure = { lineage: 'd.example', version: 6, fingerprint256: null, code: 'reload', detail: 'reload failed', failures: 2, since: '2030-03-01T00:00:00.000Z', lastAt: '2030-03-02T00:00:00.000Z' };
        assert.deepEqual(await s.deployments.failure('d.example'), failure);
        assert.deepEqual(await s.deployments.failures(), new Map([['d.example', failure]]));
        await s.deployments.clearFailure('d.example');
        assert.equal(await s.deployments.failure('d.example'), null);
        assert.deepEqual(await s.deployments.failures(), new Map());
      });

      it('outbox claims: concurrent claimers each get different messages; a claim runs out; only the claimer reschedules', async () => {
        const a = await open({ node: 'web-a' });
        const b = await open({ node: 'web-b' });
        const at = '2030-01-01T00:00:00.000Z';
        const until = '2030-01-01T00:01:00.000Z';
        await a.notifications.commitRun({ at, markSent: [], activate: [], clear: [], messages: Array.from({ length: 60 }, (_, i) => message(`claim-${i}`, { createdAt: at, nextAttemptAt: at })) });
        // Both claim at once, in batches of 7, until nothing is left: every message exactly once.
        const got: Record<string, number[]> = { a: [], b: [] };
        await Promise.all([['a', a], ['b', b]].map(async ([name, s]) => {
          for (;;) {
            const rows = await (s as AsyncStore).notifications.claimDue((s as AsyncStore).node, at, until, 7);
            if (rows.length === 0) break;
            got[name as string]!.push(...rows.map((r) => r.id));
          }
        }));
        const all = [...got['a']!, ...got['b']!];
        assert.equal(all.length, 60, 'every message claimed');
        assert.equal(new Set(all).size, 60, 'none claimed twice');
        const one = got['a']![0] ?? got['b']![0]!;
        const holder = got['a']!.includes(one) ? a : b;
        const other = holder === a ? b : a;
        assert.equal(await holder.notifications.stillClaimed(one, holder.node, at), true);
        assert.equal(await other.notifications.stillClaimed(one, other.node, at), false);
        // The other node cannot reschedule it; the claim runs out at claim_until and is taken over.
        await other.notifications.markFailed(one, at, 'not mine', '2030-01-01T00:00:00.000Z', other.node);
        assert.equal((await a.notifications.list({ limit: 100 })).find((r) => r.id === one)!.attempts, 0);
        assert.deepEqual(await other.notifications.claimDue(other.node, '2030-01-01T00:00:59.999Z', '2030-01-01T00:02:00.000Z', 100), [], 'all claims still live');
        const taken = await other.notifications.claimDue(other.node, until, '2030-01-01T00:02:00.000Z', 100);
        assert.equal(taken.length, 60, 'claims run out at claim_until');
        assert.equal(await holder.notifications.stillClaimed(one, holder.node, until), false, 'the first claimer sees it lost');
        await other.notifications.markDelivered(one, until, '250 OK', other.node);
        assert.equal(await other.notifications.stillClaimed(one, other.node, until), false, 'delivered: nothing to send');
        assert.equal(await a.notifications.pendingCount(), 59);
      });

      it('commitRun under a fence: refused, writing nothing, once the notify lock was taken over', async () => {
        const clock = manualClock();
        const a = await open({ clock: clock.now });
        const b = await open({ clock: clock.now });
        const tokA = (await a.locks.tryAcquire('notify', 'a', 1000))!;
        clock.advance(1000);
        const tokB = (await b.locks.tryAcquire('notify', 'b', 1000))!;
        const run = { at: '2030-01-01T00:00:00.000Z', markSent: ['expiry:x:443:FP:30'], activate: [], clear: [], messages: [message('late')] };
        await assert.rejects(a.notifications.commitRun(run, { lock: 'notify', token: tokA }), (err) => err instanceof StoreError && err.code === 'fenced');
        assert.equal(await a.notifications.pendingCount(), 0);
        assert.deepEqual([...(await a.notifications.sentKeys())], []);
        assert.equal((await b.notifications.commitRun(run, { lock: 'notify', token: tokB })).length, 1);
      });

      it('scan batches: opened once, claimed once each by concurrent claimers, completed with the claim\'s token only', async () => {
        const a = await open({ node: 'web-a' });
        const b = await open({ node: 'web-b' });
        const t = 1_900_000_000_000;
        const plan = Array.from({ length: 30 }, (_, i) => ({ domains: [`b${String(i).padStart(2, '0')}.example`], endpoints: 1 }));
        const opened = await Promise.all([a.scanBatches.openCycle('run@x', plan, 'web-a', t), b.scanBatches.openCycle('run@x', plan, 'web-b', t)]);
        assert.equal(opened.filter(Boolean).length, 1, 'one node stores the batches');
        const done: Record<string, number[]> = { a: [], b: [] };
        await Promise.all([['a', a], ['b', b]].map(async ([name, s]) => {
          const store = s as AsyncStore;
          for (;;) {
            const c = await store.scanBatches.claim('run@x', store.node, 60_000, t);
            if (!c) break;
            assert.ok(await store.scanBatches.complete('run@x', c.batch, c.token, store.node, c.domains.map((d) => scanItem({ domain: d })), t + 1));
            done[name as string]!.push(c.batch);
          }
        }));
        const all = [...done['a']!, ...done['b']!].sort((x, y) => x - y);
        assert.deepEqual(all, plan.map((_, i) => i), 'every batch exactly once');
        assert.deepEqual(await a.scanBatches.progress('run@x', t + 2), { batches: 30, done: 30, claimed: 0, scanned: 30 });
        assert.equal((await a.scans.latest()).length, 30, 'one scan per endpoint');
      });

      it('scan batches: a claim that ran out is taken over; the first claimer\'s late completion records nothing', async () => {
        const a = await open({ node: 'web-a' });
        const b = await open({ node: 'web-b' });
        const t = 1_900_000_000_000;
        await a.scanBatches.openCycle('run@y', [{ domains: ['late.example'], endpoints: 1 }], 'web-a', t);
        const first = (await a.scanBatches.claim('run@y', 'web-a', 1000, t))!;
        assert.equal(await b.scanBatches.claim('run@y', 'web-b', 1000, t + 999), null, 'the claim is live');
        assert.equal(await a.scanBatches.extend('run@y', first.batch, first.token, 1000, t + 500), true, 'extended to t + 1500');
        assert.equal(await b.scanBatches.claim('run@y', 'web-b', 1000, t + 1499), null);
        const second = (await b.scanBatches.claim('run@y', 'web-b', 1000, t + 1500))!;
        assert.equal(second.token, first.token + 1);
        assert.equal(await a.scanBatches.extend('run@y', first.batch, first.token, 1000, t + 1600), false, 'the old claim cannot extend');
        assert.equal(await a.scanBatches.complete('run@y', first.batch, first.token, 'web-a', [scanItem({ domain: 'late.example' })], t + 1700), false);
        assert.deepEqual(await a.scans.latest(), [], 'nothing recorded for the lost claim');
        assert.equal(await b.scanBatches.complete('run@y', second.batch, second.token, 'web-b', [scanItem({ domain: 'late.example' })], t + 1800), true);
        assert.equal(await b.scanBatches.complete('run@y', second.batch, second.token, 'web-b', [scanItem({ domain: 'late.example' })], t + 1900), false, 'done once');
        assert.equal((await a.scans.latest()).length, 1);
        assert.equal(await a.scanBatches.pruneBefore(t + 1), 1);
        assert.deepEqual(await a.scanBatches.progress('run@y', t), { batches: 0, done: 0, claimed: 0, scanned: 0 });
      });

      it('nodes: a heartbeat upserts; one without a run keeps the last run; listed by name, bytewise', async () => {
        const s = await open();
        assert.deepEqual(await s.nodes.list(), []);
        const b = { name: 'b-node', version: '0.1.0', startedAt: '2030-01-01T00:00:00.000Z', lastSeenAt: '2030-01-01T00:00:01.000Z', cycleMs: 43_200_000, lastRun: { startedAt: '2030-01-01T00:00:01.000Z', finishedAt: null, outcome: null } };
        await s.nodes.heartbeat(b);
        await s.nodes.heartbeat({ name: 'B-node', version: '0.2.0', startedAt: '2030-01-01T00:00:00.000Z', lastSeenAt: '2030-01-01T00:00:02.000Z', cycleMs: null, lastRun: null });
        assert.deepEqual((await s.nodes.list()).map((n) => n.name), ['B-node', 'b-node'], 'bytewise: upper case first');
        const finished = { ...b, lastSeenAt: '2030-01-01T00:05:00.000Z', lastRun: { startedAt: b.lastRun.startedAt, finishedAt: '2030-01-01T00:05:00.000Z', outcome: 'ok' } };
        await s.nodes.heartbeat(finished);
        await s.nodes.heartbeat({ ...b, lastSeenAt: '2030-01-01T00:06:00.000Z', cycleMs: null, lastRun: null });
        const got = (await s.nodes.list()).find((n) => n.name === 'b-node');
        assert.deepEqual(got, { ...finished, lastSeenAt: '2030-01-01T00:06:00.000Z' }, 'a beat without a run or cycle keeps both');
        assert.deepEqual((await s.nodes.list()).find((n) => n.name === 'B-node'), { name: 'B-node', version: '0.2.0', startedAt: '2030-01-01T00:00:00.000Z', lastSeenAt: '2030-01-01T00:00:02.000Z', cycleMs: null, lastRun: null });
      });

      it('notifications: commitRun records a run; a key is queued once; due, list, pending, delivered, failed', async () => {
        const s = await open();
        assert.deepEqual(await s.notifications.sentKeys(), new Set());
        assert.deepEqual(await s.notifications.active(), []);
        assert.equal(await s.notifications.meta('digest'), null);
        assert.equal(await s.notifications.pendingCount(), 0);
        assert.deepEqual(await s.notifications.list(), []);

        const m1 = message('k1', { nextAttemptAt: '2030-01-01T00:00:00.000Z' });
        const m2 = webhook('k2', { nextAttemptAt: '2030-01-03T00:00:00.000Z' });
        const m3 = message('k3', { nextAttemptAt: '2030-01-02T00:00:00.000Z', html: null });
        const ids = await s.notifications.commitRun({
          at: '2030-01-01T00:00:00.000Z',
          markSent: ['expiry:a:30', 'expiry:b:30'],
          activate: [active('a.example:443', 'expired'), active('b.example:443', 'weak-key')],
          clear: [],
          messages: [m1, m2, m3],
          meta: { digest: '2030-01-01', other: 'x' },
        });
        assert.equal(ids.length, 3);
        assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ids in the order queued: ${ids.join(', ')}`);
        assert.deepEqual(await s.notifications.sentKeys(), new Set(['expiry:a:30', 'expiry:b:30']));
        const activeRows = await s.notifications.active();
        assert.deepEqual([...activeRows].sort((x, y) => x.endpointKey.localeCompare(y.endpointKey)), [active('a.example:443', 'expired'), active('b.example:443', 'weak-key')]);
        assert.equal(await s.notifications.meta('digest'), '2030-01-01');

        const stored = (m: NewOutboxMessage, id: number) => {
          const { nextAttemptAt, ...rest } = m;
          return { ...rest, id, attempts: 0, nextAttemptAt, lastAttemptAt: null, lastError: null, deliveredAt: null, response: null };
        };
        assert.deepEqual(await s.notifications.list(), [stored(m3, ids[2]!), stored(m2, ids[1]!), stored(m1, ids[0]!)], 'newest first');
        assert.deepEqual(await s.notifications.due('2030-01-02T00:00:00.000Z'), [stored(m1, ids[0]!), stored(m3, ids[2]!)], 'due at that time, oldest first');
        assert.deepEqual((await s.notifications.due('2030-12-31T00:00:00.000Z', 2)).map((r) => r.id), [ids[0], ids[1]]);
        assert.deepEqual(await s.notifications.due('2029-12-31T00:00:00.000Z'), []);
        assert.equal(await s.notifications.pendingCount(), 3);

        // A second run: one key again (not queued twice), one new; state cleared and kept; meta overwritten.
        const again = await s.notifications.commitRun({
          at: '2030-01-02T00:00:00.000Z',
          markSent: ['expiry:a:30', 'expiry:c:30'],
          activate: [{ ...active('a.example:443', 'expired'), message: 'changed' }],
          clear: [{ endpointKey: 'b.example:443', code: 'weak-key' }, { endpointKey: 'z.example:443', code: 'none' }],
          messages: [message('k1', { subject: 'different' }), message('k4')],
          meta: { digest: '2030-01-02' },
        });
        assert.equal(again.length, 1);
        assert.ok(again[0]! > ids[2]!);
        assert.deepEqual(await s.notifications.sentKeys(), new Set(['expiry:a:30', 'expiry:b:30', 'expiry:c:30']));
        assert.deepEqual(await s.notifications.active(), [active('a.example:443', 'expired')], 'an active problem keeps its first row');
        assert.equal(await s.notifications.meta('digest'), '2030-01-02');
        assert.equal(await s.notifications.meta('other'), 'x');
        assert.equal((await s.notifications.list()).find((r) => r.key === 'k1')!.subject, 'subject of k1');

        await s.notifications.markFailed(ids[0]!, '2030-01-02T00:00:00.000Z', 'SMTP 451', '2030-01-05T00:00:00.000Z');
        await s.notifications.markDelivered(ids[2]!, '2030-01-02T00:00:01.000Z', '250 OK');
        await s.notifications.markFailed(ids[2]!, '2030-01-02T00:00:02.000Z', 'late failure', '2030-01-09T00:00:00.000Z');
        await s.notifications.markDelivered(ids[2]!, '2030-01-02T00:00:03.000Z', 'again');
        const list = await s.notifications.list();
        assert.deepEqual(list.find((r) => r.id === ids[0]), { ...stored(m1, ids[0]!), attempts: 1, lastAttemptAt: '2030-01-02T00:00:00.000Z', lastError: 'SMTP 451', nextAttemptAt: '2030-01-05T00:00:00.000Z' });
        assert.deepEqual(list.find((r) => r.id === ids[2]), { ...stored(m3, ids[2]!), attempts: 1, lastAttemptAt: '2030-01-02T00:00:01.000Z', deliveredAt: '2030-01-02T00:00:01.000Z', response: '250 OK' }, 'a delivered message is not changed again');
        assert.equal(await s.notifications.pendingCount(), 3);
        assert.deepEqual((await s.notifications.list({ pending: true })).map((r) => r.id), [again[0], ids[1], ids[0]]);
        assert.deepEqual((await s.notifications.list({ limit: 2 })).map((r) => r.id), [again[0], ids[2]]);
        assert.deepEqual((await s.notifications.due('2030-01-04T00:00:00.000Z')).map((r) => r.id), [ids[1], again[0]], 'failed one waits, delivered one is not due');
        assert.deepEqual(await s.notifications.commitRun(emptyRun), []);
      });

      it('notifications: a channel message keeps its target through due, claim and list; legacy ones have none', async () => {
        const s = await open();
        const at = '2030-01-01T00:00:00.000Z';
        const ids = await s.notifications.commitRun({ ...emptyRun, at, messages: [webhook('t-legacy'), webhook('t-ntfy', { target: 'ops-ntfy' }), webhook('t-pd', { target: 'pager' })] });
        assert.equal(ids.length, 3);
        const due = await s.notifications.due(at);
        assert.deepEqual(due.map((m) => [m.key, m.target]), [['t-legacy', undefined], ['t-ntfy', 'ops-ntfy'], ['t-pd', 'pager']]);
        assert.ok(!('target' in due[0]!), 'a legacy message has no target key at all');
        const claimed = await s.notifications.claimDue('n1', at, '2030-01-01T00:05:00.000Z');
        assert.deepEqual(claimed.map((m) => m.target ?? null), [null, 'ops-ntfy', 'pager']);
        assert.deepEqual((await s.notifications.list()).map((m) => m.target ?? null), ['pager', 'ops-ntfy', null]);
      });

      it('notifications: certificates seen are recorded with a run (fingerprint and validity), replaced per endpoint, and kept when a run names none', async () => {
        const s = await open();
        assert.deepEqual(await s.notifications.seen(), new Map());
        const nb = '2029-12-01T00:00:00.000Z';
        const na = '2030-03-01T00:00:00.000Z';
        await s.notifications.commitRun({ ...emptyRun, at: '2030-01-01T00:00:00.000Z', seen: [{ endpointKey: 'a:443', fingerprint256: 'AA', notBefore: nb, notAfter: na }, { endpointKey: 'b:443', fingerprint256: 'BB' }] });
        assert.deepEqual(await s.notifications.seen(), new Map([['a:443', { fingerprint256: 'AA', notBefore: nb, notAfter: na }], ['b:443', { fingerprint256: 'BB', notBefore: null, notAfter: null }]]));
        await s.notifications.commitRun({ ...emptyRun, at: '2030-01-02T00:00:00.000Z', seen: [{ endpointKey: 'a:443', fingerprint256: 'A1' }, { endpointKey: 'a:443', fingerprint256: 'A2', notBefore: na, notAfter: nb }] });
        assert.deepEqual((await s.notifications.seen()).get('a:443'), { fingerprint256: 'A2', notBefore: na, notAfter: nb }, 'the last of two rows for one endpoint wins');
        await s.notifications.commitRun(emptyRun);
        assert.equal((await s.notifications.seen()).size, 2);
      });

      it('notifications: list gives 50 by default, due 100', async () => {
        const s = await open();
        const messages = Array.from({ length: 120 }, (_, i) => message(`bulk-${String(i).padStart(3, '0')}`));
        const ids = await s.notifications.commitRun({ ...emptyRun, messages });
        assert.equal(ids.length, 120);
        assert.equal((await s.notifications.list()).length, 50);
        assert.equal((await s.notifications.list())[0]!.key, 'bulk-119');
        assert.equal((await s.notifications.due('2030-01-01T00:00:00.000Z')).length, 100);
        assert.equal((await s.notifications.due('2030-01-01T00:00:00.000Z'))[0]!.key, 'bulk-000');
        assert.equal(await s.notifications.pendingCount(), 120);
      });

      it('meta: null, set, overwrite, getOrSet keeps what is there', async () => {
        const s = await open();
        assert.equal(await s.meta.get('minute'), null);
        assert.equal(await s.meta.getOrSet('minute', '17'), '17');
        assert.equal(await s.meta.getOrSet('minute', '42'), '17');
        await s.meta.set('minute', '42');
        assert.equal(await s.meta.get('minute'), '42');
        await s.meta.set('json', '{"a": [1, 2], "ü": "😀"}');
        assert.equal(await s.meta.get('json'), '{"a": [1, 2], "ü": "😀"}');
        assert.equal(await s.meta.get('Minute'), null, 'keys are exact');
      });

      it('runs: started, finished, latestFinished, newest first with a limit; an unknown run cannot finish', async () => {
        const s = await open();
        assert.equal(await s.runs.latestFinished(), null);
        assert.deepEqual(await s.runs.list(), []);
        const r1 = await s.runs.start('2030-01-01T00:00:00.000Z');
        const r2 = await s.runs.start('2030-01-01T01:00:00.000Z');
        const r3 = await s.runs.start('2030-01-01T02:00:00.000Z');
        assert.ok(r1 < r2 && r2 < r3);
        assert.equal(await s.runs.latestFinished(), null, 'none finished yet');
        const summary = { renewed: ['a.example'], deployed: [], failed: ['b.example'], notified: 2 };
        await s.runs.finish(r1, { finishedAt: '2030-01-01T00:05:00.000Z', outcome: 'warning', exitCode: 1, summary });
        await s.runs.finish(r2, { finishedAt: '2030-01-01T01:05:00.000Z', outcome: 'error', exitCode: null, summary: { renewed: [], deployed: [], failed: [], notified: 0 } });
        const row1 = { id: r1, startedAt: '2030-01-01T00:00:00.000Z', finishedAt: '2030-01-01T00:05:00.000Z', outcome: 'warning', exitCode: 1, summary };
        const row2 = { id: r2, startedAt: '2030-01-01T01:00:00.000Z', finishedAt: '2030-01-01T01:05:00.000Z', outcome: 'error', exitCode: null, summary: { renewed: [], deployed: [], failed: [], notified: 0 } };
        const row3 = { id: r3, startedAt: '2030-01-01T02:00:00.000Z', finishedAt: null, outcome: null, exitCode: null, summary: null };
        assert.deepEqual(await s.runs.latestFinished(), row2);
        assert.deepEqual(await s.runs.list(), [row3, row2, row1]);
        assert.deepEqual(await s.runs.list(2), [row3, row2]);
        const err = await rejectsWith(s.runs.finish(r3 + 100, { finishedAt: '2030-01-01T03:00:00.000Z', outcome: 'ok', exitCode: 0, summary }), 'finishing an unknown run');
        assert.ok(err instanceof StoreError && err.code === 'invalid-argument', String(err));
        assert.deepEqual(await s.runs.list(), [row3, row2, row1], 'nothing written');
      });
    });

    describe('views and maintenance', () => {
      it('stored endpoints by key and by id, lean rows of the latest scans, certificates\' notBefore', async () => {
        const s = await open();
        const items = [
          scanItem({ domain: 'v.example' }, { problems: [{ code: 'expiring-soon', severity: 'warning', message: 'soon', hint: 'renew' }] }),
          scanItem({ domain: 'v.example', address: '192.0.2.5' }, { scannedAt: '2030-06-02T00:00:00.000Z' }),
        ];
        const fileReport: EndpointReport = { ...reportFor({ domain: 'f.example', port: 0, source: 'file' }, []), file: '/etc/ssl/f.pem' };
        await s.scans.recordMany([...items, { report: fileReport, chainDer: [] }]);
        const endpoints = await s.views.storedEndpoints();
        assert.deepEqual([...endpoints.keys()].sort(), ['file|f.example|f.example|0|', 'tls|v.example|v.example|443|', 'tls|v.example|v.example|443|192.0.2.5']);
        const plain = endpoints.get('tls|v.example|v.example|443|')!;
        assert.deepEqual(plain, { id: plain.id, domain: 'v.example', host: 'v.example', port: 443, source: 'tls' }, 'no address key without one');
        const withAddress = endpoints.get('tls|v.example|v.example|443|192.0.2.5')!;
        assert.equal(withAddress.address, '192.0.2.5');
        assert.deepEqual(await s.views.storedEndpoint(withAddress.id), withAddress);
        assert.equal(await s.views.storedEndpoint(Math.max(...[...endpoints.values()].map((e) => e.id)) + 1000), null);
        const rows = parseStatusRows(await s.scans.statusText([target('v.example')]));
        assert.deepEqual(rows.map((r) => r.id).sort(), [plain.id, withAddress.id].sort(), 'the same ids as statusRows');

        const lean = await s.views.leanScanRows();
        assert.equal(lean.length, 3);
        const leanPlain = lean.find((r) => r.id === plain.id)!;
        const report = items[0]!.report;
        assert.equal(leanPlain.domain, 'v.example');
        assert.equal(leanPlain.scannedAt, report.scannedAt);
        assert.equal(leanPlain.status, report.status);
        assert.equal(leanPlain.daysLeft, report.daysLeft);
        assert.equal(leanPlain.notAfter, report.notAfter);
        assert.equal(leanPlain.fingerprint256, report.fingerprint256);
        assert.equal(leanPlain.issuer, report.issuer);
        assert.equal(leanPlain.subject, report.subject);
        assert.deepEqual(leanPlain.problems.map((p) => [p.code, p.severity]), [['expiring-soon', 'warning']]);
        assert.equal(lean.find((r) => r.id === withAddress.id)!.scannedAt, '2030-06-02T00:00:00.000Z');
        assert.equal(lean.find((r) => r.source === 'file')!.file, '/etc/ssl/f.pem');

        const leafFp = report.fingerprint256!;
        assert.deepEqual(await s.views.certificateNotBefore([leafFp, 'AA:BB', inter.info.fingerprint256]), new Map([[leafFp, '2025-01-01T00:00:00.000Z'], [inter.info.fingerprint256, '2025-01-01T00:00:00.000Z']]));
        assert.deepEqual(await s.views.certificateNotBefore([]), new Map());
      });

      it('outboxMentioning: webhook payloads naming the endpoint and emails whose text does, newest first', async () => {
        const s = await open();
        await s.notifications.commitRun({
          ...emptyRun,
          messages: [
            webhook('w1', { payload: { events: [{ endpoint: 'x.example:443', code: 'expired' }] } }),
            message('e1', { text: 'x.example:443 expires soon' }),
            webhook('w2', { payload: { events: [{ endpoint: 'y.example:443' }] }, text: 'x.example:443 in the text only' }),
            message('e2', { text: 'nothing here' }),
            webhook('w3', { payload: { events: [{ endpoint: 'x.example:443', code: 'weak-key' }] } }),
          ],
        });
        const found = await s.views.outboxMentioning('x.example:443');
        assert.deepEqual(found.map((m) => m.subject), ['subject of w3', 'subject of e1', 'subject of w1']);
        assert.deepEqual(found[0], { createdAt: '2030-01-01T00:00:00.000Z', channel: 'webhook', subject: 'subject of w3', text: 'text of w3\nsecond line ünïcödé', payload: { events: [{ endpoint: 'x.example:443', code: 'weak-key' }] }, attempts: 0, lastError: null, deliveredAt: null });
        assert.deepEqual((await s.views.outboxMentioning('x.example:443', 1)).map((m) => m.subject), ['subject of w3']);
        assert.deepEqual(await s.views.outboxMentioning('z.example:443'), []);
      });

      it('pruneRuns deletes runs started before the cutoff, except the newest finished one', async () => {
        const s = await open();
        const ids: number[] = [];
        for (let day = 1; day <= 4; day++) ids.push(await s.runs.start(`2030-01-0${day}T00:00:00.000Z`));
        const summary = { renewed: [], deployed: [], failed: [], notified: 0 };
        await s.runs.finish(ids[0]!, { finishedAt: '2030-01-01T00:01:00.000Z', outcome: 'ok', exitCode: 0, summary });
        await s.runs.finish(ids[1]!, { finishedAt: '2030-01-02T00:01:00.000Z', outcome: 'ok', exitCode: 0, summary });
        // Run 3 never finished (killed); run 4 is after the cutoff.
        assert.equal(await s.maintenance.pruneRuns(new Date('2030-01-03T12:00:00.000Z')), 2);
        assert.deepEqual((await s.runs.list()).map((r) => r.id), [ids[3], ids[1]]);
        assert.equal(await s.maintenance.pruneRuns(new Date('2030-01-03T12:00:00.000Z')), 0);
        await assert.rejects(s.maintenance.pruneRuns(new Date('nonsense')), (err) => err instanceof StoreError && err.code === 'invalid-argument');
      });
    });

    describe('locks', () => {
      it('tryAcquire, heartbeat, release and holder under an injected clock; each acquisition a new token', async () => {
        const clock = manualClock();
        const t0 = clock.now();
        const s = await open({ clock: clock.now });
        assert.equal(await s.locks.holder('renew'), null);
        assert.equal(await s.locks.tryAcquire('renew', 'node-a', 60_000), 1);
        assert.deepEqual(await s.locks.holder('renew'), { owner: 'node-a', acquiredAt: t0, expiresAt: t0 + 60_000, token: 1 });
        assert.equal(await s.locks.tryAcquire('renew', 'node-b', 60_000), null, 'held by another');
        assert.equal(await s.locks.tryAcquire('other', 'node-b', 60_000), 1, 'locks are by name, tokens too');
        clock.advance(10_000);
        assert.equal(await s.locks.tryAcquire('renew', 'node-a', 60_000), 2, 'the holder may take it again, with a new token');
        assert.deepEqual(await s.locks.holder('renew'), { owner: 'node-a', acquiredAt: t0 + 10_000, expiresAt: t0 + 70_000, token: 2 });
        clock.advance(10_000);
        assert.equal(await s.locks.heartbeat('renew', 'node-a', 60_000, 1), false, 'a beat with the old token does not extend');
        assert.equal(await s.locks.heartbeat('renew', 'node-a', 60_000, 2), true);
        assert.deepEqual(await s.locks.holder('renew'), { owner: 'node-a', acquiredAt: t0 + 10_000, expiresAt: t0 + 80_000, token: 2 });
        assert.equal(await s.locks.heartbeat('renew', 'node-b', 60_000), false, 'only the holder extends');
        await s.locks.release('renew', 'node-b');
        assert.equal((await s.locks.holder('renew'))!.owner, 'node-a', 'only the holder releases');
        await s.locks.release('renew', 'node-a', 2);
        assert.equal(await s.locks.holder('renew'), null);
        assert.equal(await s.locks.heartbeat('renew', 'node-a', 60_000, 2), false, 'a released lock cannot be extended');
        assert.equal(await s.locks.tryAcquire('renew', 'node-b', 60_000), 3, 'the token never goes back after a release');
      });

      it('a lease that ran out belongs to nobody: seen from another connection, taken by another owner with a newer token', async () => {
        const clock = manualClock();
        const t0 = clock.now();
        const a = await open({ clock: clock.now });
        const b = await open({ clock: clock.now });
        assert.equal(await a.locks.tryAcquire('run', 'a', 1000), 1);
        assert.equal(await b.locks.tryAcquire('run', 'b', 1000), null);
        assert.deepEqual(await b.locks.holder('run'), { owner: 'a', acquiredAt: t0, expiresAt: t0 + 1000, token: 1 });
        clock.advance(999);
        assert.equal(await b.locks.tryAcquire('run', 'b', 1000), null, 'one millisecond left');
        clock.advance(1);
        assert.equal(await b.locks.holder('run'), null, 'expired at expiresAt');
        assert.equal(await a.locks.holder('run'), null);
        assert.equal(await b.locks.tryAcquire('run', 'b', 1000), 2);
        assert.deepEqual(await a.locks.holder('run'), { owner: 'b', acquiredAt: t0 + 1000, expiresAt: t0 + 2000, token: 2 });
        assert.equal(await a.locks.heartbeat('run', 'a', 1000, 1), false, 'the lease was lost');
        await a.locks.release('run', 'a', 1);
        assert.equal((await b.locks.holder('run'))!.owner, 'b', 'the old holder cannot release the new lease');
      });

      it('fencing: a write under a lease taken over since is refused and writes nothing; the current token writes', async () => {
        const clock = manualClock();
        const a = await open({ clock: clock.now });
        const b = await open({ clock: clock.now });
        const lock = 'cert:f.example';
        const tokA = (await a.locks.tryAcquire(lock, 'a', 1000))!;
        // A pauses past its lease; B takes the certificate over and records version 1.
        clock.advance(1000);
        const tokB = (await b.locks.tryAcquire(lock, 'b', 1000))!;
        assert.equal(tokB, tokA + 1);
        await b.issued.record(issuedCert('f.example', 1), { lock, token: tokB });
        await b.renewals.recordSuccess('f.example', '2030-01-01T00:00:01.000Z', { lock, token: tokB });
        // A wakes up and tries to record what it ordered: every fenced write is refused.
        const fenced = (err: unknown) => err instanceof StoreError && err.code === 'fenced' && err.message.includes(`token ${tokB}, ours ${tokA}`);
        await assert.rejects(a.issued.record(issuedCert('f.example', 2), { lock, token: tokA }), fenced);
        // SQLite keeps versions' files in the archive (putPems does nothing); PostgreSQL refuses them.
        if (a.engine === 'postgres') await assert.rejects(a.issued.putPems('f.example', 2, { cert: 'C', chain: '', fullchain: 'C', privkey: 'K' }, { lock, token: tokA }), fenced);
        await assert.rejects(a.renewals.recordFailure('f.example', { at: '2030-01-01T00:00:02.000Z', error: 'late', code: 'acme-ca', nextAttemptAt: '2030-01-02T00:00:00.000Z' }, { lock, token: tokA }), fenced);
        await assert.rejects(a.renewals.recordSuccess('f.example', '2030-01-01T00:00:02.000Z', { lock, token: tokA }), fenced);
        assert.deepEqual((await a.issued.list('f.example')).map((c) => c.version), [1], 'only B\'s version');
        assert.equal(await a.issued.pems('f.example', 2), null);
        const state = await a.renewals.get('f.example');
        assert.equal(state?.failures, 0);
        assert.equal(state?.lastSuccessAt, '2030-01-01T00:00:01.000Z');
        // A lease that ran out with nobody taking it over still writes: no newer token exists.
        clock.advance(5000);
        await b.issued.record(issuedCert('f.example', 2), { lock, token: tokB });
        assert.equal(await a.issued.maxVersion('f.example'), 2);
        // A lock never taken refuses a fence too.
        await assert.rejects(a.issued.record(issuedCert('g.example', 1), { lock: 'cert:g.example', token: 1 }), (err) => err instanceof StoreError && err.code === 'fenced');
      });
    });

    describe('snapshot', () => {
      it('sees one state while another connection writes, and the new state after', async () => {
        const a = await open();
        const b = await open();
        await a.meta.set('k', 'before');
        await a.runs.start('2030-01-01T00:00:00.000Z');
        const seen = await a.snapshot(async (tx) => {
          const first = [await tx.meta.get('k'), (await tx.runs.list()).length];
          await b.meta.set('k', 'after');
          await b.runs.start('2030-01-01T01:00:00.000Z');
          assert.equal(await b.meta.get('k'), 'after', 'the write is committed');
          const second = [await tx.meta.get('k'), (await tx.runs.list()).length];
          return { first, second };
        });
        assert.deepEqual(seen, { first: ['before', 1], second: ['before', 1] });
        assert.equal(await a.meta.get('k'), 'after');
        assert.equal((await a.runs.list()).length, 2);
      });

      it('a write through the same store during a snapshot is not seen by it; a failing read rejects with its own error and leaves the store usable', async () => {
        const a = await open();
        await a.meta.set('k', '1');
        let write: Promise<void> | undefined;
        const inside = await a.snapshot(async (tx) => {
          write = a.meta.set('k', '2');
          const got: Array<string | null> = [];
          for (let i = 0; i < 5; i++) got.push(await tx.meta.get('k'));
          return got;
        });
        await write;
        assert.deepEqual(inside, ['1', '1', '1', '1', '1']);
        assert.equal(await a.meta.get('k'), '2');

        const boom = new Error('read failed');
        await assert.rejects(a.snapshot(async (tx) => {
          await tx.meta.get('k');
          throw boom;
        }), (err) => err === boom);
        await a.meta.set('k', '3');
        assert.equal(await a.meta.get('k'), '3');
        assert.equal(await a.snapshot(async (tx) => tx.meta.get('k')), '3');
      });
    });

    describe('two connections writing at once', () => {
      const ROUNDS = 50;

      it('recordMany: 2×50 in parallel, nothing lost', async () => {
        const a = await open();
        const b = await open();
        // A shared intermediate and root in every item: both writers store the same certificates.
        const calls = [a, b].flatMap((s, w) => Array.from({ length: ROUNDS }, (_, i) =>
          s.scans.recordMany([scanItem({ domain: `w${w}-${i}.example` }), scanItem({ domain: `shared-${i}.example`, address: `192.0.2.${w + 1}` })])));
        const ids = (await Promise.all(calls)).flat();
        assert.equal(ids.length, 4 * ROUNDS);
        assert.equal(new Set(ids).size, 4 * ROUNDS, 'distinct scan ids');
        const latest = await a.scans.latest({ withChain: true });
        assert.equal(latest.length, 4 * ROUNDS);
        assert.deepEqual(latest.filter((r) => r.domain === 'shared-7.example').map((r) => r.address), ['192.0.2.1', '192.0.2.2']);
        assert.ok(latest.every((r) => r.chain!.length === 3 && r.chain![1]!.fingerprint256 === inter.info.fingerprint256), 'every chain whole');
        assert.deepEqual(await b.scans.latest({ withChain: true }), latest);
      });

      it('the same endpoint from both: one endpoint, every scan in its history, the newest is latest', async () => {
        const a = await open();
        const b = await open();
        const at = (i: number) => new Date(Date.UTC(2030, 0, 1) + i * 60_000).toISOString();
        const calls = [a, b].flatMap((s, w) => Array.from({ length: ROUNDS }, (_, i) =>
          s.scans.recordMany([scanItem({ domain: 'same.example' }, { scannedAt: at(2 * i + w) })])));
        await Promise.all(calls);
        const latest = await a.scans.latest();
        assert.equal(latest.length, 1);
        assert.equal(latest[0]!.scannedAt, at(2 * ROUNDS - 1));
        const hist = await b.scans.history({ domain: 'same.example', host: 'same.example', port: 443 }, 1000);
        assert.equal(hist.length, 2 * ROUNDS);
        assert.deepEqual(hist.map((r) => r.scannedAt), Array.from({ length: 2 * ROUNDS }, (_, i) => at(2 * ROUNDS - 1 - i)));
      });

      it('commitRun: 2×50 in parallel, every message queued once, a shared key exactly once', async () => {
        const a = await open();
        const b = await open();
        const calls = [a, b].flatMap((s, w) => Array.from({ length: ROUNDS }, (_, i) => s.notifications.commitRun({
          at: '2030-01-01T00:00:00.000Z',
          markSent: [`sent-${w}-${i}`, 'sent-shared'],
          activate: [active(`w${w}-${i}.example:443`, 'expired')],
          clear: [],
          messages: [message(`m-${w}-${i}`), message(`shared-${i}`)],
          meta: { [`w${w}`]: String(i) },
        })));
        const results = await Promise.all(calls);
        const ids = results.flat();
        assert.equal(ids.length, 3 * ROUNDS, 'each own message once, each shared key once');
        assert.equal(new Set(ids).size, ids.length);
        for (let i = 0; i < ROUNDS; i++) {
          const queuedShared = results[i]!.length + results[ROUNDS + i]!.length;
          assert.equal(queuedShared, 3, `round ${i}: one of the two queued shared-${i}`);
        }
        assert.equal(await a.notifications.pendingCount(), 3 * ROUNDS);
        const keys = (await b.notifications.list({ limit: 1000 })).map((r) => r.key);
        assert.equal(keys.length, 3 * ROUNDS);
        assert.equal(new Set(keys).size, 3 * ROUNDS);
        assert.equal((await a.notifications.sentKeys()).size, 2 * ROUNDS + 1);
        assert.equal((await a.notifications.active()).length, 2 * ROUNDS);
        // Calls made at once commit in no promised order (a pool runs them side by side): one of them won.
        const rounds = new Set(Array.from({ length: ROUNDS }, (_, i) => String(i)));
        assert.ok(rounds.has((await a.notifications.meta('w0'))!), 'meta w0 is one run\'s');
        assert.ok(rounds.has((await b.notifications.meta('w1'))!), 'meta w1 is one run\'s');
      });

      it('tryAcquire: both ask each round, exactly one wins, and holder names it', async () => {
        const clock = manualClock();
        const a = await open({ clock: clock.now });
        const b = await open({ clock: clock.now });
        for (let i = 0; i < ROUNDS; i++) {
          const [wa, wb] = await Promise.all([a.locks.tryAcquire(`round-${i}`, 'a', 60_000), b.locks.tryAcquire(`round-${i}`, 'b', 60_000)]);
          assert.equal(Number(wa !== null) + Number(wb !== null), 1, `round ${i}: a ${wa}, b ${wb}`);
          assert.equal(wa ?? wb, 1, 'the first lease of a lock has token 1');
          assert.equal((await b.locks.holder(`round-${i}`))!.owner, wa !== null ? 'a' : 'b');
        }
        // One name, asked for 2×50 times at once: one winner, all others refused.
        const asks = await Promise.all([a, b].flatMap((s, w) => Array.from({ length: ROUNDS }, (_, i) => s.locks.tryAcquire('contended', `owner-${w}-${i}`, 60_000))));
        assert.equal(asks.filter((t) => t !== null).length, 1);
        const winner = asks.findIndex((t) => t !== null);
        assert.equal((await a.locks.holder('contended'))!.owner, `owner-${Math.floor(winner / ROUNDS)}-${winner % ROUNDS}`);
      });

      it('counters and ids: failures counted and runs started from both, none lost', async () => {
        const a = await open();
        const b = await open();
        const at = '2030-01-01T00:00:00.000Z';
        const work = [a, b].flatMap((s) => Array.from({ length: ROUNDS }, () => Promise.all([
          s.renewals.recordFailure('busy.example', { at, error: 'e', code: 'acme', nextAttemptAt: at }),
          s.deployments.recordFailure({ lineage: 'busy.example', version: 1, fingerprint256: null, code: 'reload', detail: 'd', at }),
          s.runs.start(at),
        ])));
        const runIds = (await Promise.all(work)).map((r) => r[2]);
        assert.equal(new Set(runIds).size, 2 * ROUNDS);
        assert.equal((await a.renewals.get('busy.example'))!.failures, 2 * ROUNDS);
        assert.equal((await b.deployments.failure('busy.example'))!.failures, 2 * ROUNDS);
        assert.equal((await a.runs.list(1000)).length, 2 * ROUNDS);
      });
    });

    describe('a failed write leaves nothing', () => {
      it('recordMany with one invalid item: nothing recorded, and the store records afterwards', async () => {
        const s = await open();
        const good = Array.from({ length: 20 }, (_, i) => scanItem({ domain: `good-${i}.example` }));
        const badTime = scanItem({ domain: 'bad-time.example' }, { scannedAt: 'yesterday-ish' });
        const err = await rejectsWith(s.scans.recordMany([...good, badTime]), 'a scan with an invalid time');
        assert.ok(err instanceof StoreError && err.code === 'invalid-argument', String(err));
        assert.deepEqual(await s.scans.latest(), []);

        // Refused by the database itself (status must be one of four), after the others were written.
        const badStatus = scanItem({ domain: 'bad-status.example' });
        (badStatus.report as { status: string }).status = 'splendid';
        const err2 = await rejectsWith(s.scans.recordMany([...good, badStatus]), 'a scan with an invalid status');
        assert.ok(err2 instanceof StoreError, String(err2));
        assert.deepEqual(await s.scans.latest(), []);
        assert.deepEqual(await s.scans.history({ domain: 'good-0.example', host: 'good-0.example', port: 443 }), []);
        assert.equal(await s.scans.statusText([target('good-0.example')]), null);

        const ids = await s.scans.recordMany(good);
        assert.equal(ids.length, 20);
        assert.equal((await s.scans.latest()).length, 20);
        // The certificates the failed writes would have stored are whole when written again.
        assert.ok((await s.scans.latest({ withChain: true })).every((r) => r.chain!.length === 3));
      });

      it('commitRun with one invalid message: no key, no problem, no message, no meta', async () => {
        const s = await open();
        const run = {
          at: '2030-01-01T00:00:00.000Z',
          markSent: ['sent-1', 'sent-2'],
          activate: [active('a.example:443', 'expired')],
          clear: [],
          messages: [...Array.from({ length: 20 }, (_, i) => message(`ok-${i}`)), message('bad', { subject: null as unknown as string })],
          meta: { digest: 'x' },
        };
        await rejectsWith(s.notifications.commitRun(run), 'a message without a subject');
        assert.deepEqual(await s.notifications.sentKeys(), new Set());
        assert.deepEqual(await s.notifications.active(), []);
        assert.deepEqual(await s.notifications.list(), []);
        assert.equal(await s.notifications.pendingCount(), 0);
        assert.equal(await s.notifications.meta('digest'), null);
        const ids = await s.notifications.commitRun({ ...run, messages: run.messages.slice(0, -1) });
        assert.equal(ids.length, 20);
        assert.equal(await s.notifications.meta('digest'), 'x');
      });
    });
  });
}
