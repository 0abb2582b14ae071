import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointReport } from '../../../src/core/model.js';
import { endpointLabel, escapeLabelValue, renderMetrics, unixSeconds, type LastRun, type MetricsInput } from '../../../src/core/metrics.js';

const FAMILIES = [
  ['certs_certificate_expiration_timestamp_seconds', 'gauge'],
  ['certs_certificate_problems', 'gauge'],
  ['certs_renewal_failures_total', 'counter'],
  ['certs_last_run_timestamp_seconds', 'gauge'],
  ['certs_last_run_success', 'gauge'],
  ['certs_notifications_pending', 'gauge'],
  ['certs_node_last_seen_timestamp_seconds', 'gauge'],
] as const;

function report(over: Partial<EndpointReport> & { domain: string }): EndpointReport {
  return {
    host: over.domain,
    port: 443,
    source: 'tls',
    status: 'ok',
    daysLeft: 40,
    notAfter: '2026-01-01T00:00:00.000Z',
    fingerprint256: 'AA:BB',
    issuer: 'CN=CA',
    subject: `CN=${over.domain}`,
    problems: [],
    scannedAt: '2025-11-22T00:00:00.000Z',
    ...over,
  };
}

function input(over: Partial<MetricsInput> = {}): MetricsInput {
  return { reports: [], renewalFailures: new Map(), lastRun: null, pending: 0, ...over };
}

/** Sample lines (not comments) of one family. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** A minimal parser of the text format: each sample line must match it. */
const SAMPLE_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (NaN|[+-]Inf|-?[0-9.]+(e[+-]?[0-9]+)?)$/;

function assertWellFormed(text: string): void {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    assert.match(line, SAMPLE_LINE);
  }
}

describe('renderMetrics', () => {
  it('certs_node_last_seen_timestamp_seconds: one gauge per node, the label escaped', () => {
    const text = renderMetrics(input({ nodes: [{ name: 'web-1', lastSeenAt: '2030-01-01T00:00:00.000Z' }, { name: 'odd"\\name', lastSeenAt: '2030-01-01T00:00:01.500Z' }, { name: 'broken', lastSeenAt: 'never' }] }));
    assertWellFormed(text);
    assert.deepEqual(samples(text, 'certs_node_last_seen_timestamp_seconds'), [
      'certs_node_last_seen_timestamp_seconds{node="web-1"} 1893456000',
      'certs_node_last_seen_timestamp_seconds{node="odd\\"\\\\name"} 1893456001.5',
    ]);
    assert.match(text, /# TYPE certs_node_last_seen_timestamp_seconds gauge/);
  });

  it('empty input: every family has HELP and TYPE exactly once, only the pending gauge has a sample', () => {
    const text = renderMetrics(input());
    assertWellFormed(text);
    for (const [name, type] of FAMILIES) {
      assert.equal(text.split('\n').filter((l) => l.startsWith(`# HELP ${name} `)).length, 1, name);
      assert.deepEqual(text.split('\n').filter((l) => l.startsWith(`# TYPE ${name} `)), [`# TYPE ${name} ${type}`]);
    }
    assert.deepEqual(samples(text, 'certs_notifications_pending'), ['certs_notifications_pending 0']);
    for (const [name] of FAMILIES.slice(0, 5)) assert.deepEqual(samples(text, name), [], name);
  });

  it('HELP and TYPE come once per family even with many samples, before the samples', () => {
    const reports = ['a.example', 'b.example', 'c.example'].map((d) => report({ domain: d, problems: [{ code: 'expiring-soon', severity: 'warning', message: 'x' }] }));
    const text = renderMetrics(input({ reports, renewalFailures: new Map([['a.example', 0], ['b.example', 2]]) }));
    assertWellFormed(text);
    const lines = text.split('\n');
    for (const [name] of FAMILIES) {
      assert.equal(lines.filter((l) => l === `# TYPE ${name} ${FAMILIES.find((f) => f[0] === name)![1]}`).length, 1);
      const typeAt = lines.findIndex((l) => l.startsWith(`# TYPE ${name} `));
      const helpAt = lines.findIndex((l) => l.startsWith(`# HELP ${name} `));
      assert.ok(helpAt < typeAt);
      const sampleAts = lines.flatMap((l, i) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `) ? [i] : []));
      for (const i of sampleAts) assert.ok(i > typeAt);
      // Samples of a family are contiguous.
      if (sampleAts.length > 0) assert.equal(sampleAts.at(-1)! - sampleAts[0]! + 1, sampleAts.length);
    }
    assert.equal(samples(text, 'certs_certificate_expiration_timestamp_seconds').length, 3);
    assert.deepEqual(samples(text, 'certs_renewal_failures_total'), [
      'certs_renewal_failures_total{domain="a.example"} 0',
      'certs_renewal_failures_total{domain="b.example"} 2',
    ]);
  });

  it('escapes backslash, double quote and line feed in label values', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    const text = renderMetrics(input({ reports: [report({ domain: 'we"ird\\name\nx', host: 'h', port: 8443 })] }));
    assertWellFormed(text);
    assert.deepEqual(samples(text, 'certs_certificate_expiration_timestamp_seconds'), [
      'certs_certificate_expiration_timestamp_seconds{domain="we\\"ird\\\\name\\nx",endpoint="h:8443"} 1767225600',
    ]);
  });

  it('timestamps are unix seconds, fractional only when the instant has milliseconds', () => {
    assert.equal(unixSeconds('2026-01-01T00:00:00Z'), 1767225600);
    assert.equal(unixSeconds('2026-01-01T00:00:00.250Z'), 1767225600.25);
    assert.equal(unixSeconds('not a date'), null);
    const lastRun: LastRun = { startedAt: '2025-11-22T03:17:00.000Z', finishedAt: '2025-11-22T03:17:42.500Z', outcome: 'warning', exitCode: 1 };
    const text = renderMetrics(input({ lastRun, reports: [report({ domain: 'e.example', notAfter: '2025-12-31T23:59:59.000Z' })] }));
    assert.deepEqual(samples(text, 'certs_last_run_timestamp_seconds'), ['certs_last_run_timestamp_seconds 1763781462.5']);
    assert.deepEqual(samples(text, 'certs_last_run_success'), ['certs_last_run_success 1']);
    assert.deepEqual(samples(text, 'certs_certificate_expiration_timestamp_seconds'), [
      'certs_certificate_expiration_timestamp_seconds{domain="e.example",endpoint="e.example:443"} 1767225599',
    ]);
  });

  it('last run success: 1 for ok/warning/critical, 0 for failed/error; no sample while unfinished', () => {
    const table: Array<[LastRun['outcome'], number]> = [['ok', 1], ['warning', 1], ['critical', 1], ['failed', 0], ['error', 0]];
    for (const [outcome, want] of table) {
      const text = renderMetrics(input({ lastRun: { startedAt: '2025-11-22T03:17:00Z', finishedAt: '2025-11-22T03:18:00Z', outcome, exitCode: null } }));
      assert.deepEqual(samples(text, 'certs_last_run_success'), [`certs_last_run_success ${want}`], outcome);
    }
    const running = renderMetrics(input({ lastRun: { startedAt: '2025-11-22T03:17:00Z', finishedAt: null, outcome: 'ok', exitCode: null } }));
    assert.deepEqual(samples(running, 'certs_last_run_success'), []);
    assert.deepEqual(samples(running, 'certs_last_run_timestamp_seconds'), []);
  });

  it('one problems sample per distinct code, with the expiration still emitted when verification fails', () => {
    const r = report({
      domain: 'bad.example',
      status: 'critical',
      problems: [
        { code: 'incomplete-chain', severity: 'critical', message: 'a' },
        { code: 'expiring-soon', severity: 'warning', message: 'b' },
        { code: 'extra-certs', severity: 'warning', message: 'c' },
        { code: 'extra-certs', severity: 'warning', message: 'd' },
      ],
    });
    const text = renderMetrics(input({ reports: [r] }));
    assertWellFormed(text);
    assert.deepEqual(samples(text, 'certs_certificate_problems'), [
      'certs_certificate_problems{domain="bad.example",endpoint="bad.example:443",code="incomplete-chain"} 1',
      'certs_certificate_problems{domain="bad.example",endpoint="bad.example:443",code="expiring-soon"} 1',
      'certs_certificate_problems{domain="bad.example",endpoint="bad.example:443",code="extra-certs"} 1',
    ]);
    assert.equal(samples(text, 'certs_certificate_expiration_timestamp_seconds').length, 1);
  });

  it('no expiration sample where no certificate was seen, but its problems are', () => {
    const r = report({ domain: 'down.example', notAfter: null, fingerprint256: null, daysLeft: null, status: 'critical', problems: [{ code: 'unreachable', severity: 'critical', message: 'refused' }] });
    const never = report({ domain: 'new.example', notAfter: null, status: 'unknown', scannedAt: null });
    const text = renderMetrics(input({ reports: [r, never] }));
    assert.deepEqual(samples(text, 'certs_certificate_expiration_timestamp_seconds'), []);
    assert.deepEqual(samples(text, 'certs_certificate_problems'), ['certs_certificate_problems{domain="down.example",endpoint="down.example:443",code="unreachable"} 1']);
  });

  it('endpoint labels: host:port, @address when dialled, file:path; duplicates collapse to one series', () => {
    assert.equal(endpointLabel({ source: 'tls', host: 'a.example', port: 443 }), 'a.example:443');
    assert.equal(endpointLabel({ source: 'tls', host: 'a.example', port: 443, address: '2001:db8::1' }), 'a.example:443@2001:db8::1');
    assert.equal(endpointLabel({ source: 'file', host: 'a.example', port: 0, file: '/etc/ssl/a.pem' }), 'file:/etc/ssl/a.pem');
    const r = report({ domain: 'a.example' });
    const text = renderMetrics(input({ reports: [r, { ...r }], pending: 3 }));
    assert.equal(samples(text, 'certs_certificate_expiration_timestamp_seconds').length, 1);
    assert.deepEqual(samples(text, 'certs_notifications_pending'), ['certs_notifications_pending 3']);
  });
});
