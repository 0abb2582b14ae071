import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusCommand } from '../../src/cli/commands/scan.js';
import type { Io } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { LastRun } from '../../src/core/metrics.js';
import type { ReportDocument } from '../../src/core/report.js';
import { startStatusServer, type StatusServer } from '../../src/service/http.js';
import { openStore } from '../../src/store/index.js';
import { fakeCert, reportFor } from '../helpers/store-fixtures.js';

const SECRET = 'hunter2-webhook-secret';
const dir = mkdtempSync(join(tmpdir(), 'certs-status-server-'));
const configFile = join(dir, 'certs.yaml');
writeFileSync(configFile, `dataDir: ${join(dir, 'data')}
trust: { bundled: true, system: false }
daemon: { http: {} }
notify:
  webhook: { url: "http://127.0.0.1:9/hook", secret: "${SECRET}" }
domains:
  - { name: good.test, managed: false, endpoints: [{ host: good.test, port: 443 }, { host: good.test, port: 8443, address: 127.0.0.1 }] }
  - { name: bad.test, managed: true }
  - { name: never.test, managed: false }
`);

let config: Config = loadConfig(configFile, { env: {} });
let lastRun: LastRun | null = null;
let server: StatusServer;
let base: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection (no keep-alive), so nothing lingers after the test. */
function call(method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What `certs status --json` prints for the same config file. */
async function cliStatusJson(): Promise<ReportDocument> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const io: Io = { stdout: sink, stderr: sink, now: () => new Date('2025-06-02T00:00:00.000Z') };
  await statusCommand([], { json: true, config: configFile }, io);
  return JSON.parse(out) as ReportDocument;
}

function sampleLines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function populate(): void {
  const root = fakeCert('Root', { isCA: true });
  const goodLeaf = fakeCert('good.test', { issuer: root.info.subject, notAfter: '2026-01-01T00:00:00.000Z' });
  const badLeaf = fakeCert('bad.test', { issuer: 'CN=Gone', notAfter: '2025-06-20T00:00:00.000Z' });
  const store = openStore(config.dataDir);
  try {
    store.scans.recordMany([
      { report: reportFor({ domain: 'good.test' }, [goodLeaf, root]), chainDer: [goodLeaf.der, root.der] },
      { report: reportFor({ domain: 'good.test', port: 8443, address: '127.0.0.1' }, [goodLeaf, root]), chainDer: [goodLeaf.der, root.der] },
      {
        report: reportFor({ domain: 'bad.test' }, [badLeaf], {
          daysLeft: 18,
          problems: [
            { code: 'incomplete-chain', severity: 'critical', message: 'the issuer "CN=Gone" is neither served nor trusted' },
            { code: 'expiring-soon', severity: 'warning', message: 'expires in 18 days' },
          ],
        }),
        chainDer: [badLeaf.der],
      },
    ]);
    store.renewals.recordFailure('bad.test', { at: '2025-06-01T03:00:00.000Z', error: 'order failed', code: 'acme', nextAttemptAt: '2025-06-01T04:00:00.000Z' });
    store.renewals.recordFailure('bad.test', { at: '2025-06-01T04:00:00.000Z', error: 'order failed', code: 'acme', nextAttemptAt: '2025-06-01T06:00:00.000Z' });
    store.notifications.commitRun({
      at: '2025-06-01T04:00:00.000Z',
      markSent: [],
      activate: [],
      clear: [],
      messages: [{ key: 'digest:webhook:1', channel: 'webhook', to: [], subject: 's', text: 't', html: null, payload: { a: 1 }, createdAt: '2025-06-01T04:00:00.000Z', nextAttemptAt: '2025-06-01T04:00:00.000Z' }],
    });
  } finally {
    store.close();
  }
}

describe('status server (daemon.http)', () => {
  before(async () => {
    // `http: {}` means loopback, 127.0.0.1:9464; the test takes a free port on the same address.
    const http = config.daemon!.http!;
    assert.deepEqual(http, { address: '127.0.0.1', port: 9464 });
    server = await startStatusServer({ config: () => config, lastRun: () => lastRun, address: http.address, port: 0, version: '9.9.9-test' });
    base = `http://${server.address}:${server.port}`;
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on loopback on the port it picked', () => {
    assert.equal(server.address, '127.0.0.1');
    assert.ok(server.port > 0);
  });

  it('before anything is stored: starting, empty metrics, every target unknown', async () => {
    const h = await call('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.match(String(h.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(h.body), { status: 'starting', lastRun: null, version: '9.9.9-test' });

    const m = await call('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_expiration_timestamp_seconds'), []);
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_problems'), []);
    assert.deepEqual(sampleLines(m.body, 'certs_notifications_pending'), ['certs_notifications_pending 0']);

    const s = await call('GET', '/status');
    assert.equal(s.status, 200);
    const doc = JSON.parse(s.body) as ReportDocument;
    assert.deepEqual(doc.summary, { ok: 0, warning: 0, critical: 0, unknown: 4 });
    assert.deepEqual(doc.endpoints, (await cliStatusJson()).endpoints);
  });

  it('after a stored scan: /status is the document of `certs status --json`', async () => {
    populate();
    const s = await call('GET', '/status');
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^application\/json/);
    const doc = JSON.parse(s.body) as ReportDocument;
    assert.deepEqual(Object.keys(doc), ['generatedAt', 'summary', 'endpoints']);
    assert.ok(!Number.isNaN(Date.parse(doc.generatedAt)));
    const cli = await cliStatusJson();
    assert.deepEqual({ ...doc, generatedAt: 'x' }, { ...cli, generatedAt: 'x' });
    assert.deepEqual(doc.summary, { ok: 2, warning: 0, critical: 1, unknown: 1 });
    const bad = doc.endpoints.find((e) => e.domain === 'bad.test')!;
    assert.deepEqual(bad.problems.map((p) => p.code), ['incomplete-chain', 'expiring-soon', 'renewal-failing']);
    for (const e of doc.endpoints) {
      for (const k of ['domain', 'host', 'port', 'status', 'daysLeft', 'notAfter', 'fingerprint256', 'problems', 'scannedAt']) assert.ok(k in e, k);
      assert.equal(e.chain, undefined);
    }
    assert.ok(!s.body.includes(SECRET));
  });

  it('/metrics: expirations, problems, renewal failures, outbox, last run', async () => {
    lastRun = { startedAt: '2025-06-01T03:17:00.000Z', finishedAt: '2025-06-01T03:17:30.000Z', outcome: 'critical', exitCode: 2 };
    const m = await call('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_expiration_timestamp_seconds'), [
      'certs_certificate_expiration_timestamp_seconds{domain="good.test",endpoint="good.test:443"} 1767225600',
      'certs_certificate_expiration_timestamp_seconds{domain="good.test",endpoint="good.test:8443@127.0.0.1"} 1767225600',
      'certs_certificate_expiration_timestamp_seconds{domain="bad.test",endpoint="bad.test:443"} 1750377600',
    ]);
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_problems'), [
      'certs_certificate_problems{domain="bad.test",endpoint="bad.test:443",code="incomplete-chain"} 1',
      'certs_certificate_problems{domain="bad.test",endpoint="bad.test:443",code="expiring-soon"} 1',
      'certs_certificate_problems{domain="bad.test",endpoint="bad.test:443",code="renewal-failing"} 1',
    ]);
    assert.deepEqual(sampleLines(m.body, 'certs_renewal_failures_total'), ['certs_renewal_failures_total{domain="bad.test"} 2']);
    assert.deepEqual(sampleLines(m.body, 'certs_notifications_pending'), ['certs_notifications_pending 1']);
    assert.deepEqual(sampleLines(m.body, 'certs_last_run_timestamp_seconds'), ['certs_last_run_timestamp_seconds 1748747850']);
    assert.deepEqual(sampleLines(m.body, 'certs_last_run_success'), ['certs_last_run_success 1']);
    assert.ok(!m.body.includes(SECRET));
  });

  it('/healthz: ok after a run, degraded after a failed one, 503 when the run could not run', async () => {
    lastRun = { startedAt: '2025-06-01T03:17:00.000Z', finishedAt: '2025-06-01T03:17:30.000Z', outcome: 'critical', exitCode: 2 };
    let h = await call('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { status: 'ok', lastRun, version: '9.9.9-test' });

    lastRun = { ...lastRun, outcome: 'failed', exitCode: 1 };
    h = await call('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal((JSON.parse(h.body) as { status: string }).status, 'degraded');

    lastRun = { ...lastRun, outcome: 'error', exitCode: null, ...({ detail: SECRET } as object) };
    h = await call('GET', '/healthz');
    assert.equal(h.status, 503);
    assert.deepEqual(JSON.parse(h.body), {
      status: 'degraded',
      lastRun: { startedAt: lastRun.startedAt, finishedAt: lastRun.finishedAt, outcome: 'error', exitCode: null },
      version: '9.9.9-test',
    });
    assert.ok(!h.body.includes(SECRET), 'only the documented fields of the run are published');
  });

  it('HEAD answers headers only; a query string is ignored', async () => {
    const head = await call('HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.ok(Number(head.headers['content-length']) > 0);
    const q = await call('GET', '/status?pretty=1');
    assert.equal(q.status, 200);
  });

  it('404 for other paths, 405 (with Allow) for other methods on known paths', async () => {
    for (const path of ['/', '/nope', '/status/x', '/../etc/passwd']) assert.equal((await call('GET', path)).status, 404, path);
    assert.equal((await call('POST', '/nope')).status, 404);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await call(method, '/status');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('reads the current config on every request (SIGHUP)', async () => {
    const before = JSON.parse((await call('GET', '/status')).body) as ReportDocument;
    assert.equal(before.endpoints.length, 4);
    const previous = config;
    config = { ...config, domains: config.domains.filter((d) => d.name === 'bad.test') };
    try {
      const after = JSON.parse((await call('GET', '/status')).body) as ReportDocument;
      assert.deepEqual(after.endpoints.map((e) => e.domain), ['bad.test']);
    } finally {
      config = previous;
    }
  });

  it('closes cleanly, with a keep-alive connection open, and stops answering', async () => {
    const other = await startStatusServer({ config: () => config, lastRun: () => null, address: '127.0.0.1', port: 0, version: 'x' });
    const url = `http://127.0.0.1:${other.port}/healthz`;
    // fetch keeps its connection alive: close() must not wait for it to time out.
    assert.equal((await fetch(url)).status, 200);
    await other.close();
    await other.close(); // a second close is harmless
    await assert.rejects(fetch(url));
  });
});
