/**
 * certs run applies store.retention and reports it (issue #10 §5): old scans, certificates no scan
 * refers to any more and archive versions beyond keepVersions go; `--json` says how many, the
 * text output and the event log too. The store is seeded in-process; the run is the built CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFilesCertificate } from '../helpers/pki.js';
import { runCli } from '../helpers/cli.js';
import { fakeCert, reportFor } from '../helpers/store-fixtures.js';
import { openStore } from '../../src/store/index.js';
import { archiveVersions, switchCurrent, versionPaths, writeArchiveVersion } from '../../src/store/archive.js';

const DAY = 86_400_000;

describe('certs run: retention', () => {
  let dir: string;
  let config: string;
  let dataDir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-e2e-retention-'));
    dataDir = join(dir, 'data');
    const now = new Date();
    await writeFilesCertificate(dir, 'retention root', now);
    config = join(dir, 'certs.yaml');
    writeFileSync(config, `dataDir: ./data
trust: { caFile: ./root.pem, bundled: false, system: false }
store: { retention: { scanDays: 30, keepVersions: 2 } }
domains:
  - name: files.test
    managed: false
    endpoints: []
    files: { cert: ./files.pem }
`);

    // Seed what a long-running installation has: scans older than 30 days of an endpoint no longer
    // in the inventory (its first leaf is served by nothing newer), and a lineage with 4 versions.
    const store = openStore(dataDir);
    try {
      const inter = fakeCert('Seed Intermediate', { isCA: true });
      const first = fakeCert('old.test v1', { issuer: inter.info.subject });
      const second = fakeCert('old.test v2', { issuer: inter.info.subject });
      const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY).toISOString();
      for (const [daysAgo, c] of [[200, first], [199, first], [198, second]] as const) {
        store.scans.record(reportFor({ domain: 'old.test' }, [c, inter], { scannedAt: at(daysAgo) }), [c.der, inter.der]);
      }
      for (let v = 1; v <= 4; v++) {
        const { version, paths } = writeArchiveVersion(dataDir, 'gone.test', { cert: `C${v}\n`, chain: '', fullchain: `C${v}\n`, privkey: `K${v}\n` });
        store.issued.record({
          lineage: 'gone.test', version, fingerprint256: `FP${v}`, serial: `0${v}`, notBefore: at(300 - v * 60), notAfter: at(210 - v * 60), issuer: 'CN=CA',
          names: ['gone.test'], keyType: 'ecdsa-p256', directoryUrl: 'https://acme.test/dir', profile: null, ariCertId: null, replacedId: null,
          dir: paths.dir, issuedAt: at(300 - v * 60), reason: null, revokedAt: null, revokeReason: null,
        });
      }
      switchCurrent(dataDir, 'gone.test', 4);
    } finally {
      store.close();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--json reports what was pruned; the text output and the event log say so too', async () => {
    const r = await runCli(['run', '--config', config, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as { pruned: { scans: number; certificates: number; versions: number }; errors: string[] };
    assert.deepEqual(doc.pruned, { scans: 2, certificates: 1, versions: 2 });
    assert.deepEqual(doc.errors, []);
    assert.match(r.stderr, /certs: prune\.done scans=2 certificates=1 versions=2/);
    assert.deepEqual(archiveVersions(dataDir, 'gone.test'), [3, 4]);
    assert.equal(existsSync(versionPaths(dataDir, 'gone.test', 1).privkey), false, 'the key of a pruned version is gone');

    const store = openStore(dataDir);
    try {
      // The endpoint's latest scan stays however old it is.
      assert.deepEqual(store.scans.latest().map((e) => e.domain).sort(), ['files.test', 'old.test']);
      assert.deepEqual(store.issued.list('gone.test').map((c) => c.version), [4, 3]);
      // Something more to prune for the text run: two old scans of another endpoint.
      for (const daysAgo of [100, 99]) store.scans.record(reportFor({ domain: 'older.test' }, [], { scannedAt: new Date(Date.now() - daysAgo * DAY).toISOString() }), []);
    } finally {
      store.close();
    }

    const text = await runCli(['run', '--config', config], { cwd: dir });
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^pruned 1 old scans, 0 unused certificates, 0 archive versions \(store\.retention\)$/m);

    const quiet = await runCli(['run', '--config', config, '--json'], { cwd: dir });
    assert.deepEqual((JSON.parse(quiet.stdout) as { pruned: unknown }).pruned, { scans: 0, certificates: 0, versions: 0 });
  });
});
