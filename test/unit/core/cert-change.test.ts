import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unexpectedChange, type PreviousCert } from '../../../src/core/cert-change.js';

const DAY = 86_400_000;
const NOW = new Date('2031-06-01T00:00:00.000Z');
const cert = (fp: string, startDaysAgo: number, lifetimeDays: number): PreviousCert => ({
  fingerprint256: fp,
  notBefore: new Date(NOW.getTime() - startDaysAgo * DAY).toISOString(),
  notAfter: new Date(NOW.getTime() + (lifetimeDays - startDaysAgo) * DAY).toISOString(),
});
const input = (managed: boolean, previous: PreviousCert | undefined, fp: string, issued: string[] = []) => ({ managed, previous, fingerprint256: fp, issuedByCerts: new Set(issued), now: NOW });

describe('unexpectedChange', () => {
  it('no previous sighting, or the same certificate: nothing', () => {
    assert.equal(unexpectedChange(input(true, undefined, 'B')), null);
    assert.equal(unexpectedChange(input(true, cert('A', 10, 90), 'A')), null);
  });

  it('managed: any certificate certs did not issue, at any age; certs\' own versions are fine', () => {
    assert.equal(unexpectedChange(input(true, cert('A', 80, 90), 'B', ['B'])), null);
    assert.match(unexpectedChange(input(true, cert('A', 80, 90), 'EVIL', ['B']))!, /^serves a certificate certs did not issue \(was A…, now EVIL…\)$/);
  });

  it('monitor-only: a renewal in the second half of the life is expected, a swap in the first half is not', () => {
    assert.equal(unexpectedChange(input(false, cert('A', 60, 90), 'B')), null, 'certbot at 30 days left');
    assert.equal(unexpectedChange(input(false, cert('A', 45, 90), 'B')), null, 'exactly half');
    assert.equal(unexpectedChange(input(false, cert('A', 3, 6), 'B')), null, 'a 6-day certificate at half');
    assert.match(unexpectedChange(input(false, cert('A', 10, 90), 'B'))!, /^the certificate was replaced with 80 of its 90 days left, not on a renewal schedule \(was A…, now B…\)$/);
    assert.match(unexpectedChange(input(false, cert('A', 1, 6), 'B'))!, /with 5 of its 6 days left/);
  });

  it('monitor-only without the old validity: cannot tell, says nothing', () => {
    assert.equal(unexpectedChange(input(false, { fingerprint256: 'A', notBefore: null, notAfter: null }, 'B')), null);
    assert.equal(unexpectedChange(input(false, { fingerprint256: 'A', notBefore: 'garbage', notAfter: '2031-01-01T00:00:00Z' }, 'B')), null);
  });
});
