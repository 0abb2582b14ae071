/**
 * Scan and record, the one function behind `certs scan`, the run cycle and the deploy verify:
 * the write lock is checked before the first probe, and results are stored in batches.
 * The probe is a fake (no network); the store is a real SQLite file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import type { ProbeResult } from '../../../src/core/model.js';
import { databasePath, openStore } from '../../../src/store/index.js';
import { recordingScanner, scanAndRecord, STORE_BATCH } from '../../../src/service/scan-record.js';
import type { ScanDeps } from '../../../src/service/scan-inventory.js';
import { configFixture } from '../../helpers/config-fixture.js';
import { a } from '../../helpers/async-store.js';

const fx = configFixture('certs-scan-record-');

function setup(endpoints: number) {
  const dir = fx.caseDir();
  const config = fx.load(stringify({
    dataDir: join(dir, 'data'),
    trust: { bundled: true, system: false },
    domains: Array.from({ length: endpoints }, (_, i) => ({ name: `e${i}.test`, managed: false, endpoints: [{ host: `e${i}.test`, port: 443, address: '127.0.0.1' }] })),
  }), dir);
  let probes = 0;
  const deps = {
    anchors: { certs: [], bySubject: new Map() },
    now: () => new Date('2026-01-01T00:00:00Z'),
    // No certificate sent: every report is a critical handshake-failed, which is all the store needs.
    probe: async (): Promise<ProbeResult> => {
      probes++;
      return { chain: [], orderKnown: true, error: { code: 'unreachable', message: 'fake' } } as unknown as ProbeResult;
    },
  } as unknown as ScanDeps;
  return { config, deps, probes: () => probes };
}

describe('scan and record', () => {
  it('the recording scanner (run cycle, deploy verify) stores results in batches of STORE_BATCH', async () => {
    const n = STORE_BATCH * 2 + 7;
    const { config, deps } = setup(n);
    const store = openStore(config.dataDir);
    try {
      const batches: number[] = [];
      const recordMany = store.scans.recordMany.bind(store.scans);
      store.scans.recordMany = (items) => {
        batches.push(items.length);
        return recordMany(items);
      };
      const reports = await recordingScanner(config, a(store), deps)(config.domains);
      assert.equal(reports.length, n);
      assert.deepEqual(batches, [STORE_BATCH, STORE_BATCH, 7]);
      assert.equal(store.scans.latest().length, n);
    } finally {
      store.close();
    }
  });

  it('a database another process holds for writing is reported before the first probe', async () => {
    const { config, deps, probes } = setup(3);
    const store = openStore(config.dataDir, { busyTimeoutMs: 50 });
    const other = new Database(databasePath(config.dataDir));
    try {
      other.exec('BEGIN IMMEDIATE');
      await assert.rejects(recordingScanner(config, a(store), deps)(config.domains), /lock|busy/i);
      assert.equal(probes(), 0, 'no endpoint was probed');
      await assert.rejects(scanAndRecord(config, a(store), config.domains, deps), /lock|busy/i);
      assert.equal(probes(), 0);
    } finally {
      other.exec('ROLLBACK');
      other.close();
      store.close();
    }
  });
});
