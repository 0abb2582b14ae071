import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareAddresses, configuredAddresses, expandTargets, GONE_ADDRESS_MS, namesToResolve, needsResolution, storedRowsFor, type Resolution } from '../../../src/core/addresses.js';
import type { Domain, EndpointReport } from '../../../src/core/model.js';
import { endpointKey, targetsOf } from '../../../src/core/report.js';
import { withStaleDeployments } from '../../../src/core/renewal-status.js';
import { endpointLabel } from '../../../src/core/notify-policy.js';
import { renderMetrics } from '../../../src/core/metrics.js';

const domain = (name: string, endpoints: Domain['endpoints'], files?: Domain['files']): Domain => ({ name, altNames: [], managed: false, endpoints, ...(files ? { files } : {}) });

describe('needsResolution / namesToResolve', () => {
  it('resolves names without an address only, each once, case-insensitively', () => {
    const targets = targetsOf([
      domain('a.test', [{ host: 'a.test', port: 443 }, { host: 'A.test', port: 8443 }, { host: 'a.test', port: 443, address: '192.0.2.1' }]),
      domain('b.test', [{ host: '192.0.2.7', port: 443 }, { host: '2001:db8::1', port: 443 }, { host: 'b.test', port: 443 }], { cert: '/x.pem' }),
    ]);
    assert.deepEqual(namesToResolve(targets), ['a.test', 'b.test']);
    assert.equal(needsResolution({ source: 'tls', host: 'a.test', address: '192.0.2.1' }), false);
    assert.equal(needsResolution({ source: 'file', host: 'a.test' }), false);
    assert.equal(needsResolution({ source: 'tls', host: '192.0.2.7' }), false);
  });
});

describe('expandTargets', () => {
  const targets = targetsOf([
    domain('multi.test', [{ host: 'multi.test', port: 443 }, { host: 'multi.test', port: 443, address: '127.0.0.9' }]),
    domain('gone.test', [{ host: 'gone.test', port: 443 }], { cert: '/gone.pem' }),
    domain('empty.test', [{ host: 'empty.test', port: 443 }]),
  ]);
  const resolved = new Map<string, Resolution>([
    ['multi.test', { ok: true, addresses: ['127.0.0.2', '127.0.0.3', '::1'] }],
    ['gone.test', { ok: false, message: 'DNS server 127.0.0.1:53 answered ENOTFOUND' }],
    ['empty.test', { ok: true, addresses: [] }],
  ]);
  const planned = expandTargets(targets, resolved);

  it('makes one target per address, each exactly an endpoint with that address', () => {
    const multi = planned.filter((p) => p.target.host === 'multi.test');
    assert.deepEqual(multi.map((p) => p.target.address), ['127.0.0.2', '127.0.0.3', '::1', '127.0.0.9']);
    assert.ok(multi.every((p) => p.unresolved === undefined && p.target.port === 443 && p.target.domain.name === 'multi.test'));
    // The expanded key is the key a configured address would have.
    assert.equal(endpointKey({ ...multi[1]!.target, domain: 'multi.test' }), 'tls|multi.test|multi.test|443|127.0.0.3');
  });

  it('leaves a configured address alone (its identity unchanged)', () => {
    const fixed = planned.find((p) => p.target.address === '127.0.0.9')!;
    assert.equal(endpointKey({ ...fixed.target, domain: 'multi.test' }), endpointKey({ ...targets[1]!, domain: 'multi.test' }));
  });

  it('keeps a name that resolved to nothing as one target with the resolver\'s answer', () => {
    const gone = planned.filter((p) => p.target.host === 'gone.test');
    assert.equal(gone.length, 2, 'the endpoint and the file');
    assert.equal(gone[0]!.unresolved, 'DNS server 127.0.0.1:53 answered ENOTFOUND');
    assert.equal(gone[0]!.target.address, undefined);
    assert.equal(gone[1]!.target.source, 'file');
    assert.equal(gone[1]!.unresolved, undefined);
    assert.match(planned.find((p) => p.target.host === 'empty.test')!.unresolved ?? '', /no A or AAAA/);
  });

  it('an address the config also names for that endpoint is scanned once, as configured', () => {
    const both = expandTargets(targets, new Map([['multi.test', { ok: true, addresses: ['127.0.0.2', '127.0.0.9'] } as Resolution]]));
    assert.deepEqual(both.filter((p) => p.target.host === 'multi.test').map((p) => p.target.address), ['127.0.0.2', '127.0.0.9']);
  });

  it('passes targets through when nothing was resolved (scan.addresses first)', () => {
    assert.deepEqual(expandTargets(targets, new Map()).map((p) => p.target), targets);
  });
});

function row(address: string | undefined, scannedAt: string, extra: Partial<EndpointReport> = {}): EndpointReport {
  return {
    domain: 'multi.test', host: 'multi.test', port: 443, ...(address ? { address } : {}), source: 'tls', status: 'ok', daysLeft: 60,
    notAfter: '2027-03-01T00:00:00.000Z', fingerprint256: 'AA', issuer: 'CA', subject: 'multi.test', problems: [], scannedAt, ...extra,
  };
}

describe('storedRowsFor (what status shows for a configured endpoint)', () => {
  const t0 = '2026-12-04T10:00:00.000Z';
  const t1 = '2026-12-04T10:00:01.000Z';
  const name = { source: 'tls' as const, host: 'multi.test' };

  it('a name under `all` shows every address row, IPv4 before IPv6, numerically', () => {
    const rows = [row('::1', t0), row('127.0.0.10', t0), row('127.0.0.3', t1), row('127.0.0.2', t0)];
    assert.deepEqual(storedRowsFor(name, rows, 'all').map((r) => r.address), ['127.0.0.2', '127.0.0.3', '127.0.0.10', '::1']);
  });

  it('nothing stored: empty (the caller shows unknown)', () => {
    assert.deepEqual(storedRowsFor(name, [], 'all'), []);
  });

  it('the address-less row wins when it is the newest (the name stopped resolving, or `first` was used last)', () => {
    const rows = [row(undefined, t1, { status: 'critical' }), row('127.0.0.2', t0), row('127.0.0.3', t0)];
    assert.deepEqual(storedRowsFor(name, rows, 'all').map((r) => r.address ?? '-'), ['-']);
  });

  it('address rows newer than the address-less row replace it (before this feature, one row)', () => {
    const rows = [row(undefined, t0), row('127.0.0.2', t1), row('127.0.0.3', t1)];
    assert.deepEqual(storedRowsFor(name, rows, 'all').map((r) => r.address), ['127.0.0.2', '127.0.0.3']);
  });

  it('an address not scanned within an hour of the newest row has left DNS', () => {
    const late = new Date(Date.parse(t0) + GONE_ADDRESS_MS + 1000).toISOString();
    const rows = [row('127.0.0.2', t0), row('127.0.0.3', late), row('127.0.0.4', late)];
    assert.deepEqual(storedRowsFor(name, rows, 'all').map((r) => r.address), ['127.0.0.3', '127.0.0.4']);
  });

  it('leaves out rows of addresses the config names for the same endpoint (they have their own target)', () => {
    const d = domain('multi.test', [{ host: 'multi.test', port: 443 }, { host: 'multi.test', port: 443, address: '127.0.0.3' }]);
    const ts = targetsOf([d]);
    const rows = [row('127.0.0.2', t0), row('127.0.0.3', t0)];
    assert.deepEqual(storedRowsFor(ts[0]!, rows, 'all', configuredAddresses(ts)).map((r) => r.address), ['127.0.0.2']);
    assert.deepEqual(storedRowsFor(ts[1]!, rows, 'all', configuredAddresses(ts)).map((r) => r.address), ['127.0.0.3']);
  });

  it('`first`, an IP host and a configured address match exactly', () => {
    const rows = [row(undefined, t0), row('127.0.0.2', t1), row('127.0.0.3', t1)];
    assert.deepEqual(storedRowsFor(name, rows, 'first').map((r) => r.address ?? '-'), ['-']);
    assert.deepEqual(storedRowsFor({ ...name, address: '127.0.0.3' }, rows, 'all').map((r) => r.address), ['127.0.0.3']);
    assert.deepEqual(storedRowsFor({ ...name, address: '127.0.0.5' }, rows, 'all'), []);
    assert.deepEqual(storedRowsFor({ source: 'tls', host: '127.0.0.2' }, [row(undefined, t0, { host: '127.0.0.2' })], 'all').length, 1);
  });
});

describe('per-address views', () => {
  it('stale-deployment flags exactly the address that serves the older certificate, and names it', () => {
    const latest = new Map([['multi.test', { version: 2, fingerprint256: 'NEW', notAfter: '2027-03-01T00:00:00.000Z' }]]);
    const reports = [
      row('127.0.0.2', '2026-12-04T10:00:00.000Z', { fingerprint256: 'NEW' }),
      row('127.0.0.3', '2026-12-04T10:00:00.000Z', { fingerprint256: 'OLD', notAfter: '2027-01-10T00:00:00.000Z' }),
      row('127.0.0.4', '2026-12-04T10:00:00.000Z', { fingerprint256: 'NEW' }),
    ];
    const out = withStaleDeployments(reports, latest, 7);
    assert.deepEqual(out.map((r) => r.problems.map((p) => p.code).join(',')), ['', 'stale-deployment', '']);
    assert.match(out[1]!.problems[0]!.message, /^127\.0\.0\.3 serves a certificate expiring 2027-01-10/);
    assert.match(out[1]!.problems[0]!.hint ?? '', /multi\.test:443 at 127\.0\.0\.3/);
  });

  it('notifications and metrics name the address', () => {
    assert.equal(endpointLabel({ source: 'tls', host: 'multi.test', port: 443, address: '127.0.0.3' }), 'multi.test:443 @127.0.0.3');
    assert.equal(endpointLabel({ source: 'tls', host: 'multi.test', port: 443 }), 'multi.test:443');
    const text = renderMetrics({ reports: [row('127.0.0.3', '2026-12-04T10:00:00.000Z', { problems: [{ code: 'expiring-soon', severity: 'warning', message: 'x' }] }), row(undefined, '2026-12-04T10:00:00.000Z', { host: 'one.test', domain: 'one.test' })], renewalFailures: new Map(), lastRun: null, pending: 0 });
    assert.match(text, /certs_certificate_expiration_timestamp_seconds\{domain="multi\.test",endpoint="multi\.test:443@127\.0\.0\.3",address="127\.0\.0\.3"\} /);
    assert.match(text, /certs_certificate_problems\{domain="multi\.test",endpoint="multi\.test:443@127\.0\.0\.3",address="127\.0\.0\.3",code="expiring-soon"\} 1/);
    assert.match(text, /certs_certificate_expiration_timestamp_seconds\{domain="one\.test",endpoint="one\.test:443"\} /);
  });

  it('compareAddresses orders IPv4 numerically, then IPv6', () => {
    assert.deepEqual(['::1', '127.0.0.10', '10.0.0.1', '127.0.0.9'].sort(compareAddresses), ['10.0.0.1', '127.0.0.9', '127.0.0.10', '::1']);
  });
});
