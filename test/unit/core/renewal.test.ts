import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import {
  checkRenewBeforeDays, defaultRenewAt, emergencyRenewAt, renewalDecision, type CurrentCert, type RenewalInput, type RenewalSource,
} from '../../../src/core/renewal.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const d = (iso: string): Date => new Date(iso);
const plus = (base: Date, ms: number): Date => new Date(base.getTime() + ms);

describe('defaultRenewAt', () => {
  const NB = d('2030-01-01T00:00:00Z');
  const cases: Array<{ name: string; lifetime: number; left: number }> = [
    { name: '90-day: ⅓ left (30 days)', lifetime: 90 * DAY, left: 30 * DAY },
    { name: "Let's Encrypt 90-day (one second short): ⅓ left", lifetime: 90 * DAY - 1000, left: Math.ceil((90 * DAY - 1000) / 3) },
    { name: '45-day: ⅓ left (15 days)', lifetime: 45 * DAY, left: 15 * DAY },
    { name: '200-day: ⅓ left (66 days 16 hours)', lifetime: 200 * DAY, left: 66 * DAY + 16 * HOUR },
    { name: '10 days and an hour: still ⅓', lifetime: 10 * DAY + HOUR, left: Math.ceil((10 * DAY + HOUR) / 3) },
    { name: 'exactly 10 days: ½ left', lifetime: 10 * DAY, left: 5 * DAY },
    { name: '160-hour (6.67 days): ½ left (80 hours)', lifetime: 160 * HOUR, left: 80 * HOUR },
    { name: '6-day: ½ left (3 days)', lifetime: 6 * DAY, left: 3 * DAY },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const notAfter = plus(NB, c.lifetime);
      assert.equal(defaultRenewAt(NB, notAfter).toISOString(), plus(notAfter, -c.left).toISOString());
    });
  }

  it('refuses a certificate whose notAfter is not after its notBefore', () => {
    assert.throws(() => defaultRenewAt(NB, NB), (err: unknown) =>
      err instanceof ValidationError && /notAfter 2030-01-01T00:00:00\.000Z is not after its notBefore/.test(err.message));
  });
});

describe('emergencyRenewAt', () => {
  const NB = d('2030-01-01T00:00:00Z');
  const cases: Array<[string, number, number]> = [
    ['90-day: 1/20 is 4.5 days', 90 * DAY, 4.5 * DAY],
    ['47-day: 1/20 is 2.35 days', 47 * DAY, 47 * DAY / 20],
    ['20-day: 1/20 is exactly 1 day', 20 * DAY, DAY],
    ['6-day: 1 day is more than 1/20', 6 * DAY, DAY],
    ['36-hour: 1 day is capped at half (18 hours)', 36 * HOUR, 18 * HOUR],
  ];
  for (const [name, lifetime, left] of cases) {
    it(name, () => {
      const notAfter = plus(NB, lifetime);
      assert.equal(emergencyRenewAt(NB, notAfter).toISOString(), plus(notAfter, -left).toISOString());
    });
  }
});

describe('checkRenewBeforeDays', () => {
  const ok: Array<[number, number]> = [[30, 90 * DAY], [89.9, 90 * DAY], [3, 160 * HOUR], [1, 6 * DAY]];
  for (const [days, lifetime] of ok) {
    it(`accepts ${days} days for a ${lifetime / DAY}-day lifetime`, () => checkRenewBeforeDays(days, lifetime));
  }

  const bad: Array<{ days: number; lifetime: number; match: RegExp }> = [
    { days: 90, lifetime: 90 * DAY, match: /^renewBeforeDays 90 is not less than the certificate lifetime of 90 days: it would renew on every run$/ },
    { days: 120, lifetime: 90 * DAY, match: /renewBeforeDays 120 .* lifetime of 90 days/ },
    { days: 7, lifetime: 160 * HOUR, match: /renewBeforeDays 7 .* lifetime of 6\.67 days: it would renew on every run/ },
    { days: 0, lifetime: 90 * DAY, match: /renewBeforeDays must be a positive number of days, got 0/ },
    { days: -5, lifetime: 90 * DAY, match: /got -5/ },
    { days: Number.NaN, lifetime: 90 * DAY, match: /got NaN/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.days} days for a ${Math.round((c.lifetime / DAY) * 100) / 100}-day lifetime`, () => {
      assert.throws(() => checkRenewBeforeDays(c.days, c.lifetime), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.match(err.message, c.match);
        assert.match(err.hint ?? '', /set renewBeforeDays below/);
        return true;
      });
    });
  }
});

describe('renewalDecision', () => {
  const NAMES = ['example.com', 'www.example.com'];
  const wanted = { names: NAMES, keyType: 'ecdsa-p256', profile: 'classic' };
  /** A certificate issued at `notBefore` for `lifetime` ms, matching `wanted`. */
  const cert = (notBefore: string, lifetime: number, over: Partial<CurrentCert> = {}): CurrentCert => ({
    notBefore: d(notBefore), notAfter: plus(d(notBefore), lifetime), names: NAMES, keyType: 'ecdsa-p256', profile: 'classic', ...over,
  });
  // 2030-04-01 + 90 days = 2030-06-30; ⅓ left from 2030-05-31.
  const c90 = cert('2030-04-01T00:00:00Z', 90 * DAY);

  interface Case {
    name: string;
    input: Omit<RenewalInput, 'wanted'> & { wanted?: RenewalInput['wanted'] };
    due: boolean;
    source: RenewalSource;
    renewAt?: string | null;
    reason: string | RegExp;
    waitUntil?: string;
  }
  const cases: Case[] = [
    // ---- no certificate, changes ----
    { name: 'no certificate: new', input: { now: d('2030-05-01T00:00:00Z') }, due: true, source: 'new', renewAt: null, reason: 'no certificate yet: issue one' },
    { name: 'a name added', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 90 * DAY, { names: ['example.com'] }) },
      due: true, source: 'changed', renewAt: '2030-05-31T00:00:00.000Z', reason: 'configuration changed: names added: www.example.com' },
    { name: 'a name removed', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 90 * DAY, { names: [...NAMES, 'old.example.com'] }) },
      due: true, source: 'changed', reason: 'configuration changed: names removed: old.example.com' },
    { name: 'names added and removed', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 90 * DAY, { names: ['example.com', 'b.example.com', 'a.example.com'] }) },
      due: true, source: 'changed', reason: 'configuration changed: names added: www.example.com; removed: a.example.com, b.example.com' },
    { name: 'names in another order and case: no change', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 90 * DAY, { names: ['WWW.Example.com', 'example.com'] }) },
      due: false, source: 'lifetime', reason: 'renews 2030-05-31 00:00 UTC (⅓ of the 90-day lifetime left)' },
    { name: 'key type changed', input: { now: d('2030-05-01T00:00:00Z'), current: c90, wanted: { ...wanted, keyType: 'rsa2048' } },
      due: true, source: 'changed', reason: 'configuration changed: key type ecdsa-p256 → rsa2048' },
    { name: 'profile changed', input: { now: d('2030-05-01T00:00:00Z'), current: c90, wanted: { ...wanted, profile: 'shortlived' } },
      due: true, source: 'changed', reason: 'configuration changed: profile classic → shortlived' },
    { name: 'profile set where the CA default was used', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 90 * DAY, { profile: null }), wanted: { ...wanted, profile: 'tlsserver' } },
      due: true, source: 'changed', reason: 'configuration changed: profile default → tlsserver' },
    { name: 'profile null and undefined are both the default', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 90 * DAY, { profile: undefined }), wanted: { ...wanted, profile: null } },
      due: false, source: 'lifetime', reason: /^renews 2030-05-31/ },
    { name: 'everything changed at once', input: { now: d('2030-05-01T00:00:00Z'), current: c90, wanted: { names: ['example.com'], keyType: 'ecdsa-p384', profile: 'shortlived' } },
      due: true, source: 'changed', reason: 'configuration changed: names removed: www.example.com; key type ecdsa-p256 → ecdsa-p384; profile classic → shortlived' },

    // ---- lifetime rule ----
    { name: '90-day, before ⅓ left', input: { now: d('2030-05-30T23:59:59Z'), current: c90 },
      due: false, source: 'lifetime', renewAt: '2030-05-31T00:00:00.000Z', reason: 'renews 2030-05-31 00:00 UTC (⅓ of the 90-day lifetime left)' },
    { name: '90-day, at ⅓ left', input: { now: d('2030-05-31T00:00:00Z'), current: c90 },
      due: true, source: 'lifetime', reason: 'due since 2030-05-31 00:00 UTC (⅓ of the 90-day lifetime left)' },
    { name: '45-day, not yet', input: { now: d('2030-04-30T23:00:00Z'), current: cert('2030-04-01T00:00:00Z', 45 * DAY) },
      due: false, source: 'lifetime', renewAt: '2030-05-01T00:00:00.000Z', reason: 'renews 2030-05-01 00:00 UTC (⅓ of the 45-day lifetime left)' },
    { name: '45-day, due', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-03-31T00:00:00Z', 45 * DAY) },
      due: true, source: 'lifetime', renewAt: '2030-04-30T00:00:00.000Z', reason: 'due since 2030-04-30 00:00 UTC (⅓ of the 45-day lifetime left)' },
    { name: '6-day, half way', input: { now: d('2030-06-04T00:00:00Z'), current: cert('2030-06-01T00:00:00Z', 6 * DAY) },
      due: true, source: 'lifetime', renewAt: '2030-06-04T00:00:00.000Z', reason: 'due since 2030-06-04 00:00 UTC (½ of the 6-day lifetime left)' },
    { name: '6-day, before half way', input: { now: d('2030-06-03T23:00:00Z'), current: cert('2030-06-01T00:00:00Z', 6 * DAY) },
      due: false, source: 'lifetime', reason: 'renews 2030-06-04 00:00 UTC (½ of the 6-day lifetime left)' },
    { name: '160-hour, 80 hours in', input: { now: d('2030-06-04T08:00:00Z'), current: cert('2030-06-01T00:00:00Z', 160 * HOUR) },
      due: true, source: 'lifetime', renewAt: '2030-06-04T08:00:00.000Z', reason: 'due since 2030-06-04 08:00 UTC (½ of the 6.67-day lifetime left)' },
    { name: '200-day, not yet', input: { now: d('2030-05-01T00:00:00Z'), current: cert('2030-01-01T00:00:00Z', 200 * DAY) },
      due: false, source: 'lifetime', renewAt: '2030-05-14T08:00:00.000Z', reason: 'renews 2030-05-14 08:00 UTC (⅓ of the 200-day lifetime left)' },

    // ---- renewBeforeDays ----
    { name: 'renewBeforeDays later than the lifetime rule', input: { now: d('2030-06-01T00:00:00Z'), current: c90, renewBeforeDays: 7 },
      due: false, source: 'renew-before-days', renewAt: '2030-06-23T00:00:00.000Z', reason: 'renews 2030-06-23 00:00 UTC (renewBeforeDays: 7 days before expiry)' },
    { name: 'renewBeforeDays earlier than the lifetime rule', input: { now: d('2030-05-20T00:00:00Z'), current: c90, renewBeforeDays: 45 },
      due: true, source: 'renew-before-days', renewAt: '2030-05-16T00:00:00.000Z', reason: 'due since 2030-05-16 00:00 UTC (renewBeforeDays: 45 days before expiry)' },
    { name: 'renewBeforeDays equal to the lifetime is ignored', input: { now: d('2030-05-01T00:00:00Z'), current: c90, renewBeforeDays: 90 },
      due: false, source: 'lifetime', renewAt: '2030-05-31T00:00:00.000Z',
      reason: 'renews 2030-05-31 00:00 UTC (⅓ of the 90-day lifetime left; renewBeforeDays 90 is not less than the certificate lifetime of 90 days: it would renew on every run, so it is ignored)' },
    { name: 'renewBeforeDays 10 on a 6-day certificate is ignored', input: { now: d('2030-06-02T00:00:00Z'), current: cert('2030-06-01T00:00:00Z', 6 * DAY), renewBeforeDays: 10 },
      due: false, source: 'lifetime', reason: /½ of the 6-day lifetime left; renewBeforeDays 10 is not less than .* 6 days/ },

    // ---- expired, forced ----
    { name: 'expired', input: { now: d('2030-06-30T00:00:00Z'), current: c90 },
      due: true, source: 'expired', renewAt: '2030-05-31T00:00:00.000Z', reason: 'expired 2030-06-30 00:00 UTC: renew now' },
    { name: 'expired beats forced', input: { now: d('2030-07-30T00:00:00Z'), current: c90, force: true }, due: true, source: 'expired', reason: /^expired/ },
    { name: 'forced long before renewal', input: { now: d('2030-04-02T00:00:00Z'), current: c90, force: true },
      due: true, source: 'forced', renewAt: '2030-05-31T00:00:00.000Z', reason: 'renewal forced' },
    { name: 'changed beats forced', input: { now: d('2030-04-02T00:00:00Z'), current: c90, force: true, wanted: { ...wanted, keyType: 'rsa2048' } },
      due: true, source: 'changed', reason: /key type/ },
    { name: 'notAfter before notBefore: renew now', input: { now: d('2030-05-01T00:00:00Z'), current: { ...c90, notAfter: d('2030-03-01T00:00:00Z') } },
      due: true, source: 'expired', renewAt: null, reason: /notAfter 2030-03-01 00:00 UTC is not after notBefore 2030-04-01 00:00 UTC: renew now/ },

    // ---- ARI ----
    { name: 'ARI window in the future wins over a due lifetime rule', input: { now: d('2030-06-01T00:00:00Z'), current: c90,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z'), chosen: d('2030-06-11T06:00:00Z') } },
    due: false, source: 'ari', renewAt: '2030-06-11T06:00:00.000Z',
    reason: "renews 2030-06-11 06:00 UTC (picked in the CA's ARI window 2030-06-10 00:00 UTC – 2030-06-12 00:00 UTC)" },
    { name: 'ARI window open, chosen time passed', input: { now: d('2030-06-11T12:00:00Z'), current: c90,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z'), chosen: d('2030-06-11T06:00:00Z') } },
    due: true, source: 'ari', reason: /^due since 2030-06-11 06:00 UTC \(picked in the CA's ARI window/ },
    { name: 'ARI window open, chosen time still ahead', input: { now: d('2030-06-10T12:00:00Z'), current: c90,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z'), chosen: d('2030-06-11T06:00:00Z') } },
    due: false, source: 'ari', reason: /^renews 2030-06-11 06:00 UTC/ },
    { name: 'ARI window open, nothing chosen: its start', input: { now: d('2030-06-10T12:00:00Z'), current: c90,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z') } },
    due: true, source: 'ari', renewAt: '2030-06-10T00:00:00.000Z', reason: /^due since 2030-06-10 00:00 UTC \(start of the CA's ARI window/ },
    { name: 'ARI chosen outside the window (stale): its start', input: { now: d('2030-06-01T00:00:00Z'), current: c90,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z'), chosen: d('2030-06-20T00:00:00Z') } },
    due: false, source: 'ari', renewAt: '2030-06-10T00:00:00.000Z', reason: /^renews 2030-06-10 00:00 UTC \(start of/ },
    { name: 'ARI window in the past (e.g. a revocation)', input: { now: d('2030-04-20T00:00:00Z'), current: c90,
      ari: { start: d('2030-04-18T00:00:00Z'), end: d('2030-04-19T00:00:00Z') } },
    due: true, source: 'ari', renewAt: '2030-04-18T00:00:00.000Z', reason: /^due since 2030-04-18 00:00 UTC/ },
    { name: 'ARI window after expiry is ignored', input: { now: d('2030-06-01T00:00:00Z'), current: c90,
      ari: { start: d('2030-07-01T00:00:00Z'), end: d('2030-07-02T00:00:00Z') } },
    due: true, source: 'lifetime', renewAt: '2030-05-31T00:00:00.000Z',
    reason: "due since 2030-05-31 00:00 UTC (⅓ of the 90-day lifetime left; the CA's ARI window 2030-07-01 00:00 UTC – 2030-07-02 00:00 UTC is not before expiry, so it is ignored)" },
    { name: 'renewBeforeDays earlier than ARI wins', input: { now: d('2030-06-01T00:00:00Z'), current: c90, renewBeforeDays: 30,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z'), chosen: d('2030-06-11T00:00:00Z') } },
    due: true, source: 'renew-before-days', renewAt: '2030-05-31T00:00:00.000Z',
    reason: "due since 2030-05-31 00:00 UTC (renewBeforeDays: 30 days before expiry, before the CA's ARI window 2030-06-10 00:00 UTC – 2030-06-12 00:00 UTC)" },
    { name: 'renewBeforeDays later than ARI loses', input: { now: d('2030-06-01T00:00:00Z'), current: c90, renewBeforeDays: 7,
      ari: { start: d('2030-06-10T00:00:00Z'), end: d('2030-06-12T00:00:00Z'), chosen: d('2030-06-11T00:00:00Z') } },
    due: false, source: 'ari', renewAt: '2030-06-11T00:00:00.000Z', reason: /^renews 2030-06-11 00:00 UTC \(picked in/ },

    // ---- emergency floor: max(1/20 of the lifetime, 1 day) before expiry, whatever ARI says ----
    // c90 ends 2030-06-30 00:00; 1/20 of 90 days is 4.5 days: the floor is 2030-06-25 12:00.
    { name: 'ARI window too close to expiry: the floor renews now', input: { now: d('2030-06-26T00:00:00Z'), current: c90,
      ari: { start: d('2030-06-29T00:00:00Z'), end: d('2030-06-29T12:00:00Z'), chosen: d('2030-06-29T06:00:00Z') } },
    due: true, source: 'emergency', renewAt: '2030-06-25T12:00:00.000Z',
    reason: "due since 2030-06-25 12:00 UTC (emergency floor: less than 1/20 of the 90-day lifetime or 1 day left; the CA's ARI window would wait until 2030-06-29 06:00 UTC)" },
    { name: 'ARI window too close to expiry, floor not reached yet', input: { now: d('2030-06-20T00:00:00Z'), current: c90,
      ari: { start: d('2030-06-29T00:00:00Z'), end: d('2030-06-29T12:00:00Z') } },
    due: false, source: 'emergency', renewAt: '2030-06-25T12:00:00.000Z', reason: /^renews 2030-06-25 12:00 UTC \(emergency floor/ },
    { name: 'ARI window before the floor is left alone', input: { now: d('2030-06-20T00:00:00Z'), current: c90,
      ari: { start: d('2030-06-24T00:00:00Z'), end: d('2030-06-25T00:00:00Z') } },
    due: false, source: 'ari', renewAt: '2030-06-24T00:00:00.000Z', reason: /^renews 2030-06-24 00:00 UTC \(start of/ },
    { name: 'a tiny renewBeforeDays is floored too', input: { now: d('2030-06-26T00:00:00Z'), current: c90, renewBeforeDays: 2 },
      due: true, source: 'emergency', renewAt: '2030-06-25T12:00:00.000Z', reason: /emergency floor.*; renewBeforeDays would wait until 2030-06-28 00:00 UTC\)$/ },
    { name: '6-day certificate: the floor is 1 day (more than 1/20), ARI at the last hours loses', input: { now: d('2030-04-06T00:00:00Z'), current: cert('2030-04-01T00:00:00Z', 6 * DAY),
      ari: { start: d('2030-04-06T20:00:00Z'), end: d('2030-04-06T22:00:00Z') } },
    due: true, source: 'emergency', renewAt: '2030-04-06T00:00:00.000Z', reason: /^due since 2030-04-06 00:00 UTC \(emergency floor/ },
    { name: '200-day certificate: the floor is 10 days', input: { now: d('2030-01-01T00:00:00Z'), current: cert('2030-01-01T00:00:00Z', 200 * DAY),
      ari: { start: d('2030-07-19T00:00:00Z'), end: d('2030-07-19T06:00:00Z') } },
    due: false, source: 'emergency', renewAt: '2030-07-10T00:00:00.000Z', reason: /emergency floor/ },
    { name: 'a 12-hour certificate: the floor is capped at half its life, not every run', input: { now: d('2030-04-01T01:00:00Z'), current: cert('2030-04-01T00:00:00Z', 12 * HOUR), renewBeforeDays: 0.05 },
      due: false, source: 'emergency', renewAt: '2030-04-01T06:00:00.000Z', reason: /^renews 2030-04-01 06:00 UTC \(emergency floor/ },

    // ---- backoff ----
    { name: 'backoff holds back a due renewal', input: { now: d('2030-06-01T00:00:00Z'), current: c90, backoff: { nextAttemptAt: d('2030-06-01T00:20:00Z') } },
      due: false, source: 'lifetime', renewAt: '2030-05-31T00:00:00.000Z', waitUntil: '2030-06-01T00:20:00.000Z',
      reason: 'due since 2030-05-31 00:00 UTC (⅓ of the 90-day lifetime left); held back after a failed attempt until 2030-06-01 00:20 UTC' },
    { name: 'backoff that has run out', input: { now: d('2030-06-01T00:00:00Z'), current: c90, backoff: { nextAttemptAt: d('2030-06-01T00:00:00Z') } },
      due: true, source: 'lifetime', reason: /^due since/ },
    { name: 'backoff does not touch a renewal that is not due', input: { now: d('2030-05-01T00:00:00Z'), current: c90, backoff: { nextAttemptAt: d('2030-05-02T00:00:00Z') } },
      due: false, source: 'lifetime', reason: /^renews 2030-05-31 00:00 UTC \([^;]*\)$/ },
    { name: 'backoff holds back a new certificate', input: { now: d('2030-06-01T00:00:00Z'), backoff: { nextAttemptAt: d('2030-06-01T02:00:00Z') } },
      due: false, source: 'new', waitUntil: '2030-06-01T02:00:00.000Z', reason: 'no certificate yet: issue one; held back after a failed attempt until 2030-06-01 02:00 UTC' },
    { name: 'backoff holds back a changed certificate', input: { now: d('2030-05-01T00:00:00Z'), current: c90, wanted: { ...wanted, keyType: 'rsa2048' }, backoff: { nextAttemptAt: d('2030-05-01T01:00:00Z') } },
      due: false, source: 'changed', waitUntil: '2030-05-01T01:00:00.000Z', reason: /^configuration changed: key type ecdsa-p256 → rsa2048; held back/ },
    { name: 'backoff holds back an expired certificate', input: { now: d('2030-07-01T00:00:00Z'), current: c90, backoff: { nextAttemptAt: d('2030-07-01T05:00:00Z') } },
      due: false, source: 'expired', waitUntil: '2030-07-01T05:00:00.000Z', reason: /^expired .*; held back/ },
    { name: 'force passes the backoff', input: { now: d('2030-05-01T00:00:00Z'), current: c90, force: true, backoff: { nextAttemptAt: d('2030-05-02T00:00:00Z') } },
      due: true, source: 'forced', reason: 'renewal forced' },
    { name: 'force passes the backoff for a changed certificate', input: { now: d('2030-05-01T00:00:00Z'), current: c90, force: true, wanted: { ...wanted, profile: 'shortlived' }, backoff: { nextAttemptAt: d('2030-05-02T00:00:00Z') } },
      due: true, source: 'changed', reason: 'configuration changed: profile classic → shortlived' },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = renewalDecision({ wanted, ...c.input });
      assert.equal(got.due, c.due, got.reason);
      assert.equal(got.source, c.source, got.reason);
      if (typeof c.reason === 'string') assert.equal(got.reason, c.reason);
      else assert.match(got.reason, c.reason);
      if (c.renewAt !== undefined) assert.equal(got.renewAt?.toISOString() ?? null, c.renewAt);
      assert.equal(got.waitUntil?.toISOString(), c.waitUntil);
    });
  }

  it('refuses an invalid date rather than never renewing', () => {
    assert.throws(() => renewalDecision({ now: d('2030-05-01T00:00:00Z'), current: { ...c90, notAfter: d('not a date') }, wanted }),
      (err: unknown) => err instanceof ValidationError && /certificate notAfter is not a valid date/.test(err.message));
    assert.throws(() => renewalDecision({ now: d('nope'), wanted }), /now is not a valid date/);
  });
});
