/**
 * certs report --html FILE / --json [FILE] over a seeded store, and certs run --report FILE
 * (issue 13), with the built CLI: the JSON is the dashboard's data (rows, cards equal to
 * `certs status --json`'s summary, the last run), the HTML one self-contained file, both written
 * atomically with mode 0644; a directory is refused before any work; the run's report is written
 * also when the run could not run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFilesCertificate } from '../helpers/pki.js';
import { runCli } from '../helpers/cli.js';
import { fleet } from '../helpers/store-fixtures.js';
import { openStore } from '../../src/store/index.js';
import { newOwnerId, tryLease } from '../../src/service/lease.js';
import type { DashboardData } from '../../src/web/model.js';
import { a } from '../helpers/async-store.js';

const N = 30;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certs-e2e-report-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const mode = (file: string): number => statSync(file).mode & 0o777;

describe('certs report', () => {
  let config: string;

  before(async () => {
    const items = fleet(N);
    config = join(dir, 'fleet.yaml');
    const names = items.map((i) => i.report.domain);
    writeFileSync(config, `dataDir: ./fleet-data
notify: { webhook: { url: "https://hooks.example/s3cret-path" } }
domains:
${[...names, 'never.example.com'].map((n) => `  - { name: ${n}, managed: false }\n`).join('')}`);
    const store = openStore(join(dir, 'fleet-data'));
    try {
      store.scans.recordMany(items);
      const run = store.runs.start('2025-06-01T12:00:00.000Z');
      store.runs.finish(run, { finishedAt: '2025-06-01T12:01:00.000Z', outcome: 'warning', exitCode: 1, summary: { renewed: [], deployed: [], failed: [], notified: 3 } });
    } finally {
      store.close();
    }
  });

  it('--json on stdout: every endpoint with its id, cards equal to certs status --json, the last run', async () => {
    const r = await runCli(['report', '--config', config, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const data = JSON.parse(r.stdout) as DashboardData;
    assert.equal(data.rows.length, N + 1);
    assert.equal(data.rows.filter((row) => row.id === null).map((row) => row.domain).join(), 'never.example.com');
    const status = await runCli(['status', '--config', config, '--json'], { cwd: dir });
    const { summary } = JSON.parse(status.stdout) as { summary: Record<string, number> };
    assert.deepEqual({ ok: data.summary.ok, warning: data.summary.warning, critical: data.summary.critical, unknown: data.summary.unknown }, summary);
    assert.deepEqual(data.summary, { ...summary, within7: data.summary.within7, within30: data.summary.within30, total: N + 1 } as typeof data.summary);
    assert.equal(data.timeline.length, 13);
    assert.deepEqual(data.lastRun, { startedAt: '2025-06-01T12:00:00.000Z', finishedAt: '2025-06-01T12:01:00.000Z', outcome: 'warning', renewed: [], deployed: [], notified: 3, failed: [] });
    assert.ok(!r.stdout.includes('s3cret'), 'nothing of the config but names');
  });

  it('--html FILE and --json FILE: written atomically (no temp file left), mode 0644, nothing on stdout', async () => {
    const out = join(dir, 'out');
    mkdirSync(out);
    const html = join(out, 'report.html');
    const json = join(out, 'report.json');
    const r = await runCli(['report', '--config', config, '--html', html, '--json', json], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(out).sort(), ['report.html', 'report.json']);
    assert.equal(mode(html), 0o644);
    assert.equal(mode(json), 0o644);
    assert.equal((JSON.parse(readFileSync(json, 'utf8')) as DashboardData).rows.length, N + 1);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /^<!doctype html>/i);
    assert.ok(page.includes('host00000.example.com'));
    assert.ok(!page.includes('/endpoint/'), 'a file report has no links to daemon pages');
    assert.doesNotMatch(page, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'self-contained: nothing loaded from elsewhere');
    assert.ok(!page.includes('s3cret'));
  });

  it('refuses a directory, and a missing option, with exit 2 and a clear message; an unwritable path is exit 1', async () => {
    const target = join(dir, 'a-directory');
    mkdirSync(target);
    const d = await runCli(['report', '--config', config, '--html', target], { cwd: dir });
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--html: .*a-directory is a directory; give the report's file name/);
    assert.deepEqual(readdirSync(target), []);
    const none = await runCli(['report', '--config', config], { cwd: dir });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give --html FILE, --json \[FILE\], or both/);
    const missing = await runCli(['report', '--config', config, '--html', join(dir, 'no-such-dir', 'r.html')], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot write .*no-such-dir/);
  });

  it('--help names the options and the exit codes', async () => {
    const r = await runCli(['report', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--html <file>/);
    assert.match(r.stdout, /--json \[file\]/);
    assert.match(r.stdout, /Exit codes: 0 written, 1 .*, 2 usage or config error/);
  });
});

describe('certs run --report', () => {
  let config: string;
  let dataDir: string;

  before(async () => {
    await writeFilesCertificate(dir, 'report root');
    dataDir = join(dir, 'run-data');
    config = join(dir, 'run.yaml');
    writeFileSync(config, `dataDir: ./run-data
trust: { caFile: ./root.pem, bundled: false, system: false }
domains:
  - { name: files.test, managed: false, endpoints: [], files: { cert: ./files.pem } }
`);
  });

  it('writes the report after the run; the report shows the run', async () => {
    const file = join(dir, 'run-report.html');
    const r = await runCli(['run', '--config', config, '--report', file], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(mode(file), 0o644);
    assert.ok(readFileSync(file, 'utf8').includes('files.test'));
    const data = JSON.parse((await runCli(['report', '--config', config, '--json'], { cwd: dir })).stdout) as DashboardData;
    assert.equal(data.lastRun?.outcome, 'ok');
    assert.deepEqual(data.rows.map((row) => [row.domain, row.status]), [['files.test', 'ok']]);
  });

  it('a report that cannot be written fails an otherwise clean run with exit 1, after the run', async () => {
    const before = countRuns(dataDir);
    const r = await runCli(['run', '--config', config, '--report', join(dir, 'no-such-dir', 'r.html')], { cwd: dir });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /certs: --report: cannot write .*no-such-dir/);
    assert.equal(countRuns(dataDir), before + 1, 'the run itself ran and was recorded');
  });

  it('a run that cannot run (the run lock held elsewhere) still writes the report, and exits 3', async () => {
    const file = join(dir, 'busy-report.html');
    const store = openStore(dataDir);
    const lease = await tryLease(a(store).locks, 'run', newOwnerId());
    assert.ok(lease);
    try {
      const r = await runCli(['run', '--config', config, '--report', file, '--wait', '0'], { cwd: dir });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /run lock/);
      assert.ok(existsSync(file), 'written although the run did not run');
      assert.ok(readFileSync(file, 'utf8').includes('files.test'));
    } finally {
      lease.release();
      store.close();
    }
  });

  it('a directory as --report is refused before the run (nothing recorded), exit 3 as for any usage error of run', async () => {
    const before = countRuns(dataDir);
    const r = await runCli(['run', '--config', config, '--report', dir], { cwd: dir });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /--report: .* is a directory/);
    assert.equal(countRuns(dataDir), before, 'no run started');
  });
});

function countRuns(dataDir: string): number {
  const store = openStore(dataDir);
  try {
    return store.runs.list(1000).length;
  } finally {
    store.close();
  }
}
