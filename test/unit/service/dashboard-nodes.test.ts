/** The dashboard's Nodes table (issue 16): shown for a cluster or a silent node, not for one healthy machine. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { openStore } from '../../../src/store/index.js';
import { asyncStore } from '../../../src/store/sqlite-async.js';
import { dashboardData } from '../../../src/service/dashboard.js';
import { renderDashboard } from '../../../src/web/page.js';

describe('dashboard: nodes', () => {
  it('lists every node with version, last seen, last run and silence once there are two; none for one healthy node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-dash-nodes-'));
    const config = parseConfigText(`dataDir: ${dir}\ndomains: []\n`, join(dir, 'certs.yaml'));
    const now = new Date(Date.UTC(2030, 0, 1, 12));
    const sqlite = asyncStore(openStore(dir), dir);
    // The nodes table is the PostgreSQL store's (a cluster): the same rows, read as that engine's.
    const store = { ...sqlite, engine: 'postgres' as const };
    try {
      const at = (ms: number) => new Date(now.getTime() - ms).toISOString();
      await store.nodes.heartbeat({ name: 'web-1', version: '1.2.3', startedAt: at(86_400_000), lastSeenAt: at(60_000), cycleMs: 3_600_000, lastRun: { startedAt: at(120_000), finishedAt: at(60_000), outcome: 'ok' } });
      const one = await dashboardData(config, store, now);
      assert.equal(one.nodes, undefined, 'one healthy machine keeps the page it had');
      assert.doesNotMatch(renderDashboard(one, { mode: 'file' }), /id="nodes"/);
      await store.nodes.heartbeat({ name: 'web-2', version: '1.2.2', startedAt: at(86_400_000), lastSeenAt: at(4 * 3_600_000), cycleMs: 3_600_000, lastRun: null });
      assert.equal((await dashboardData(config, sqlite, now)).nodes, undefined, 'a SQLite store (one machine) shows none');
      const two = await dashboardData(config, store, now);
      assert.deepEqual(two.nodes?.map((n) => [n.name, n.version, n.silent]), [['web-1', '1.2.3', false], ['web-2', '1.2.2', true]]);
      const html = renderDashboard(two, { mode: 'file' });
      assert.match(html, /<section id="nodes"[^>]*><h2 id="h-nodes">Nodes \(2\)<\/h2>/);
      assert.match(html, /<tr data-testid="node-row" data-silent="false"><td>web-1<\/td><td>1\.2\.3<\/td>.*?<td>ok, <time/);
      assert.match(html, /<tr data-testid="node-row" data-silent="true"><td>web-2<\/td>.*?silent<\/span>/);
    } finally {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
