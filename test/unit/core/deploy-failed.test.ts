// deploy-failed (issue #10 §2): a version nginx refused is visible on the domain's reports and
// alerts like renewal-failing, at any severity.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withDeployFailures, type DeployFailure } from '../../../src/core/deploy-status.js';
import { isAlertingProblem } from '../../../src/core/notify-policy.js';
import { isProblemCode } from '../../../src/core/problems.js';
import type { EndpointReport } from '../../../src/core/model.js';

const report = (over: Partial<EndpointReport> = {}): EndpointReport => ({
  domain: 'd.test', host: 'd.test', port: 443, source: 'tls', status: 'ok', daysLeft: 40, notAfter: '2027-01-01T00:00:00.000Z',
  fingerprint256: 'AA', problems: [], scannedAt: '2026-12-01T00:00:00.000Z', ...over,
} as EndpointReport);
const failure: DeployFailure = { version: 2, code: 'nginx-test', detail: 'nginx refused the new configuration: unknown directive', failures: 2, lastAt: '2026-12-03T08:00:00.000Z' };

describe('deploy-failed', () => {
  it('is a stable problem code that alerts as a warning', () => {
    assert.equal(isProblemCode('deploy-failed'), true);
    assert.equal(isAlertingProblem({ code: 'deploy-failed', severity: 'warning' }), true);
  });

  it('is laid over the domain\'s reports: a warning naming the version, critical within criticalDays', () => {
    const [ok, near, other] = withDeployFailures([report(), report({ port: 8443, daysLeft: 3 }), report({ domain: 'x.test' })], new Map([['d.test', failure]]), 7);
    assert.deepEqual(ok!.problems.map((p) => [p.code, p.severity]), [['deploy-failed', 'warning']]);
    assert.equal(ok!.status, 'warning');
    assert.match(ok!.problems[0]!.message, /^version 2 was issued but not deployed \(2026-12-03 08:00 UTC, 2 times in a row\): nginx refused/);
    assert.match(ok!.problems[0]!.hint!, /certs nginx write d\.test/);
    assert.equal(near!.status, 'critical');
    assert.deepEqual(other!.problems, []);
  });

  it('replaces stale-deployment on the same report: the refused deploy is why the old certificate is served', () => {
    const stale = { code: 'stale-deployment' as const, severity: 'warning' as const, message: 'serves an older certificate' };
    const keep = { code: 'incomplete-chain' as const, severity: 'critical' as const, message: 'x' };
    const [r] = withDeployFailures([report({ status: 'critical', problems: [keep, stale] })], new Map([['d.test', failure]]), 7);
    assert.deepEqual(r!.problems.map((p) => p.code), ['incomplete-chain', 'deploy-failed']);
    assert.equal(r!.status, 'critical');
    // A stored report that already carries both (laid over when it was scanned) is cleaned too.
    const [again] = withDeployFailures([report({ status: 'warning', problems: [stale, ...r!.problems.slice(1)] })], new Map([['d.test', failure]]), 7);
    assert.deepEqual(again!.problems.map((p) => p.code), ['deploy-failed']);
    assert.equal(again!.status, 'warning');
  });

  it('nginx not running says to start it', () => {
    const [r] = withDeployFailures([report()], new Map([['d.test', { ...failure, code: 'nginx-not-running' }]]), 7);
    assert.match(r!.problems[0]!.hint!, /^start nginx/);
  });
});

describe('deploy-failed: the critical window scales with the lifetime', () => {
  it('a 6-day certificate is a warning 2 days before expiry and critical 10 hours before', () => {
    const at = (hoursLeft: number) => report({ notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-01-07T00:00:00.000Z', scannedAt: new Date(Date.parse('2030-01-07T00:00:00.000Z') - hoursLeft * 3_600_000).toISOString(), daysLeft: Math.floor(hoursLeft / 24) });
    const window = { warningDays: 30, criticalDays: 7 };
    assert.equal(withDeployFailures([at(48)], new Map([['d.test', failure]]), window)[0]!.problems.find((p) => p.code === 'deploy-failed')?.severity, 'warning');
    assert.equal(withDeployFailures([at(10)], new Map([['d.test', failure]]), window)[0]!.problems.find((p) => p.code === 'deploy-failed')?.severity, 'critical');
  });
});
