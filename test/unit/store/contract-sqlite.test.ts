/**
 * The store contract (test/contract/store-contract.ts) on the SQLite engine: openStore wrapped by
 * store/sqlite-async.ts, one temporary data directory per test. Each open is a connection of its
 * own to the same file, as two processes sharing a data directory would hold.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/store/index.js';
import { asyncStore } from '../../../src/store/sqlite-async.js';
import { writeArchiveVersion } from '../../../src/store/archive.js';
import { storeContract } from '../../contract/store-contract.js';

const root = mkdtempSync(join(tmpdir(), 'certs-contract-sqlite-'));
let seq = 0;
let dataDir = '';

storeContract('sqlite', {
  async open(opts = {}) {
    return asyncStore(openStore(dataDir, { ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.node ? { node: opts.node } : {}) }), dataDir);
  },
  async fresh() {
    dataDir = join(root, `t${++seq}`);
    mkdirSync(dataDir);
  },
  async cleanup() {
    rmSync(root, { recursive: true, force: true });
  },
  // The service writes a version to the archive before recording it; pems() reads it there.
  async placePems(lineage, version, pems) {
    writeArchiveVersion(dataDir, lineage, pems, { minVersion: version, exact: true });
  },
});
