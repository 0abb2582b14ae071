import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../../src/core/errors.js';
import type { EndpointReport } from '../../../src/core/model.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { fakeCert, fleet, reportFor } from '../../helpers/store-fixtures.js';
import { holdWriteLock } from './lock-holder.js';

const root = mkdtempSync(join(tmpdir(), 'certs-store-scans-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
function withStore<T>(fn: (store: Store, dataDir: string) => T): T {
  const dataDir = join(root, `t${++seq}`);
  const store = openStore(dataDir);
  try {
    return fn(store, dataDir);
  } finally {
    store.close();
  }
}

function count(store: Store, table: string): number {
  return store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

const rootCa = fakeCert('Test Root', { isCA: true });
const interA = fakeCert('Intermediate A', { issuer: rootCa.info.subject, isCA: true });
const interB = fakeCert('Intermediate B', { issuer: rootCa.info.subject, isCA: true });

describe('ScanRepository.record and latest', () => {
  it('round-trips a report: problems, optional fields, chain in served order', () => {
    withStore((store) => {
      const leaf = fakeCert('www.example.com', { issuer: interA.info.subject });
      // Served in the wrong order on purpose: the stored chain must keep it.
      const served = [leaf, rootCa, interA];
      const report = reportFor({ domain: 'example.com', host: 'www.example.com', port: 8443, address: '203.0.113.7' }, served, {
        problems: [
          { code: 'wrong-order', severity: 'warning', message: 'served out of order', hint: 'fix ssl_certificate' },
          { code: 'contains-anchor', severity: 'warning', message: 'the root is served' },
        ],
      });
      report.crossCheck = { openssl: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', agrees: false, note: 'openssl saw no issuer' };
      report.orderKnown = false;

      const id = store.scans.record(report, served.map((c) => c.der), { path: [{ fingerprint256: leaf.info.fingerprint256 }], durationMs: 12.5 });
      assert.equal(typeof id, 'number');

      const [withChain] = store.scans.latest({ withChain: true });
      assert.deepEqual(withChain, report);
      assert.deepEqual(
        withChain!.chain!.map((c) => c.subject),
        ['CN=www.example.com', 'CN=Test Root', 'CN=Intermediate A'],
      );

      const [plain] = store.scans.latest();
      const { chain: _chain, ...expected } = report;
      assert.deepEqual(plain, expected);
      assert.equal('chain' in plain!, false, 'no chain unless asked for');

      const detail = store.scans.detail({ domain: 'example.com', host: 'www.example.com', port: 8443 });
      assert.ok(detail);
      assert.equal(detail.scanId, id);
      assert.deepEqual(detail.report, report);
      assert.deepEqual(detail.path, [{ fingerprint256: leaf.info.fingerprint256 }]);
      assert.equal(detail.durationMs, 12.5);
      assert.equal(detail.error, null);
    });
  });

  it('leaves optional fields out when they were not recorded, and keeps fields without a column', () => {
    withStore((store) => {
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
        scannedAt: '2025-06-01T00:00:00.000Z',
        error: 'EACCES: permission denied, open /etc/ssl/files.pem',
      };
      store.scans.record(report, []);
      assert.deepEqual(store.scans.latest({ withChain: true }), [{ ...report, chain: [] }]);
      assert.deepEqual(store.scans.latest(), [report]);
    });
  });

  it('derives the probe error from the problems, unless given', () => {
    withStore((store) => {
      const problem = { code: 'timeout', severity: 'critical', message: 'slow.example:443: no TLS handshake within 5000 ms' } as const;
      store.scans.record({ ...reportFor({ domain: 'slow.example' }, [], { problems: [problem] }), status: 'critical' }, []);
      assert.deepEqual(store.scans.detail({ domain: 'slow.example', host: 'slow.example', port: 443 })!.error, { code: 'timeout', message: problem.message });

      store.scans.record(reportFor({ domain: 'fine.example' }, []), [], { error: { code: 'custom', message: 'given' } });
      assert.deepEqual(store.scans.detail({ domain: 'fine.example', host: 'fine.example', port: 443 })!.error, { code: 'custom', message: 'given' });
      assert.equal(store.scans.detail({ domain: 'nope.example', host: 'nope.example', port: 443 }), null);
    });
  });

  it('stores each certificate once across scans and endpoints', () => {
    withStore((store) => {
      for (let i = 0; i < 5; i++) {
        const leaf = fakeCert(`h${i}.example`, { issuer: interA.info.subject });
        const chain = [leaf, interA, rootCa];
        store.scans.record(reportFor({ domain: `h${i}.example` }, chain), chain.map((c) => c.der));
        store.scans.record(reportFor({ domain: `h${i}.example` }, chain, { scannedAt: '2025-06-02T00:00:00.000Z' }), chain.map((c) => c.der));
      }
      assert.equal(count(store, 'certificates'), 5 + 2);
      assert.equal(count(store, 'endpoints'), 5);
      assert.equal(count(store, 'scans'), 10);
      const der = store.db.prepare('SELECT der FROM certificates WHERE fingerprint256 = ?').pluck().get(interA.info.fingerprint256);
      assert.deepEqual(der, interA.der);
    });
  });

  it('keeps the bytes of a certificate that could not be parsed, and the info of trust-store certificates', () => {
    withStore((store) => {
      const leaf = fakeCert('odd.example', { issuer: interB.info.subject });
      const garbage = Buffer.from('not a certificate at all');
      // The analysis parsed the leaf and added the root from the trust store; the garbage has no info.
      const report = reportFor({ domain: 'odd.example' }, [leaf, rootCa]);
      store.scans.record(report, [leaf.der, garbage]);
      const [got] = store.scans.latest({ withChain: true });
      assert.deepEqual(
        got!.chain!.map((c) => c.subject),
        ['CN=odd.example', 'CN=Test Root'],
        'served certificates with info, then the added ones',
      );
      const rows = store.db.prepare('SELECT der IS NOT NULL AS hasDer, info_json IS NOT NULL AS hasInfo FROM certificates ORDER BY subject').raw().all();
      // garbage (no subject), then CN=Test Root, then CN=odd.example
      assert.deepEqual(rows, [[1, 0], [0, 1], [1, 1]]);

      // A later scan that serves the root fills in its bytes.
      store.scans.record(reportFor({ domain: 'other.example' }, [rootCa]), [rootCa.der]);
      const rootDer = store.db.prepare('SELECT der FROM certificates WHERE fingerprint256 = ?').pluck().get(rootCa.info.fingerprint256);
      assert.deepEqual(rootDer, rootCa.der);
    });
  });

  it('returns only the newest scan per endpoint, even when an older one is recorded later', () => {
    withStore((store) => {
      const chain = [fakeCert('a.example', { issuer: interA.info.subject }), interA];
      const der = chain.map((c) => c.der);
      const at = (iso: string, days: number): EndpointReport => reportFor({ domain: 'a.example' }, chain, { scannedAt: iso, daysLeft: days });
      store.scans.record(at('2025-06-01T00:00:00.000Z', 30), der);
      store.scans.record(at('2025-06-03T00:00:00.000Z', 28), der);
      store.scans.record(at('2025-06-02T00:00:00.000Z', 29), der);
      // Same host, different address: a different endpoint.
      store.scans.record(reportFor({ domain: 'a.example', address: '192.0.2.1' }, chain, { scannedAt: '2025-05-01T00:00:00.000Z' }), der);

      const latest = store.scans.latest();
      assert.deepEqual(
        latest.map((r) => [r.address ?? '', r.scannedAt, r.daysLeft]),
        [
          ['', '2025-06-03T00:00:00.000Z', 28],
          ['192.0.2.1', '2025-05-01T00:00:00.000Z', 42],
        ],
      );
      assert.deepEqual(
        store.scans.history({ domain: 'a.example', host: 'a.example', port: 443, address: '' }, 10).map((r) => r.daysLeft),
        [28, 29, 30],
      );
      assert.equal(store.scans.history({ domain: 'a.example', host: 'a.example', port: 443 }, 10).length, 4, 'all addresses without one in the key');
      assert.equal(store.scans.history({ domain: 'a.example', host: 'a.example', port: 443 }, 2).length, 2);
    });
  });

  it('normalises scannedAt to canonical ISO and refuses nonsense', () => {
    withStore((store) => {
      store.scans.record(reportFor({ domain: 'z.example' }, [], { scannedAt: '2025-06-01T14:00:00+02:00' }), []);
      assert.equal(store.scans.latest()[0]!.scannedAt, '2025-06-01T12:00:00.000Z');
      assert.throws(
        () => store.scans.record(reportFor({ domain: 'z.example' }, [], { scannedAt: 'yesterday' }), []),
        (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument' && /scannedAt "yesterday"/.test(err.message),
      );
    });
  });

  it('filters by domain and orders by domain, host, port', () => {
    withStore((store) => {
      for (const d of ['c.example', 'a.example', 'b.example']) {
        store.scans.record(reportFor({ domain: d, port: 8443 }, []), []);
        store.scans.record(reportFor({ domain: d, port: 443 }, []), []);
      }
      assert.deepEqual(
        store.scans.latest().map((r) => `${r.domain}:${r.port}`),
        ['a.example:443', 'a.example:8443', 'b.example:443', 'b.example:8443', 'c.example:443', 'c.example:8443'],
      );
      assert.deepEqual(
        store.scans.latest({ domains: ['c.example', 'a.example', 'missing.example'] }).map((r) => `${r.domain}:${r.port}`),
        ['a.example:443', 'a.example:8443', 'c.example:443', 'c.example:8443'],
      );
      assert.deepEqual(store.scans.latest({ domains: [] }), []);
    });
  });

  it('prunes history but never the latest scan', () => {
    withStore((store) => {
      for (let day = 1; day <= 5; day++) {
        const iso = `2025-06-0${day}T00:00:00.000Z`;
        store.scans.record(reportFor({ domain: 'p.example' }, [], { scannedAt: iso }), []);
        store.scans.record(reportFor({ domain: 'q.example' }, [], { scannedAt: iso }), []);
      }
      assert.equal(store.scans.pruneHistory(2), 6);
      assert.equal(count(store, 'scans'), 4);
      assert.deepEqual(
        store.scans.history({ domain: 'p.example', host: 'p.example', port: 443 }, 10).map((r) => r.scannedAt),
        ['2025-06-05T00:00:00.000Z', '2025-06-04T00:00:00.000Z'],
      );
      assert.equal(store.scans.latest().length, 2);
      assert.throws(() => store.scans.pruneHistory(0), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');
    });
  });
});

describe('ScanRepository errors', () => {
  it('turns a report the schema rejects into invalid-argument, naming the problem', () => {
    withStore((store) => {
      const bad = { ...reportFor({ domain: 'bad.example' }, []), status: 'fine' } as unknown as EndpointReport;
      assert.throws(
        () => store.scans.record(bad, []),
        (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument' && /CHECK constraint failed.*while recording a scan$/.test(err.message),
      );
      assert.equal(count(store, 'endpoints'), 0, 'the endpoint insert was rolled back with the scan');
    });
  });

  it('refuses writes through a read-only store', () => {
    const dataDir = join(root, `t${++seq}`);
    openStore(dataDir).close();
    const store = openStore(dataDir, { readonly: true });
    assert.ok(store);
    try {
      assert.throws(
        () => store.scans.record(reportFor({ domain: 'ro.example' }, []), []),
        (err: unknown) => err instanceof StoreError && err.code === 'read-only' && /certs\.db cannot be written/.test(err.message),
      );
    } finally {
      store.close();
    }
  });
});

describe('ScanRepository.recordMany', () => {
  it('stores 10,000 reports in one transaction: all of them, or none', () => {
    withStore((store) => {
      const items = fleet(10_000);
      const broken = fleet(1)[0]!;
      broken.report = { ...broken.report, scannedAt: 'not a time' };

      // The last item is invalid: nothing of the 10,000 before it may remain.
      assert.throws(() => store.scans.recordMany([...items, broken]), (err: unknown) => err instanceof StoreError && err.code === 'invalid-argument');
      assert.equal(count(store, 'scans'), 0);
      assert.equal(count(store, 'endpoints'), 0);
      assert.equal(count(store, 'certificates'), 0);

      const ids = store.scans.recordMany(items);
      assert.equal(ids.length, 10_000);
      assert.equal(new Set(ids).size, 10_000);
      assert.equal(count(store, 'scans'), 10_000);
      assert.equal(count(store, 'endpoints'), 10_000);
      assert.equal(count(store, 'certificates'), 10_000 + 8 + 2, 'unique leaves, shared intermediates and roots once');

      const latest = store.scans.latest({ withChain: true });
      assert.equal(latest.length, 10_000);
      const byDomain = new Map(latest.map((r) => [r.domain, r]));
      for (const item of [items[0]!, items[1]!, items[4321]!, items[9999]!]) {
        assert.deepEqual(byDomain.get(item.report.domain), item.report);
      }
      assert.equal(latest.filter((r) => r.status === 'warning').length, 1_000);
      // Shared intermediates are decoded once and shared between reports.
      assert.equal(byDomain.get(items[0]!.report.domain)!.chain![1], byDomain.get(items[8]!.report.domain)!.chain![1]);
    });
  });
});

describe('ScanRepository with another process writing', () => {
  it('reports a write lock held beyond the busy timeout as "locked", and stores nothing', async () => {
    const dataDir = join(root, `t${++seq}`);
    openStore(dataDir).close();
    const store = openStore(dataDir, { busyTimeoutMs: 100 });
    const lock = await holdWriteLock(join(dataDir, 'certs.db'), 'IMMEDIATE');
    try {
      assert.throws(
        () => store.scans.record(reportFor({ domain: 'l.example' }, []), []),
        (err: unknown) =>
          err instanceof StoreError &&
          err.code === 'locked' &&
          /^database is locked by another process \(.*certs\.db, waited 100 ms while recording a scan\); try again when it finishes$/.test(err.message),
      );
      // Readers are not blocked by a writer in WAL mode: status keeps working during a run.
      assert.deepEqual(store.scans.latest(), []);
    } finally {
      await lock.release();
    }
    try {
      store.scans.record(reportFor({ domain: 'l.example' }, []), []);
      assert.equal(store.scans.latest().length, 1);
    } finally {
      store.close();
      store.close();
    }
  });

  it('opens read-only for status while another process holds the write lock', async () => {
    const dataDir = join(root, `t${++seq}`);
    const writer = openStore(dataDir);
    writer.scans.record(reportFor({ domain: 'r.example' }, []), []);
    writer.close();
    const lock = await holdWriteLock(join(dataDir, 'certs.db'), 'EXCLUSIVE');
    try {
      const reader = openStore(dataDir, { readonly: true, busyTimeoutMs: 100 });
      assert.ok(reader);
      try {
        assert.equal(reader.scans.latest().length, 1);
      } finally {
        reader.close();
      }
    } finally {
      await lock.release();
    }
  });
});
