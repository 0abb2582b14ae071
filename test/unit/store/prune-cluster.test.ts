/** Retention of the cluster's bookkeeping (issue 16): scan cycles after two days, expired shared http-01 tokens. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { openStore } from '../../../src/store/index.js';
import { pruneStore } from '../../../src/service/prune.js';
import { a } from '../../helpers/async-store.js';

const DAY = 86_400_000;

describe('prune: cluster bookkeeping', () => {
  it('forgets scan cycles older than two days and expired challenge tokens, keeps the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-prune-cluster-'));
    const store = openStore(dir);
    try {
      const now = Date.UTC(2030, 5, 1);
      const plan = [{ domains: ['x.test'], endpoints: 1 }];
      store.scanBatches.openCycle('run@old', plan, 'a', now - 2 * DAY - 1);
      store.scanBatches.openCycle('run@recent', plan, 'a', now - 2 * DAY);
      store.challenges.put({ token: 'gone', keyAuthorization: 'k', domain: 'x.test', node: 'a', createdAt: now - 7200_000, expiresAt: now - 1 });
      store.challenges.put({ token: 'live', keyAuthorization: 'k', domain: 'x.test', node: 'a', createdAt: now, expiresAt: now + 3600_000 });
      const config = parseConfigText(`dataDir: ${dir}\ndomains: []\n`, join(dir, 'certs.yaml'));
      const report = await pruneStore(config, a(store), { now: new Date(now), owner: 'test' });
      assert.deepEqual(report.errors, []);
      assert.deepEqual(store.db.prepare('SELECT cycle FROM scan_cycles').pluck().all(), ['run@recent']);
      assert.deepEqual(store.db.prepare('SELECT cycle FROM scan_batches').pluck().all(), ['run@recent'], 'batches go with their cycle');
      assert.deepEqual(store.db.prepare('SELECT token FROM acme_challenges').pluck().all(), ['live']);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
