/**
 * `certs demo` as the README's first command runs it (`node dist/cli/main.js demo`, from the
 * checkout): every planted problem named in the table, the exit code the README documents, the
 * report written, the temporary data dir gone afterwards; `--serve` answering on loopback until
 * SIGTERM. Needs the build (`npm run build`).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_PATH, describeRun, runCli } from '../helpers/cli.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The README's command line, relative to the checkout. */
const README_CLI = 'dist/cli/main.js';

/** The planted situations: the row's status and the problem code it must show ('-': none). */
const PLANTED = [
  { domain: 'www.demo.test', status: 'OK', problem: '-' },
  { domain: 'expiring.demo.test', status: 'WARNING', problem: 'expiring-soon' },
  { domain: 'chain.demo.test', status: 'CRITICAL', problem: 'incomplete-chain' },
  { domain: 'mismatch.demo.test', status: 'CRITICAL', problem: 'hostname-mismatch' },
  { domain: 'renewed.demo.test', status: 'WARNING', problem: 'stale-deployment' },
  { domain: 'mail.demo.test', status: 'OK', problem: '-' },
  { domain: 'down.demo.test', status: 'CRITICAL', problem: 'unreachable' },
] as const;

interface Row { domain: string; endpoint: string; days: string; expires: string; issuer: string; status: string; problems: string }

/** The status table's rows (columns are separated by two or more spaces; no cell holds two). */
function tableRows(stdout: string): Map<string, Row> {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => /^DOMAIN\s+ENDPOINT\s+DAYS\s+EXPIRES\s+ISSUER\s+STATUS\s+PROBLEMS$/.test(l));
  assert.ok(head >= 0, `no status table in:\n${stdout}`);
  const rows = new Map<string, Row>();
  for (const line of lines.slice(head + 1)) {
    if (line.trim() === '') break;
    const [domain = '', endpoint = '', days = '', expires = '', issuer = '', status = '', problems = ''] = line.split(/\s{2,}/);
    rows.set(domain, { domain, endpoint, days, expires, issuer, status, problems });
  }
  return rows;
}

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    }).on('error', reject).end();
  });
}

describe('certs demo', () => {
  const cleanup: string[] = [];
  after(() => {
    for (const p of cleanup) rmSync(p, { recursive: true, force: true });
  });

  it('names every planted problem in its table, exits 0, writes the report and removes its temporary state', async () => {
    assert.ok(existsSync(join(REPO, README_CLI)), 'build first: npm run build');
    assert.equal(join(REPO, README_CLI), CLI_PATH);
    const r = await runCli(['demo'], { cwd: REPO, timeoutMs: 60_000 });
    const report = /^report: (\S+)/m.exec(r.stdout)?.[1];
    if (report) cleanup.push(dirname(report));
    assert.equal(r.code, 0, describeRun(r));

    const rows = tableRows(r.stdout);
    assert.deepEqual([...rows.keys()], PLANTED.map((p) => p.domain), describeRun(r));
    for (const p of PLANTED) {
      const row = rows.get(p.domain)!;
      assert.equal(row.status, p.status, `${p.domain}: ${JSON.stringify(row)}`);
      assert.equal(row.problems, p.problem, `${p.domain}: ${JSON.stringify(row)}`);
      assert.match(row.endpoint, new RegExp(`^${p.domain.replace(/\./g, '\\.')}:\\d+ @127\\.0\\.0\\.1$`));
    }
    // Planted to expire in 12 days and an hour: the table rounds down.
    assert.equal(rows.get('expiring.demo.test')!.days, '12');
    assert.equal(rows.get('down.demo.test')!.days, '-');
    assert.match(r.stdout, /^7 endpoints: 2 ok, 2 warning, 3 critical, 0 unknown$/m);

    assert.ok(report, `no report line:\n${describeRun(r)}`);
    const html = readFileSync(report, 'utf8');
    assert.match(html, /^<!doctype html>/i);
    for (const p of PLANTED) {
      assert.ok(html.includes(p.domain), `report lacks ${p.domain}`);
      if (p.problem !== '-') assert.ok(html.includes(p.problem), `report lacks ${p.problem}`);
    }

    const state = /^state: (\S+), a temporary data dir/m.exec(r.stdout)?.[1];
    assert.ok(state, describeRun(r));
    assert.equal(existsSync(state), false, `${state} was left behind`);
  });

  it('--json: the status document plus what was planted, each found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-demo-e2e-'));
    cleanup.push(dir);
    const reportFile = join(dir, 'demo.html');
    const r = await runCli(['demo', '--json', '--report', reportFile], { cwd: REPO, timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout) as {
      summary: Record<string, number>;
      endpoints: Array<{ domain: string; status: string; daysLeft: number | null; problems: Array<{ code: string }> }>;
      demo: { report: string; planted: Array<{ domain: string; expect: string | null; ok: boolean }> };
    };
    assert.deepEqual(doc.summary, { ok: 2, warning: 2, critical: 3, unknown: 0 });
    assert.equal(doc.demo.report, reportFile);
    assert.ok(existsSync(reportFile));
    assert.deepEqual(doc.demo.planted.map((p) => [p.domain, p.ok]), PLANTED.map((p) => [p.domain, true]));
    for (const p of PLANTED) {
      const e = doc.endpoints.find((x) => x.domain === p.domain)!;
      assert.equal(e.status, p.status.toLowerCase());
      assert.deepEqual(e.problems.map((x) => x.code), p.problem === '-' ? [] : [p.problem]);
    }
    assert.equal(doc.endpoints.find((e) => e.domain === 'expiring.demo.test')!.daysLeft, 12);
  });

  it('--serve: the dashboard answers on loopback until SIGTERM, then it stops cleanly; --data-dir keeps the state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-demo-e2e-'));
    cleanup.push(dir);
    const dataDir = join(dir, 'state');
    const child = spawn(process.execPath, [README_CLI, 'demo', '--serve', '--data-dir', dataDir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
          const m = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/m.exec(stdout);
          if (m?.[1]) resolve(m[1]);
        });
        void exited.then((code) => reject(new Error(`certs demo --serve exited (${code}) before printing its URL\n${stdout}\n${stderr}`)));
      });
      const port = Number(new URL(url).port);
      const health = await get(port, '/healthz');
      assert.equal(health.status, 200, health.body);
      assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
      const page = await get(port, '/');
      assert.equal(page.status, 200, page.body.slice(0, 500));
      assert.match(page.type, /^text\/html/);
      for (const p of PLANTED) assert.ok(page.body.includes(p.domain), `dashboard lacks ${p.domain}`);

      child.kill('SIGTERM');
      assert.equal(await exited, 0, `${stdout}\n${stderr}`);
      await assert.rejects(get(port, '/healthz'), /ECONNREFUSED/);
      assert.ok(existsSync(join(dataDir, 'certs.db')), 'the store stays in --data-dir');
      assert.ok(existsSync(join(dataDir, 'report.html')), 'the report goes to <data-dir>/report.html');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
