// Deploy verification per address (issue 12 §1): after a reload every address of a name must
// serve the new certificate; the proof loop (proveServed) sees one row per address and the
// message names the one that does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { notServedDetail } from '../../../src/core/addresses.js';
import type { EndpointReport } from '../../../src/core/model.js';
import type { DomainConfig } from '../../../src/config/types.js';
import { proveServed, type ProofClock } from '../../../src/service/deploy.js';

const NEW = 'AA:BB:CC:DD:EE:FF:00:11:22';
const OLD = '99:88:77:66:55:44:33:22:11';

function report(address: string, fingerprint256: string | null, extra: Partial<EndpointReport> = {}): EndpointReport {
  return {
    domain: 'multi.test', host: 'multi.test', port: 443, address, source: 'tls', status: 'ok', daysLeft: 60, notAfter: fingerprint256 === OLD ? '2027-01-10T00:00:00.000Z' : '2027-03-01T00:00:00.000Z',
    fingerprint256, issuer: 'CA', subject: 'multi.test', problems: [], scannedAt: '2026-12-04T10:00:00.000Z', ...extra,
  };
}

function fakeClock(): ProofClock {
  let t = 0;
  return { now: () => t, sleep: async (ms) => { t += ms; } };
}

const domain = { name: 'multi.test' } as DomainConfig;
const servedNew = (_d: DomainConfig, rs: readonly EndpointReport[]): boolean => rs.filter((r) => r.source === 'tls').every((r) => r.fingerprint256 === NEW);

describe('deploy verification, per address', () => {
  it('one address still serving the old certificate keeps the domain unproven, and only it is named', async () => {
    let scans = 0;
    const rescan = async (): Promise<EndpointReport[]> => {
      scans++;
      return [report('127.0.0.2', NEW), report('127.0.0.3', OLD), report('127.0.0.4', NEW)];
    };
    const proof = await proveServed([domain], rescan, servedNew, { timeoutMs: 2000, intervalMs: 500 }, fakeClock());
    assert.equal(proof.proven.has('multi.test'), false);
    assert.ok(scans >= 3, `rescanned until the budget ran out (${scans})`);
    const detail = notServedDetail(proof.last.get('multi.test') ?? [], NEW);
    assert.deepEqual(detail, [`multi.test:443 @127.0.0.3 still serves ${OLD.slice(0, 17)} (expires 2027-01-10)`]);
  });

  it('proven once every address serves the new certificate in two scans in a row', async () => {
    let scans = 0;
    const rescan = async (): Promise<EndpointReport[]> => {
      scans++;
      // The third address is reloaded late: it serves the new certificate from the third scan on.
      return [report('127.0.0.2', NEW), report('127.0.0.3', NEW), report('127.0.0.4', scans >= 3 ? NEW : OLD)];
    };
    const proof = await proveServed([domain], rescan, servedNew, { timeoutMs: 5000, intervalMs: 500 }, fakeClock());
    assert.equal(proof.proven.has('multi.test'), true);
    assert.equal(scans, 4, 'two scans in a row after the last address came round');
  });

  it('an address that cannot be reached is named with the reason', () => {
    const down = report('::1', null, { status: 'critical', notAfter: null, problems: [{ code: 'unreachable', severity: 'critical', message: 'multi.test:443: connect ECONNREFUSED' }] });
    assert.deepEqual(notServedDetail([report('127.0.0.2', NEW), down], NEW), ['multi.test:443 @::1 still serves nothing (multi.test:443: connect ECONNREFUSED)']);
  });
});
