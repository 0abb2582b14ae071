// The Nagios line's performance data: days left of the certificate nearest to expiry, with the
// warning and critical ranges in force for that certificate (scaled to short lifetimes, issue 12 §4).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderNagios } from '../../../src/cli/render.js';
import type { EndpointReport } from '../../../src/core/model.js';

const report = (over: Partial<EndpointReport>): EndpointReport => ({
  domain: 'd.test', host: 'd.test', port: 443, source: 'tls', status: 'ok', daysLeft: 60,
  notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-04-01T00:00:00.000Z', problems: [], scannedAt: '2030-01-31T00:00:00.000Z', ...over,
} as EndpointReport);

describe('renderNagios performance data', () => {
  it('a 90-day certificate: the configured 30/7', () => {
    assert.match(renderNagios('ok', [report({})], 30, 7), /\| 'days_left'=60;30:;7:$/);
  });
  it('the nearest certificate is a 47-day one: its scaled 15.7/3.7', () => {
    const short = report({ host: 's.test', daysLeft: 20, notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-02-16T23:59:59.000Z' });
    assert.match(renderNagios('ok', [report({}), short], 30, 7), /\| 'days_left'=20;15\.7:;3\.7:$/);
  });
  it('a 6-day certificate: 2 and 0.5 days (11 hours)', () => {
    const six = report({ daysLeft: 3, notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-01-06T23:59:59.000Z' });
    assert.match(renderNagios('ok', [six], 30, 7), /\| 'days_left'=3;2:;0\.5:$/);
  });
});
