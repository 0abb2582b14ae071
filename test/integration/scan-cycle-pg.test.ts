/**
 * A cycle's scan sharded across nodes (issue 16), on a real PostgreSQL and real loopback TLS:
 * three nodes start cycle K at once and every endpoint is scanned exactly once (counted from
 * the stored scans); a node that claimed a batch and died leaves it to another after its lease.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startTlsServer, type TlsServer } from '../helpers/scan-fixture.js';
import { postgresSkip, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { connectPg } from '../../src/store/pg/connect.js';
import { parsePgUrl } from '../../src/lib/pg-url.js';
import { loadScanDeps, collectingScanner } from '../../src/service/scan-record.js';
import { scanCycle } from '../../src/service/scan-cycle.js';

const KEK = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w=';
const skip = postgresSkip();
const N = 240;

describe('sharded scan cycles on one PostgreSQL', { skip }, () => {
  let cluster: StoreCluster;
  let server: TlsServer;
  let dir: string;
  let config: Config;
  let url = '';

  before(async () => {
    cluster = await startStoreCluster();
    url = await cluster.newDatabase('scan_cycle');
    dir = mkdtempSync(join(tmpdir(), 'certs-scan-cycle-'));
    const now = new Date();
    const ca = await createCA({ cn: 'shard CA', notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 400 * 86_400_000) });
    const leaf = await createLeaf({ dns: ['*.shard.test'], issuer: ca, notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 90 * 86_400_000) });
    server = await startTlsServer(leaf.pem, leaf.keyPem);
    writeFileSync(join(dir, 'ca.pem'), ca.pem);
    const domains = Array.from({ length: N }, (_, i) => `  - { name: d${String(i).padStart(3, '0')}.shard.test, managed: false, endpoints: [{ host: d${String(i).padStart(3, '0')}.shard.test, port: ${server.port}, address: 127.0.0.1 }] }`);
    writeFileSync(join(dir, 'certs.yaml'), `dataDir: ${join(dir, 'data')}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
scan: { revocation: false, concurrency: 16 }
cluster: { leaseSeconds: 5, scanBatchSize: 25 }
store: { engine: postgres, url: "${url}", keyEncryptionKey: "${KEK}" }
domains:
${domains.join('\n')}
`);
    config = loadConfig(join(dir, 'certs.yaml'), { env: {} });
  });
  after(async () => {
    await server?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function scansPerEndpoint(since: number): Promise<Map<string, number>> {
    const c = await connectPg(parsePgUrl(url));
    try {
      const { rows } = await c.query<{ domain: string; n: string }>('SELECT e.domain, COUNT(*) AS n FROM scans s JOIN endpoints e ON e.id = s.endpoint_id WHERE s.scanned_at >= $1 GROUP BY e.domain', [since]);
      return new Map(rows.map((r) => [r.domain, Number(r.n)]));
    } finally {
      await c.end();
    }
  }

  it(`three nodes on one cycle: each of ${N} endpoints scanned exactly once, the work shared`, async () => {
    const since = Date.now();
    const stores = await Promise.all(['a', 'b', 'c'].map((node) => openPgStore(url, { keyEncryptionKey: KEK, node })));
    try {
      const collect = collectingScanner(config, await loadScanDeps(config, () => new Date()));
      const results = await Promise.all(stores.map((s) => scanCycle(config.domains, s, { cycle: 'run@one', node: s.node, leaseMs: 5000, batchSize: 25, collect })));
      assert.equal(results.filter((r) => r.created).length, 1, 'one node stored the batches');
      assert.ok(results.every((r) => r.complete && r.batches === 10));
      assert.equal(results.reduce((n, r) => n + r.mine, 0), 10, 'every batch completed once');
      assert.equal(results.reduce((n, r) => n + r.scanned, 0), N);
      const per = await scansPerEndpoint(since);
      assert.equal(per.size, N, 'every endpoint scanned');
      assert.deepEqual([...new Set(per.values())], [1], 'none twice');
      // The same key again (a node starting late): nothing is scanned twice.
      const late = await scanCycle(config.domains, stores[0]!, { cycle: 'run@one', node: 'a', leaseMs: 5000, batchSize: 25, collect });
      assert.deepEqual([late.created, late.mine, late.complete], [false, 0, true]);
      assert.deepEqual([...new Set((await scansPerEndpoint(since)).values())], [1]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a batch claimed by a node that died is scanned by another once its lease runs out', async () => {
    const since = Date.now();
    const dead = await openPgStore(url, { keyEncryptionKey: KEK, node: 'dead' });
    const b = await openPgStore(url, { keyEncryptionKey: KEK, node: 'b' });
    try {
      const domains = config.domains.slice(0, 50);
      await dead.scanBatches.openCycle('run@two', [{ domains: domains.slice(0, 25).map((d) => d.name), endpoints: 25 }, { domains: domains.slice(25).map((d) => d.name), endpoints: 25 }], 'dead', 1_000);
      const claimed = await dead.scanBatches.claim('run@two', 'dead', 5000, 1_000);
      assert.equal(claimed?.batch, 0);
      // Node b's clock: the dead claim runs until 6,000. b scans batch 1, then waits (sleep moves its clock).
      let now = 2_000;
      const slept: number[] = [];
      const collect = collectingScanner(config, await loadScanDeps(config, () => new Date()));
      const r = await scanCycle(domains, b, { cycle: 'run@two', node: 'b', leaseMs: 5000, batchSize: 25, collect, now: () => now, sleep: async (ms) => { slept.push(ms); now += ms; } });
      assert.equal(r.complete, true);
      assert.equal(r.mine, 2, 'its own batch and the dead node\'s');
      assert.ok(now >= 6_000, 'not before the dead claim ran out');
      assert.ok(slept.length > 0);
      const per = await scansPerEndpoint(since);
      assert.equal(per.size, 50);
      assert.deepEqual([...new Set(per.values())], [1]);
      assert.equal(await dead.scanBatches.complete('run@two', 0, claimed!.token, 'dead', [], 7_000), false, 'the dead node, back, records nothing');
    } finally {
      await dead.close();
      await b.close();
    }
  });
});
