/**
 * Deployments per node on SQLite (issue 16): rows written before the node column (node '') were
 * this machine's and read as its own until its first write of the lineage replaces them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/store/index.js';
import { laggingNodes } from '../../../src/service/status.js';
import { ownEndpointFilter } from '../../../src/service/deploy.js';
import { parseConfigText } from '../../../src/config/load.js';

describe('deployments of one node on SQLite', () => {
  it('reads a row from before the node column as its own, and replaces it on its first write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-dep-node-'));
    const store = openStore(dir, { node: 'web-1' });
    try {
      store.db.prepare("INSERT INTO deployments (node, lineage, snippet_path, snippet_sha256, fingerprint256, version, deployed_at) VALUES ('', 'old.example', '/s.conf', 'aa', 'FP', 2, '2030-01-01T00:00:00.000Z')").run();
      store.db.prepare("INSERT INTO deploy_failures (node, lineage, version, fingerprint256, code, detail, failures, since, last_at) VALUES ('', 'old.example', 3, NULL, 'reload', 'x', 2, '2030-01-02T00:00:00.000Z', '2030-01-02T00:00:00.000Z')").run();
      assert.equal(store.deployments.get('old.example')?.version, 2);
      assert.equal(store.deployments.all().get('old.example')?.version, 2);
      assert.equal(store.deployments.failure('old.example')?.failures, 2);
      assert.deepEqual(store.deployments.everywhere().map((d) => d.node), ['web-1'], 'reported as this node');
      store.deployments.recordFailure({ lineage: 'old.example', version: 3, fingerprint256: null, code: 'reload', detail: 'y', at: '2030-01-03T00:00:00.000Z' });
      assert.deepEqual(store.db.prepare('SELECT node, failures FROM deploy_failures').all(), [{ node: 'web-1', failures: 3 }], 'the count goes on under the node name');
      store.deployments.save({ lineage: 'old.example', snippetPath: '/s.conf', snippetSha256: 'bb', fingerprint256: 'FP3', version: 3, deployedAt: '2030-01-04T00:00:00.000Z', verifiedAt: null, staleSince: null, staleDetail: null });
      assert.deepEqual(store.db.prepare('SELECT node, version FROM deployments').all(), [{ node: 'web-1', version: 3 }]);
      // Another node name on the same file sees nothing of web-1's.
      const other = openStore(dir, { node: 'web-2' });
      try {
        assert.equal(other.deployments.get('old.example'), null);
      } finally {
        other.close();
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('laggingNodes and node.addresses', () => {
  const latest = new Map([['a.example', { version: 3 }], ['b.example', { version: 1 }]]);
  it('names the nodes behind the newest version or stale, only where several nodes deploy', () => {
    const rows = [
      { lineage: 'a.example', node: 'web-1', version: 3, staleSince: null },
      { lineage: 'a.example', node: 'web-2', version: 2, staleSince: null },
      { lineage: 'a.example', node: 'web-3', version: 3, staleSince: '2030-01-01T00:00:00.000Z' },
      { lineage: 'b.example', node: 'web-1', version: 0, staleSince: null },
    ];
    assert.deepEqual(laggingNodes(rows, latest), new Map([['a.example', ['web-2', 'web-3']]]));
    assert.deepEqual(laggingNodes(rows.slice(0, 1), latest), new Map());
  });

  it('node.addresses: a deploy proves only its own addresses; absent, all of them', () => {
    const c = parseConfigText('node: {name: b, addresses: [127.0.0.3, "::1"]}\ndomains: []\n', '/etc/certs/certs.yaml');
    const own = ownEndpointFilter(c);
    assert.equal(own('127.0.0.3'), true);
    assert.equal(own('127.0.0.2'), false);
    assert.equal(own('::1'), true);
    assert.equal(ownEndpointFilter(parseConfigText('domains: []\n', '/etc/certs/certs.yaml'))('192.0.2.1'), true);
    assert.throws(() => parseConfigText('node: {addresses: [web-3]}\ndomains: []\n', '/etc/certs/certs.yaml'), /node\.addresses\[0\]: expected an IP address/);
  });
});
