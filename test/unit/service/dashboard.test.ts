/**
 * The dashboard's data (service/dashboard.ts): rows as `status` shows them with their stored
 * endpoint's id, most urgent first; the cards and timeline counted from them; the last recorded
 * run; and one endpoint's detail (chain, problems with fixes, history, renewals, deployments,
 * notifications about it). Nothing from the config but names and endpoints.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { dashboardData, endpointDetail, runView } from '../../../src/service/dashboard.js';
import type { Problem } from '../../../src/core/problems.js';
import { fakeCert, reportFor } from '../../helpers/store-fixtures.js';
import { a } from '../../helpers/async-store.js';

const NOW = new Date('2025-12-01T00:00:00.000Z');
const DAY = 86_400_000;
const iso = (days: number): string => new Date(NOW.getTime() + days * DAY).toISOString();
const root = mkdtempSync(join(tmpdir(), 'certs-dashboard-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;

const SECRET_URL = 'https://hooks.example/T0KEN-s3cret';
const CONFIG = `dataDir: ./data
acme: {directory: 'https://acme.test/directory', email: ops@example.com, agreeToTerms: true, challenge: {type: http-01, webroot: /srv/acme-webroot-secret}}
nginx: {snippetDir: /etc/nginx/snippet-dir-secret}
notify: {webhook: {url: '${SECRET_URL}'}}
domains:
  - {name: ok.example, managed: false}
  - {name: warn.example, managed: false}
  - {name: crit.example, managed: false, endpoints: [{host: crit.example, port: 8443, address: 192.0.2.7}]}
  - {name: managed.example, nginx: true}
  - {name: never.example, managed: false}
`;

const inter = fakeCert('Dash Intermediate', { isCA: true });

interface World { dir: string; config: Config; store: Store }

function world(): World {
  const dir = join(root, `w${++seq}`);
  const config = parseConfigText(CONFIG, join(dir, 'certs.yaml'), { env: {} });
  const store = openStore(config.dataDir);
  const scan = (domain: string, opts: { host?: string; port?: number; address?: string; daysLeft: number; notAfter: string; at?: string; problems?: Problem[] }) => {
    const leaf = fakeCert(`${domain} leaf`, { issuer: inter.info.subject, notAfter: opts.notAfter });
    // The leaf lived 100 days before NOW; the report itself has no notBefore (the store's certificate has).
    leaf.info.notBefore = iso(-100);
    const report = reportFor({ domain, host: opts.host ?? domain, port: opts.port ?? 443, ...(opts.address ? { address: opts.address } : {}) }, [leaf, inter], { daysLeft: opts.daysLeft, scannedAt: opts.at ?? iso(-0.5), problems: opts.problems ?? [] });
    store.scans.record(report, [leaf.der, inter.der]);
  };
  scan('ok.example', { daysLeft: 80, notAfter: iso(80) });
  scan('warn.example', { daysLeft: 20, notAfter: iso(20), problems: [{ code: 'expiring-soon', severity: 'warning', message: 'warn.example:443 expires in 20 days', hint: 'renew it before then' }] });
  scan('crit.example', { host: 'crit.example', port: 8443, address: '192.0.2.7', daysLeft: 5, notAfter: iso(5), problems: [{ code: 'incomplete-chain', severity: 'critical', message: 'the intermediate is missing', hint: 'serve the fullchain' }] });
  // managed.example: two older scans, then the latest.
  scan('managed.example', { daysLeft: 62, notAfter: iso(62), at: iso(-2) });
  scan('managed.example', { daysLeft: 61, notAfter: iso(62), at: iso(-1) });
  scan('managed.example', { daysLeft: 60, notAfter: iso(62), at: iso(-0.5) });
  return { dir, config, store };
}

describe('dashboardData', () => {
  it('one row per configured endpoint, most urgent first, each with its stored id; never scanned: no id', async () => {
    const { config, store } = world();
    try {
      const data = await dashboardData(config, a(store), NOW, { version: '9.9.9' });
      assert.equal(data.generatedAt, NOW.toISOString());
      assert.equal(data.version, '9.9.9');
      assert.deepEqual(data.rows.map((r) => [r.domain, r.status]), [
        ['crit.example', 'critical'], ['warn.example', 'warning'], ['never.example', 'unknown'], ['managed.example', 'ok'], ['ok.example', 'ok'],
      ]);
      const ids = new Map((store.db.prepare('SELECT domain, id FROM endpoints').raw().all() as [string, number][]));
      for (const r of data.rows) assert.equal(r.id, ids.get(r.domain) ?? null, r.domain);
      assert.equal(data.rows.find((r) => r.domain === 'never.example')!.id, null);
      const crit = data.rows[0]!;
      assert.equal(crit.endpoint, 'crit.example:8443 @192.0.2.7');
      assert.equal(crit.address, '192.0.2.7');
      assert.deepEqual(crit.problems, [{ code: 'incomplete-chain', severity: 'critical' }]);
      assert.equal(data.rows.find((r) => r.domain === 'managed.example')!.managed, true);
      assert.equal(data.rows.find((r) => r.domain === 'ok.example')!.managed, false);
    } finally {
      store.close();
    }
  });

  it('the lifetime bar is the share of the leaf’s lifetime ahead, from the stored certificate’s notBefore', async () => {
    const { config, store } = world();
    try {
      const rows = (await dashboardData(config, a(store), NOW)).rows;
      const warn = rows.find((r) => r.domain === 'warn.example')!;
      assert.equal(warn.notBefore, iso(-100));
      assert.ok(Math.abs(warn.lifetimeLeft! - 20 / 120) < 1e-9, String(warn.lifetimeLeft));
      assert.equal(rows.find((r) => r.domain === 'never.example')!.lifetimeLeft, null);
    } finally {
      store.close();
    }
  });

  it('cards and timeline are counted from the rows; a never-scanned one is not on the timeline', async () => {
    const { config, store } = world();
    try {
      const data = await dashboardData(config, a(store), NOW);
      assert.deepEqual(data.summary, { ok: 2, warning: 1, critical: 1, unknown: 1, within7: 1, within30: 2, total: 5 });
      assert.equal(data.timeline.length, 13);
      assert.equal(data.timeline[0]!.start, NOW.toISOString());
      const sum = (w: (typeof data.timeline)[number]) => Object.values(w.managed).reduce((a, b) => a + b, 0) + Object.values(w.monitored).reduce((a, b) => a + b, 0);
      assert.deepEqual(data.timeline.map(sum), [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0], 'crit (5 days) in week 0, warn (20) in week 2, managed (62) in week 8, ok (80) in week 11');
      assert.equal(data.timeline[8]!.managed.ok, 1);
      assert.equal(data.timeline[11]!.monitored.ok, 1);
    } finally {
      store.close();
    }
  });

  it('the last run is the newest finished one the store recorded; a run in progress is not it; opts.lastRun overrides', async () => {
    const { config, store } = world();
    try {
      assert.equal((await dashboardData(config, a(store), NOW)).lastRun, null, 'no run recorded yet');
      const id = store.runs.start(iso(-1));
      store.runs.finish(id, { finishedAt: iso(-0.99), outcome: 'warning', exitCode: 1, summary: { renewed: ['managed.example'], deployed: ['managed.example'], failed: [], notified: 2 } });
      store.runs.start(iso(-0.1));
      assert.deepEqual((await dashboardData(config, a(store), NOW)).lastRun, {
        startedAt: iso(-1), finishedAt: iso(-0.99), outcome: 'warning', renewed: ['managed.example'], deployed: ['managed.example'], notified: 2, failed: [],
      });
      assert.equal((await dashboardData(config, a(store), NOW, { lastRun: null })).lastRun, null);
      assert.equal(runView({ id: 1, startedAt: iso(0), finishedAt: null, outcome: null, exitCode: null, summary: null }), null);
    } finally {
      store.close();
    }
  });

  it('no store yet: every configured endpoint is unknown, no run', async () => {
    const { config, store } = world();
    store.close();
    const data = await dashboardData(config, null, NOW);
    assert.deepEqual(data.rows.map((r) => r.status), ['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
    assert.equal(data.summary.unknown, 5);
    assert.equal(data.lastRun, null);
  });

  it('nothing from the config but names and endpoints: no URL, path or e-mail address', async () => {
    const { config, store } = world();
    try {
      const text = JSON.stringify(await dashboardData(config, a(store), NOW));
      for (const secret of ['T0KEN', 'snippet-dir-secret', 'acme-webroot-secret', 'ops@example.com', 'acme.test']) assert.ok(!text.includes(secret), secret);
    } finally {
      store.close();
    }
  });
});

describe('endpointDetail', () => {
  const idOf = (store: Store, domain: string): number => store.db.prepare('SELECT id FROM endpoints WHERE domain = ?').pluck().get(domain) as number;

  it('the row, the chain in served order, each problem with its fix, the history oldest first', async () => {
    const { config, store } = world();
    try {
      const d = (await endpointDetail(config, a(store), idOf(store, 'crit.example'), NOW))!;
      assert.equal(d.row.domain, 'crit.example');
      assert.equal(d.row.id, idOf(store, 'crit.example'));
      assert.deepEqual(d.chain.map((c) => c.subject), ['CN=crit.example leaf', 'CN=Dash Intermediate']);
      assert.equal(d.servedCount, 2);
      // The fix as the email words it for a monitor-only domain without files (core/advice.ts), not the scan's generic hint.
      assert.deepEqual(d.problems, [{ code: 'incomplete-chain', severity: 'critical', message: 'the intermediate is missing', hint: 'serve the full chain (fullchain.pem: leaf first, then its intermediates) instead of the leaf alone (cert.pem)' }]);
      const m = (await endpointDetail(config, a(store), idOf(store, 'managed.example'), NOW))!;
      assert.deepEqual(m.history.map((h) => [h.scannedAt, h.daysLeft, h.status]), [[iso(-2), 62, 'ok'], [iso(-1), 61, 'ok'], [iso(-0.5), 60, 'ok']]);
    } finally {
      store.close();
    }
  });

  it('renewals, deployments and notifications of the domain; no snippet path, recipient or server response', async () => {
    const { config, store } = world();
    try {
      const a1 = store.renewals.attemptStarted('managed.example', iso(-3), 'due: 1/3 of the lifetime left');
      store.renewals.attemptFinished(a1, { at: iso(-2.99), outcome: 'failed', error: 'the CA said no' });
      const a2 = store.renewals.attemptStarted('managed.example', iso(-2), 'due: 1/3 of the lifetime left');
      store.issued.record({
        lineage: 'managed.example', version: 3, fingerprint256: 'AA:BB', serial: '03', notBefore: iso(-2), notAfter: iso(62), issuer: 'CN=Dash Intermediate', names: ['managed.example'],
        keyType: 'ecdsa-p256', directoryUrl: 'https://acme.test/directory', profile: null, ariCertId: null, replacedId: null, dir: '/data/x/3', issuedAt: iso(-1.995), reason: 'due', revokedAt: null, revokeReason: null,
      });
      store.renewals.attemptFinished(a2, { at: iso(-1.99), outcome: 'issued' });
      store.deployments.save({ lineage: 'managed.example', snippetPath: '/etc/nginx/snippet-dir-secret/managed.conf', snippetSha256: 'x', fingerprint256: 'AA:BB', version: 3, deployedAt: iso(-1.98), verifiedAt: iso(-1.97), staleSince: null, staleDetail: null });
      const payload = (domain: string, endpoint: string) => ({ events: [{ kind: 'expiry', domain, endpoint, message: `${endpoint} expires` }] });
      store.notifications.commitRun({
        at: iso(-1), markSent: [], activate: [], clear: [],
        messages: [
          { key: 'digest:webhook:1', channel: 'webhook', to: [], subject: 'certs: managed.example expires', text: 'managed.example:443 expires', html: null, payload: payload('managed.example', 'managed.example:443'), createdAt: iso(-1), nextAttemptAt: iso(-1) },
          { key: 'digest:webhook:2', channel: 'webhook', to: [], subject: 'certs: other', text: 'managed.example:4430 expires', html: null, payload: payload('ok.example', 'ok.example:443'), createdAt: iso(-0.9), nextAttemptAt: iso(-0.9) },
          { key: 'digest:email:3', channel: 'email', to: ['boss@example.com'], subject: 'certs: 1 warning', text: 'WARNING managed.example:443 expires in 60 days', html: null, payload: null, createdAt: iso(-0.8), nextAttemptAt: iso(-0.8) },
          { key: 'digest:email:4', channel: 'email', to: ['boss@example.com'], subject: 'certs: unrelated', text: 'WARNING managed.example:4430 and managed.example:443 @10.0.0.1', html: null, payload: null, createdAt: iso(-0.7), nextAttemptAt: iso(-0.7) },
        ],
      });
      const sent = store.notifications.list({ limit: 10 });
      store.notifications.markDelivered(sent.find((m) => m.key === 'digest:webhook:1')!.id, iso(-0.99), 'HTTP 200 secret-response');
      const d = (await endpointDetail(config, a(store), idOf(store, 'managed.example'), NOW))!;
      assert.deepEqual(d.renewals, [
        { at: iso(-2), ok: true, version: 3, detail: 'due: 1/3 of the lifetime left' },
        { at: iso(-3), ok: false, version: null, detail: 'the CA said no' },
      ]);
      assert.deepEqual(d.deployments, [{ at: iso(-1.98), version: 3, state: 'verified', detail: '' }]);
      assert.deepEqual(d.notifications, [
        { at: iso(-0.8), subject: 'certs: 1 warning', state: 'pending' },
        { at: iso(-1), subject: 'certs: managed.example expires', state: 'delivered' },
      ]);
      const text = JSON.stringify(d);
      for (const secret of ['snippet-dir-secret', 'boss@example.com', 'secret-response', 'T0KEN']) assert.ok(!text.includes(secret), secret);
    } finally {
      store.close();
    }
  });

  it('a deploy failure waiting for a retry is listed with its code; a monitor-only domain has no renewals', async () => {
    const { config, store } = world();
    try {
      store.deployments.recordFailure({ lineage: 'ok.example', version: null, fingerprint256: null, code: 'nginx-test', detail: 'nginx -t failed', at: iso(-1) });
      const d = (await endpointDetail(config, a(store), idOf(store, 'ok.example'), NOW))!;
      assert.deepEqual(d.deployments, [{ at: iso(-1), version: null, state: 'failed', detail: 'nginx-test: nginx -t failed' }]);
      assert.deepEqual(d.renewals, []);
    } finally {
      store.close();
    }
  });

  it('null for an unknown id, a malformed one, and an endpoint whose domain left the inventory', async () => {
    const { dir, config, store } = world();
    try {
      assert.equal(await endpointDetail(config, a(store), 9999, NOW), null);
      assert.equal(await endpointDetail(config, a(store), 0, NOW), null);
      assert.equal(await endpointDetail(config, a(store), 1.5, NOW), null);
      const fewer = parseConfigText(CONFIG.replace('  - {name: ok.example, managed: false}\n', ''), join(dir, 'certs.yaml'), { env: {} });
      const id = idOf(store, 'ok.example');
      assert.ok(await endpointDetail(config, a(store), id, NOW));
      assert.equal(await endpointDetail(fewer, a(store), id, NOW), null);
    } finally {
      store.close();
    }
  });
});
