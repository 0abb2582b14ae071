/**
 * The dashboard reads its rows lean (store/dashboard-rows.ts + service/dashboard.ts placedRows)
 * instead of building every report: the rows must be those made from `status`'s reports
 * (rowsFromReports), for every kind of stored field, address mode and lifecycle state.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { byUrgency } from '../../../src/core/dashboard.js';
import type { EndpointReport } from '../../../src/core/model.js';
import { openStore } from '../../../src/store/index.js';
import type { IssuedCert } from '../../../src/store/issued.js';
import { dashboardData, placedRows, rowsFromReports } from '../../../src/service/dashboard.js';
import { fakeCert, reportFor } from '../../helpers/store-fixtures.js';
import { a } from '../../helpers/async-store.js';

const NOW = new Date('2025-06-03T00:00:00.000Z');
const dir = mkdtempSync(join(tmpdir(), 'certs-dashboard-rows-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const odd = ['quote " and \\ backslash', 'tab\tnewline\n', 'nul \u0000 and \u001e separators', 'ünïcödé 😀 \u2028', '<script>x</script>'];

function scans(): { report: EndpointReport; chainDer: Buffer[] }[] {
  const inter = fakeCert('Inter', { isCA: true });
  const out: { report: EndpointReport; chainDer: Buffer[] }[] = [];
  const add = (target: Parameters<typeof reportFor>[0], over: Partial<EndpointReport> = {}, opts: Parameters<typeof reportFor>[2] = {}) => {
    const leaf = fakeCert(`${target.domain}|${target.host ?? ''}|${target.address ?? ''}|${out.length}`, { issuer: inter.info.subject, notAfter: '2025-08-01T00:00:00.000Z' });
    const report = { ...reportFor(target, [leaf, inter], opts), ...over };
    out.push({ report, chainDer: [leaf.der, inter.der] });
  };
  add({ domain: 'plain.example' });
  add({ domain: 'dated.example' }, { notBefore: '2025-05-01T00:00:00.000Z', leafNotAfter: '2025-09-01T00:00:00.000Z' });
  add({ domain: 'null-dated.example' }, { notBefore: null });
  add({ domain: 'file.example', host: 'file.example', port: 0, source: 'file' }, { file: '/etc/ssl/file.pem', servedCount: 1 });
  add({ domain: 'problems.example' }, {}, { problems: [{ code: 'expiring-soon', severity: 'warning', message: 'expires in 12 days', hint: 'renew it' }, { code: 'incomplete-chain', severity: 'critical', message: 'x' }] });
  add({ domain: 'days.example' }, { daysLeft: -3 });
  add({ domain: 'days-null.example' }, { daysLeft: null, notAfter: null, fingerprint256: null, issuer: null, subject: null });
  add({ domain: 'extra.example' }, { error: 'boom', note: 'a note', protocol: null, crossCheck: undefined });
  odd.forEach((s, i) => add({ domain: `odd${i}.example` }, { subject: s, issuer: `${s} CA` }));
  for (const [address, at] of [['192.0.2.10', '2025-06-01T12:00:00.000Z'], ['192.0.2.9', '2025-06-01T12:00:01.000Z'], ['2001:db8::1', '2025-06-01T12:00:00.500Z'], ['192.0.2.99', '2025-06-01T10:00:00.000Z']] as const) {
    add({ domain: 'multi.example', address }, {}, { scannedAt: at });
  }
  add({ domain: 'one-address.example', address: '198.51.100.7' });
  add({ domain: 'plain-newest.example', address: '198.51.100.8' }, {}, { scannedAt: '2025-06-01T11:00:00.000Z' });
  add({ domain: 'plain-newest.example' }, {}, { scannedAt: '2025-06-01T12:00:00.000Z' });
  add({ domain: 'fixed.example', address: '203.0.113.5' });
  add({ domain: 'fixed.example', address: '203.0.113.6' });
  add({ domain: 'removed.example' });
  add({ domain: 'stale.example' }, { notAfter: '2025-07-01T00:00:00.000Z' });
  add({ domain: 'current.example' });
  add({ domain: 'renewfail.example' });
  add({ domain: 'deployfail.example' });
  return out;
}

const CONFIG = `dataDir: ./data
acme: {directory: 'https://acme.test/directory', email: ops@example.com, agreeToTerms: true, challenge: {type: http-01, webroot: /srv/w}}
domains:
${['plain', 'dated', 'null-dated', 'problems', 'days', 'days-null', 'extra', 'multi', 'one-address', 'plain-newest', ...odd.map((_, i) => `odd${i}`)]
  .map((d) => `  - {name: ${d}.example, managed: false}\n`).join('')}  - {name: file.example, managed: false, endpoints: [], files: {cert: /etc/ssl/file.pem}}
  - {name: fixed.example, managed: false, endpoints: [{host: fixed.example}, {host: fixed.example, address: 203.0.113.5}]}
  - {name: never.example, managed: false}
  - {name: stale.example}
  - {name: current.example}
  - {name: renewfail.example}
  - {name: deployfail.example}
`;

function issued(lineage: string, fingerprint256: string, notAfter: string): IssuedCert {
  return {
    lineage, version: 2, fingerprint256, serial: '02', notBefore: '2025-05-01T00:00:00.000Z', notAfter, issuer: 'CN=Inter', names: [lineage],
    keyType: 'ecdsa-p256', directoryUrl: 'https://acme.test/directory', profile: null, ariCertId: null, replacedId: null,
    dir: `/data/certs/${lineage}/archive/2`, issuedAt: '2025-05-01T00:05:00.000Z', reason: 'test', revokedAt: null, revokeReason: null,
  };
}

describe('dashboard rows read lean', () => {
  it('equal the rows made from status’s reports, in both address modes, with every lifecycle state', async () => {
    const items = scans();
    const store = openStore(join(dir, 'data'));
    try {
      store.scans.recordMany(items);
      const byDomain = new Map(items.map((i) => [i.report.domain, i.report]));
      store.issued.record(issued('stale.example', 'FF:NEW', '2025-09-01T00:00:00.000Z'));
      store.issued.record(issued('current.example', byDomain.get('current.example')!.fingerprint256!, '2026-01-01T00:00:00.000Z'));
      store.renewals.recordFailure('renewfail.example', { at: '2025-06-01T00:00:00.000Z', error: 'rate limited', code: 'acme', nextAttemptAt: '2025-06-02T00:00:00.000Z' });
      store.deployments.recordFailure({ lineage: 'deployfail.example', version: 2, fingerprint256: null, code: 'reload', detail: 'nginx -s reload failed', at: '2025-06-01T00:00:00.000Z' });
    } finally {
      store.close();
    }
    const ro = openStore(join(dir, 'data'), { readonly: true })!;
    try {
      for (const mode of ['all', 'first']) {
        const config = parseConfigText(`scan: {addresses: ${mode}}\n${CONFIG}`, join(dir, 'certs.yaml'), { env: {} });
        const want = byUrgency(await rowsFromReports(config, a(ro), NOW));
        const got = byUrgency(await placedRows(config, a(ro), NOW));
        assert.deepEqual(got, want, `scan.addresses ${mode}`);
        // Not vacuous: what the world has is in the rows.
        const codes = new Set(got.flatMap((r) => r.problems.map((p) => p.code)));
        for (const c of ['stale-deployment', 'renewal-failing', 'deploy-failed', 'expiring-soon', 'incomplete-chain']) assert.ok(codes.has(c), `${mode}: ${c}`);
        assert.ok(got.some((r) => r.domain === 'never.example' && r.id === null && r.status === 'unknown'));
        assert.ok(got.some((r) => r.endpoint === '/etc/ssl/file.pem'));
        assert.ok(got.some((r) => r.lifetimeLeft !== null && r.notBefore === '2025-05-01T00:00:00.000Z'));
        assert.ok(!got.some((r) => r.domain === 'removed.example'));
        assert.deepEqual((await dashboardData(config, a(ro), NOW)).rows, got);
      }
      const all = byUrgency(await placedRows(parseConfigText(CONFIG, join(dir, 'certs.yaml'), { env: {} }), a(ro), NOW));
      assert.deepEqual(all.filter((r) => r.domain === 'multi.example').map((r) => r.address).sort(), ['192.0.2.10', '192.0.2.9', '2001:db8::1'], 'an address gone from DNS is not shown');
    } finally {
      ro.close();
    }
  });
});
