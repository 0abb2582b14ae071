// stale-deployment and renewal-failing laid over scan reports (src/core/renewal-status.ts):
// warning vs critical at criticalDays, what is not judged, unknown kept, idempotence.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  renewalFailingProblem,
  staleDeploymentProblem,
  withRenewalFailures,
  withStaleDeployments,
  type IssuedSummary,
  type RenewalFailure,
} from '../../../src/core/renewal-status.js';
import type { EndpointReport } from '../../../src/core/model.js';
import type { Problem, Severity, Status } from '../../../src/core/problems.js';

const CRITICAL_DAYS = 7;
const OLD_FP = 'AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11:AA:11';
const NEW_FP = 'BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22:BB:22';
const OTHER_FP = 'CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33:CC:33';

/** The newest issued version for d.test: expires 2030-03-31. */
const LATEST: IssuedSummary = { version: 3, fingerprint256: NEW_FP, notAfter: '2030-03-31T00:00:00.000Z' };

const problem = (code: Problem['code'], severity: Severity): Problem => ({ code, severity, message: code });

function report(over: Partial<EndpointReport> = {}): EndpointReport {
  return {
    domain: 'd.test',
    host: 'd.test',
    port: 443,
    address: '127.0.0.1',
    source: 'tls',
    status: 'ok',
    daysLeft: 20,
    notAfter: '2030-01-20T00:00:00.000Z',
    fingerprint256: OLD_FP,
    issuer: 'CN=Test CA',
    subject: 'CN=d.test',
    problems: [],
    scannedAt: '2030-01-01T00:00:00.000Z',
    ...over,
  };
}

describe('staleDeploymentProblem', () => {
  // [case, report overrides, expected severity or null (not judged)]
  const cases: Array<[string, Partial<EndpointReport>, Severity | null]> = [
    ['older cert served, far from expiry: warning', { daysLeft: 20 }, 'warning'],
    ['older cert served, one day outside the critical window: warning', { daysLeft: CRITICAL_DAYS + 1 }, 'warning'],
    ['older cert served, exactly at criticalDays: critical', { daysLeft: CRITICAL_DAYS }, 'critical'],
    ['older cert served, 1 day left: critical', { daysLeft: 1 }, 'critical'],
    ['older cert served and already expired: critical', { daysLeft: -2, notAfter: '2029-12-30T00:00:00.000Z' }, 'critical'],
    ['older cert served, daysLeft unknown: warning', { daysLeft: null }, 'warning'],
    ['the newest cert is served', { fingerprint256: NEW_FP, notAfter: LATEST.notAfter }, null],
    ['not ours and expires later: not judged', { fingerprint256: OTHER_FP, notAfter: '2031-01-01T00:00:00.000Z', daysLeft: 365 }, null],
    ['not ours, expires at the same instant: not judged', { fingerprint256: OTHER_FP, notAfter: LATEST.notAfter }, null],
    ['a file report is never a deployment', { source: 'file', file: '/etc/ssl/d.pem' }, null],
    ['nothing served (fingerprint null)', { fingerprint256: null, notAfter: null, daysLeft: null, status: 'critical', problems: [problem('unreachable', 'critical')] }, null],
    ['served cert without notAfter', { notAfter: null }, null],
  ];
  for (const [name, over, expected] of cases) {
    test(name, () => {
      const p = staleDeploymentProblem(report(over), LATEST, CRITICAL_DAYS);
      if (expected === null) {
        assert.equal(p, null);
        return;
      }
      assert.ok(p);
      assert.equal(p.code, 'stale-deployment');
      assert.equal(p.severity, expected);
    });
  }

  test('the message names both expiry dates, the version and the domain; the hint the command and host:port', () => {
    const p = staleDeploymentProblem(report(), LATEST, CRITICAL_DAYS);
    assert.ok(p);
    assert.match(p.message, /expiring 2030-01-20/);
    assert.match(p.message, /version 3 \(expiring 2030-03-31\) was issued for d\.test/);
    assert.match(p.hint ?? '', /certs nginx write d\.test/);
    assert.match(p.hint ?? '', /d\.test:443/);
  });
});

describe('withStaleDeployments', () => {
  const latest = new Map([['d.test', LATEST]]);
  // [case, report, expected codes after, expected status after]
  const cases: Array<[string, EndpointReport, string[], Status]> = [
    ['ok → warning', report(), ['stale-deployment'], 'warning'],
    ['ok → critical near expiry', report({ daysLeft: 3 }), ['stale-deployment'], 'critical'],
    ['an existing critical problem stays critical', report({ status: 'critical', problems: [problem('incomplete-chain', 'critical')] }), ['incomplete-chain', 'stale-deployment'], 'critical'],
    ['an existing warning plus a critical stale → critical', report({ status: 'warning', daysLeft: 2, problems: [problem('wrong-order', 'warning')] }), ['wrong-order', 'stale-deployment'], 'critical'],
    ['the newest cert served: untouched', report({ fingerprint256: NEW_FP, notAfter: LATEST.notAfter }), [], 'ok'],
    ['another domain: untouched', report({ domain: 'other.test', host: 'other.test' }), [], 'ok'],
    ['not ours, expires later: untouched', report({ fingerprint256: OTHER_FP, notAfter: '2031-01-01T00:00:00.000Z' }), [], 'ok'],
    // A never-scanned endpoint has nothing served to compare: it stays unknown.
    ['never scanned (unknown): kept unknown', report({ status: 'unknown', fingerprint256: null, notAfter: null, daysLeft: null, scannedAt: null }), [], 'unknown'],
    // Should a report be unknown and still carry a served certificate, unknown is kept too.
    ['unknown with a served older cert: problem added, unknown kept', report({ status: 'unknown' }), ['stale-deployment'], 'unknown'],
  ];
  for (const [name, r, codes, status] of cases) {
    test(name, () => {
      const [out] = withStaleDeployments([r], latest, CRITICAL_DAYS);
      assert.ok(out);
      assert.deepEqual(out.problems.map((p) => p.code), codes);
      assert.equal(out.status, status);
      if (codes.length === r.problems.length) assert.equal(out, r, 'an untouched report is passed through as is');
    });
  }

  test('idempotent: applying it twice adds the problem once', () => {
    const once = withStaleDeployments([report()], latest, CRITICAL_DAYS);
    const twice = withStaleDeployments(once, latest, CRITICAL_DAYS);
    assert.deepEqual(twice, once);
    assert.equal(twice[0]!.problems.filter((p) => p.code === 'stale-deployment').length, 1);
  });

  test('a report that already has stale-deployment (e.g. stored) is left as it is', () => {
    const existing: Problem = { code: 'stale-deployment', severity: 'warning', message: 'recorded earlier' };
    const r = report({ status: 'warning', problems: [existing] });
    const [out] = withStaleDeployments([r], latest, CRITICAL_DAYS);
    assert.equal(out, r);
  });

  test('no issued certificates: a copy of the input, in order, same objects', () => {
    const rs = [report(), report({ domain: 'other.test' })];
    const out = withStaleDeployments(rs, new Map(), CRITICAL_DAYS);
    assert.notEqual(out, rs);
    assert.deepEqual(out.map((x, i) => x === rs[i]), [true, true]);
  });

  test('the input is not mutated', () => {
    const r = report();
    const frozen = JSON.stringify(r);
    withStaleDeployments([r], latest, CRITICAL_DAYS);
    assert.equal(JSON.stringify(r), frozen);
  });

  test('each endpoint of a domain is judged on its own', () => {
    const a = report({ port: 443 });
    const b = report({ port: 8443, fingerprint256: NEW_FP, notAfter: LATEST.notAfter });
    const out = withStaleDeployments([a, b], latest, CRITICAL_DAYS);
    assert.deepEqual(out.map((x) => [x.port, x.status, x.problems.map((p) => p.code)]), [[443, 'warning', ['stale-deployment']], [8443, 'ok', []]]);
  });
});

describe('withRenewalFailures', () => {
  const failure: RenewalFailure = { failures: 3, lastError: 'urn:ietf:params:acme:error:connection: connection refused', lastAttemptAt: '2030-01-01T03:17:00.000Z', nextAttemptAt: '2030-01-01T09:17:00.000Z' };
  const failing = new Map([['d.test', failure]]);
  const cases: Array<[string, EndpointReport, string[], Status, Severity | null]> = [
    ['ok, far from expiry → warning', report({ fingerprint256: NEW_FP, notAfter: LATEST.notAfter, daysLeft: 40 }), ['renewal-failing'], 'warning', 'warning'],
    ['one day outside the critical window → warning', report({ daysLeft: CRITICAL_DAYS + 1 }), ['renewal-failing'], 'warning', 'warning'],
    ['exactly at criticalDays → critical', report({ daysLeft: CRITICAL_DAYS }), ['renewal-failing'], 'critical', 'critical'],
    ['expired → critical', report({ daysLeft: -1, status: 'critical', problems: [problem('expired', 'critical')] }), ['expired', 'renewal-failing'], 'critical', 'critical'],
    ['daysLeft unknown → warning', report({ daysLeft: null }), ['renewal-failing'], 'warning', 'warning'],
    ['never scanned: problem added, unknown kept', report({ status: 'unknown', fingerprint256: null, notAfter: null, daysLeft: null, scannedAt: null }), ['renewal-failing'], 'unknown', 'warning'],
    ['another domain: untouched', report({ domain: 'other.test' }), [], 'ok', null],
  ];
  for (const [name, r, codes, status, severity] of cases) {
    test(name, () => {
      const [out] = withRenewalFailures([r], failing, CRITICAL_DAYS);
      assert.ok(out);
      assert.deepEqual(out.problems.map((p) => p.code), codes);
      assert.equal(out.status, status);
      const p = out.problems.find((x) => x.code === 'renewal-failing');
      assert.equal(p?.severity ?? null, severity);
      if (codes.length === r.problems.length) assert.equal(out, r);
    });
  }

  test('unknown with a critical renewal failure ranks critical (critical outranks unknown)', () => {
    const [out] = withRenewalFailures([report({ status: 'unknown', daysLeft: 2 })], failing, CRITICAL_DAYS);
    assert.equal(out!.status, 'critical');
  });

  test('idempotent: applying it twice adds the problem once', () => {
    const once = withRenewalFailures([report()], failing, CRITICAL_DAYS);
    const twice = withRenewalFailures(once, failing, CRITICAL_DAYS);
    assert.deepEqual(twice, once);
    assert.equal(twice[0]!.problems.filter((p) => p.code === 'renewal-failing').length, 1);
  });

  test('message names the attempt time, the count and the error; the hint the command and the next attempt', () => {
    const p = renewalFailingProblem('d.test', failure, 20, CRITICAL_DAYS);
    assert.equal(p.message, 'the last renewal attempt (2030-01-01 03:17 UTC) failed (3 times in a row): urn:ietf:params:acme:error:connection: connection refused');
    assert.equal(p.hint, 'fix the cause, then run `certs renew d.test --force`; otherwise the next automatic attempt is after 2030-01-01 09:17 UTC');
    const single = renewalFailingProblem('d.test', { failures: 1, lastError: 'boom', lastAttemptAt: null, nextAttemptAt: null }, 20, CRITICAL_DAYS);
    assert.equal(single.message, 'the last renewal attempt failed: boom');
    assert.equal(single.hint, 'fix the cause, then run `certs renew d.test --force`');
  });

  test('no failures: a copy of the input', () => {
    const rs = [report()];
    const out = withRenewalFailures(rs, new Map(), CRITICAL_DAYS);
    assert.notEqual(out, rs);
    assert.equal(out[0], rs[0]);
  });

  test('both layers, as certs scan applies them: a failing renewal and a stale deployment on one endpoint', () => {
    const out = withStaleDeployments(withRenewalFailures([report({ daysLeft: 5 })], failing, CRITICAL_DAYS), new Map([['d.test', LATEST]]), CRITICAL_DAYS);
    assert.deepEqual(out[0]!.problems.map((p) => [p.code, p.severity]), [['renewal-failing', 'critical'], ['stale-deployment', 'critical']]);
    assert.equal(out[0]!.status, 'critical');
  });
});

describe('the critical window scales with the certificate lifetime (issue 12 §4)', () => {
  const WINDOW = { warningDays: 30, criticalDays: 7 };
  // A 6-day certificate: critical at 7 × 6 / 90 days = 11.2 hours before expiry.
  const six = (hoursLeft: number): EndpointReport => report({
    notBefore: '2030-01-01T00:00:00.000Z',
    notAfter: '2030-01-07T00:00:00.000Z',
    scannedAt: new Date(Date.parse('2030-01-07T00:00:00.000Z') - hoursLeft * 3_600_000).toISOString(),
    daysLeft: Math.floor(hoursLeft / 24),
  });
  const failing = new Map([['d.test', { failures: 2, lastError: 'boom', lastAttemptAt: null, nextAttemptAt: null } satisfies RenewalFailure]]);
  const severityOf = (r: EndpointReport, code: Problem['code']): Severity | undefined => r.problems.find((p) => p.code === code)?.severity;

  test('renewal-failing: a warning 2 days before a 6-day certificate expires (7 fixed days would say critical), critical 11 hours before', () => {
    assert.equal(severityOf(withRenewalFailures([six(48)], failing, WINDOW)[0]!, 'renewal-failing'), 'warning');
    assert.equal(severityOf(withRenewalFailures([six(11)], failing, WINDOW)[0]!, 'renewal-failing'), 'critical');
    assert.equal(severityOf(withRenewalFailures([six(48)], failing, CRITICAL_DAYS)[0]!, 'renewal-failing'), 'critical', 'a plain number keeps the unscaled rule');
  });

  test('stale-deployment: the same window', () => {
    const latest = new Map([['d.test', LATEST]]);
    assert.equal(severityOf(withStaleDeployments([six(48)], latest, WINDOW)[0]!, 'stale-deployment'), 'warning');
    assert.equal(severityOf(withStaleDeployments([six(11)], latest, WINDOW)[0]!, 'stale-deployment'), 'critical');
  });

  test('a 90-day certificate keeps 7 whole days', () => {
    const r = report({ notBefore: '2029-10-22T00:00:00.000Z', notAfter: '2030-01-20T00:00:00.000Z', daysLeft: 7 });
    assert.equal(severityOf(withRenewalFailures([r], failing, WINDOW)[0]!, 'renewal-failing'), 'critical');
    assert.equal(severityOf(withRenewalFailures([{ ...r, daysLeft: 8 }], failing, WINDOW)[0]!, 'renewal-failing'), 'warning');
  });
});
