/** `certs status <name>`: each problem's fix is worded for its domain (core/advice.ts), as in the email. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderDetail } from '../../../src/cli/render.js';
import { adviceContextOf, problemFix } from '../../../src/core/advice.js';
import type { EndpointReport } from '../../../src/core/model.js';

const report: EndpointReport = {
  domain: 'shop.example', host: 'shop.example', port: 443, source: 'tls', status: 'critical', daysLeft: 40,
  notAfter: '2027-01-01T00:00:00.000Z', fingerprint256: 'AA', issuer: 'CN=R11', subject: 'CN=shop.example',
  problems: [{ code: 'incomplete-chain', severity: 'critical', message: 'the intermediate is missing', hint: 'serve the full chain' }],
  scannedAt: '2026-11-22T00:00:00.000Z',
};

describe('status detail fixes', () => {
  it('a managed domain is told to deploy certs’ own chain, a monitor-only one to fix its file; without a domain, the scan’s hint', () => {
    const now = new Date('2026-11-22T00:00:00.000Z');
    const managed = adviceContextOf(report, { managed: true }, 'shop.example:443');
    const monitor = adviceContextOf(report, { managed: false, files: { cert: '/etc/ssl/shop.pem' } }, 'shop.example:443');
    const a = renderDetail(report, false, now, undefined, (p) => problemFix(p, managed));
    const b = renderDetail(report, false, now, undefined, (p) => problemFix(p, monitor));
    assert.match(a, /fix: .*`certs nginx write shop\.example`/);
    assert.match(b, /fix: put the full chain in \/etc\/ssl\/shop\.pem/);
    assert.doesNotMatch(b, /certs (renew|issue|nginx write)/);
    assert.match(renderDetail(report, false, now), /fix: serve the full chain$/m);
  });
});
