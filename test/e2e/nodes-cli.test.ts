/**
 * Nodes sharing a PostgreSQL store (issue 16) as `certs status` shows them: `certs run` records
 * the node's heartbeat and last run under node.name; a node not seen for 3 of its cycles is
 * node-silent, a warning in the exit code, a line in the table output and `silent: true` in
 * `--json`. On SQLite (one machine) status shows no nodes. The silent node is seeded in-process
 * relative to the real clock (the CLI reads the real one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFilesCertificate } from '../helpers/pki.js';
import { runCli } from '../helpers/cli.js';
import { openStore } from '../../src/store/index.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { postgresSkip, startStoreCluster, type StoreCluster } from '../helpers/pg-store.js';

const KEK = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w=';
const skip = postgresSkip();

describe('certs status: nodes and node-silent', { skip }, () => {
  let dir: string;
  let config: string;
  let cluster: StoreCluster;
  let url = '';
  const env = () => ({ CERTS_DATABASE_URL: url, CERTS_KEK: KEK });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-e2e-nodes-'));
    cluster = await startStoreCluster();
    url = await cluster.newDatabase('nodes_cli');
    await writeFilesCertificate(dir, 'nodes root');
    config = join(dir, 'certs.yaml');
    writeFileSync(config, `dataDir: ./data
trust: { caFile: ./root.pem, bundled: false, system: false }
node: { name: web-1 }
store: { engine: postgres, url: "\${env:CERTS_DATABASE_URL}", keyEncryptionKey: "\${env:CERTS_KEK}" }
domains:
  - name: files.test
    managed: false
    endpoints: []
    files: { cert: ./files.pem }
`);
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('certs run records its node; status lists it, not silent, and exits 0', async () => {
    const run = await runCli(['run', '--config', config, '--json'], { cwd: dir, env: env() });
    assert.equal(run.code, 0, run.stderr);
    const st = await runCli(['status', '--config', config, '--json'], { cwd: dir, env: env() });
    assert.equal(st.code, 0, st.stderr);
    const doc = JSON.parse(st.stdout) as { nodes?: Array<{ name: string; version: string; lastSeenAt: string; lastRun: { startedAt: string; finishedAt: string | null; outcome: string } | null; silent: boolean }> };
    assert.equal(doc.nodes?.length, 1);
    const [n] = doc.nodes!;
    assert.equal(n!.name, 'web-1');
    assert.match(n!.version, /^\d+\.\d+\.\d+/);
    assert.equal(n!.silent, false);
    assert.equal(n!.lastRun?.outcome, 'ok');
    assert.ok(n!.lastRun?.finishedAt, 'the run finished');
    const table = await runCli(['status', '--config', config], { cwd: dir, env: env() });
    assert.equal(table.code, 0);
    assert.doesNotMatch(table.stdout, /nodes:|node-silent/, 'one healthy node is not worth a line');
  });

  it('a node not seen for more than 3 cycles is silent: a warning, a line naming it, silent in --json', async () => {
    const store = await openPgStore(url, { keyEncryptionKey: KEK });
    try {
      const hour = 3_600_000;
      const seen = new Date(Date.now() - 4 * hour);
      await store.nodes.heartbeat({ name: 'web-2', version: '0.0.9', startedAt: new Date(Date.now() - 48 * hour).toISOString(), lastSeenAt: seen.toISOString(), cycleMs: hour, lastRun: { startedAt: seen.toISOString(), finishedAt: seen.toISOString(), outcome: 'ok' } });
    } finally {
      await store.close();
    }
    const st = await runCli(['status', '--config', config, '--json'], { cwd: dir, env: env() });
    assert.equal(st.code, 1, 'node-silent is a warning');
    const doc = JSON.parse(st.stdout) as { nodes: Array<{ name: string; silent: boolean }> };
    assert.deepEqual(doc.nodes.map((n) => [n.name, n.silent]), [['web-1', false], ['web-2', true]]);
    const table = await runCli(['status', '--config', config], { cwd: dir, env: env() });
    assert.equal(table.code, 1);
    assert.match(table.stdout, /^nodes: web-1, web-2 \(silent\)$/m);
    assert.match(table.stdout, /^ {2}web-1 \(certs \d+\.\d+\.\d+\): seen .* UTC; last run started .* UTC \(ok\)$/m);
    assert.match(table.stdout, /^node-silent: node web-2 \(certs 0\.0\.9\) not seen since .* UTC; last run started .* \(ok\)$/m);
  });

  it('on SQLite (one machine, its schedule unknown to the store) status shows no nodes and no node-silent', async () => {
    const sqliteConfig = join(dir, 'sqlite.yaml');
    writeFileSync(sqliteConfig, readFileSync(config, 'utf8').replace(/^store: .*\n/m, '').replace('dataDir: ./data', 'dataDir: ./data-sqlite'));
    assert.equal((await runCli(['run', '--config', sqliteConfig], { cwd: dir })).code, 0);
    const store = openStore(join(dir, 'data-sqlite'));
    try {
      store.nodes.heartbeat({ name: 'old', version: '0.0.1', startedAt: '2020-01-01T00:00:00.000Z', lastSeenAt: '2020-01-01T00:00:00.000Z', cycleMs: 3_600_000, lastRun: null });
    } finally {
      store.close();
    }
    const st = await runCli(['status', '--config', sqliteConfig, '--json'], { cwd: dir });
    assert.equal(st.code, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { nodes?: unknown }).nodes, undefined);
  });
});
