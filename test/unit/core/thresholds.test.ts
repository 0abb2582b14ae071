/** The lifetime rule for expiry thresholds (core/thresholds.ts, issue 12 §4), from tables. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DAY_MS,
  expirySeverity,
  explainNotify,
  explainThresholds,
  formatSpan,
  lifetimeOf,
  reached,
  reachedNotify,
  reportLifetime,
  thresholdsInForce,
  thresholdsJson,
  type ThresholdSettings,
} from '../../../src/core/thresholds.js';

const HOUR = 3_600_000;
const DEFAULTS: ThresholdSettings = { warningDays: 30, criticalDays: 7, notify: [30, 14, 7, 3, 1] };
/** A certificate of `days` as certificates are made: notAfter = notBefore + days − 1 s (RFC 5280 counts both ends). */
const life = (days: number): number => lifetimeOf(0, days * DAY_MS - 1000) as number;
const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} ≠ ${expected}`);

describe('thresholdsInForce: lifetimes from 6 to 200 days with the defaults', () => {
  const table: Array<{ days: number; scaled: boolean; warning: number; critical: number; line: RegExp }> = [
    { days: 6, scaled: true, warning: 2, critical: 7 * 6 / 90, line: /^6-day certificate: warning at 2 days, critical at 11 hours \(scaled from 30\/7 because the lifetime is under 90 days\)$/ },
    { days: 10, scaled: true, warning: 10 / 3, critical: 7 * 10 / 90, line: /^10-day certificate: warning at 3\.3 days, critical at 19 hours \(scaled/ },
    { days: 47, scaled: true, warning: 47 / 3, critical: 7 * 47 / 90, line: /^47-day certificate: warning at 15\.7 days, critical at 3\.7 days \(scaled from 30\/7 because the lifetime is under 90 days\)$/ },
    { days: 64, scaled: true, warning: 64 / 3, critical: 7 * 64 / 90, line: /^64-day certificate: warning at 21\.3 days, critical at 5 days \(scaled/ },
    { days: 89, scaled: true, warning: 89 / 3, critical: 7 * 89 / 90, line: /^89-day certificate: warning at 29\.7 days, critical at 6\.9 days \(scaled/ },
    { days: 90, scaled: false, warning: 30, critical: 7, line: /^90-day certificate: warning at 30 days, critical at 7 days \(not scaled: the lifetime is at least 90 days\)$/ },
    { days: 200, scaled: false, warning: 30, critical: 7, line: /^200-day certificate: warning at 30 days, critical at 7 days \(not scaled/ },
  ];
  for (const row of table) {
    test(`${row.days}-day certificate`, () => {
      const t = thresholdsInForce(life(row.days), DEFAULTS);
      assert.equal(t.scaled, row.scaled);
      close(t.warning.days, row.warning, 'warning');
      close(t.critical.days, row.critical, 'critical');
      close(t.warning.ms, row.warning * DAY_MS, 'warning ms');
      // Every notification threshold by the same factor, keeping its configured value as identity.
      assert.deepEqual(t.notify.map((x) => x.configured), [30, 14, 7, 3, 1]);
      for (const x of t.notify) close(x.days, x.configured * (row.scaled ? row.days / 90 : 1), `notify ${x.configured}`);
      assert.match(explainThresholds(t), row.line);
    });
  }

  test('the issue\'s examples: 47 days → 15.7 and 3.7 days; 6 days → 2 days and 11 hours', () => {
    const t47 = thresholdsInForce(life(47), DEFAULTS);
    assert.equal(formatSpan(t47.warning.ms), '15.7 days');
    assert.equal(formatSpan(t47.critical.ms), '3.7 days');
    const t6 = thresholdsInForce(life(6), DEFAULTS);
    assert.equal(formatSpan(t6.warning.ms), '2 days');
    assert.equal(formatSpan(t6.critical.ms), '11 hours');
    assert.equal(explainNotify(t6), '2 days, 22 hours, 11 hours, 5 hours, 2 hours left (scaled from 30/14/7/3/1)');
    assert.equal(explainNotify(thresholdsInForce(life(90), DEFAULTS)), '30, 14, 7, 3, 1 days left');
  });
});

describe('the boundary at 3 × warningDays', () => {
  test("Let's Encrypt's 90-day certificate (notAfter = notBefore + 90 days − 1 s) is 90 days and not scaled", () => {
    assert.equal(lifetimeOf('2026-01-01T00:00:00Z', '2026-03-31T23:59:59Z'), 90 * DAY_MS);
    assert.equal(thresholdsInForce(lifetimeOf('2026-01-01T00:00:00Z', '2026-03-31T23:59:59Z'), DEFAULTS).scaled, false);
    assert.equal(thresholdsInForce(lifetimeOf('2026-01-01T00:00:00Z', '2026-03-31T23:59:58Z'), DEFAULTS).scaled, true);
  });

  test('the boundary follows warningDays: 45 → scaled under 135 days', () => {
    const t = thresholdsInForce(life(90), { warningDays: 45, criticalDays: 10 });
    assert.equal(t.scaled, true);
    close(t.warning.days, 30, 'warning');
    close(t.critical.days, 20 / 3, 'critical');
    assert.equal(thresholdsInForce(life(135), { warningDays: 45, criticalDays: 10 }).scaled, false);
  });
});

describe('reached: whole days when not scaled (as before), milliseconds when scaled', () => {
  test('90-day: the 30-day threshold is reached at 30 whole days left (less than 31 days), not at 31', () => {
    const t = thresholdsInForce(life(90), DEFAULTS);
    assert.equal(expirySeverity(31 * DAY_MS, t), null);
    assert.equal(expirySeverity(31 * DAY_MS - 1, t), 'warning');
    assert.equal(expirySeverity(8 * DAY_MS - 1, t), 'critical');
    assert.deepEqual(reachedNotify(14 * DAY_MS + HOUR, t).map((x) => x.configured), [30, 14]);
  });

  test('47-day: warning from 15.67 days exactly, critical from 3.66 days exactly', () => {
    const t = thresholdsInForce(life(47), DEFAULTS);
    const w = t.warning.ms;
    const c = t.critical.ms;
    assert.equal(expirySeverity(w + 1, t), null);
    assert.equal(expirySeverity(w, t), 'warning');
    assert.equal(expirySeverity(c + 1, t), 'warning');
    assert.equal(expirySeverity(c, t), 'critical');
    assert.equal(expirySeverity(-1, t), null, 'an expired certificate is not "expiring"');
    // 15 whole days left but 15.8 days: the old whole-day rule would have warned, this one does not.
    assert.equal(expirySeverity(15.8 * DAY_MS, t), null);
  });

  test('6-day: no notification threshold at birth; the 7-day one at 11.2 hours, the 1-day one at 1.6 hours', () => {
    const t = thresholdsInForce(life(6), DEFAULTS);
    assert.deepEqual(reachedNotify(6 * DAY_MS, t), []);
    assert.deepEqual(reachedNotify(2 * DAY_MS + 60_000, t), []);
    assert.deepEqual(reachedNotify(2 * DAY_MS - 60_000, t).map((x) => x.configured), [30]);
    assert.deepEqual(reachedNotify(11 * HOUR, t).map((x) => x.configured), [30, 14, 7]);
    assert.deepEqual(reachedNotify(1.5 * HOUR, t).map((x) => x.configured), [30, 14, 7, 3, 1]);
    assert.equal(reached(0, t.notify[4]!, true), true);
  });
});

describe('per-domain thresholds and odd settings', () => {
  test('a domain\'s own thresholds scale the same way, normalised (whole, positive, unique, largest first)', () => {
    const t = thresholdsInForce(life(45), { warningDays: 30, criticalDays: 7, notify: [10, 2, 10, 0, -3, 5.9] });
    assert.deepEqual(t.notify.map((x) => x.configured), [10, 5, 2]);
    assert.deepEqual(t.notify.map((x) => Math.round(x.days * 1000) / 1000), [5, 2.5, 1]);
  });

  test('warningDays 0: never scaled, nothing is "expiring" until the last day', () => {
    const t = thresholdsInForce(life(6), { warningDays: 0, criticalDays: 0, notify: [3] });
    assert.equal(t.scaled, false);
    assert.equal(t.factor, 1);
    assert.equal(expirySeverity(DAY_MS, t), null);
    assert.equal(expirySeverity(DAY_MS - 1, t), 'critical');
  });

  test('criticalDays above warningDays: the warning window is as wide as the critical one, the factor still from warningDays', () => {
    const t = thresholdsInForce(life(30), { warningDays: 20, criticalDays: 25 });
    assert.equal(t.scaled, true);
    close(t.factor, 0.5, 'factor');
    close(t.critical.days, 12.5, 'critical');
    close(t.warning.days, 12.5, 'warning is never narrower than critical');
    assert.equal(expirySeverity(12 * DAY_MS, t), 'critical');
    assert.equal(expirySeverity(13 * DAY_MS, t), null);
  });

  test('negative or non-finite settings count as 0; an unknown or inverted lifetime is not scaled', () => {
    const odd = thresholdsInForce(life(6), { warningDays: Number.NaN, criticalDays: -4 });
    assert.equal(odd.scaled, false);
    assert.equal(odd.warning.days, 0);
    assert.equal(odd.critical.days, 0);
    assert.equal(lifetimeOf('2026-02-01T00:00:00Z', '2026-01-01T00:00:00Z'), null);
    assert.equal(lifetimeOf(null, '2026-01-01T00:00:00Z'), null);
    assert.equal(lifetimeOf('not a date', '2026-01-01T00:00:00Z'), null);
    const unknown = thresholdsInForce(null, DEFAULTS);
    assert.equal(unknown.scaled, false);
    assert.match(explainThresholds(unknown), /^lifetime unknown: warning at 30 days, critical at 7 days \(not scaled: the certificate's notBefore is not known\)$/);
  });
});

describe('reportLifetime and the JSON form', () => {
  test("the leaf's own notAfter counts when an intermediate expires first", () => {
    const notBefore = '2026-01-01T00:00:00.000Z';
    assert.equal(reportLifetime({ notBefore, notAfter: '2026-02-17T00:00:00.000Z' }), 47 * DAY_MS + 1000);
    assert.equal(reportLifetime({ notBefore, notAfter: '2026-01-11T00:00:00.000Z', leafNotAfter: '2026-04-01T00:00:00.000Z' }), 90 * DAY_MS + 1000);
    assert.equal(reportLifetime({ notAfter: '2026-02-17T00:00:00.000Z' }), null);
  });

  test('thresholdsJson rounds to 3 decimals and carries the explanation', () => {
    const j = thresholdsJson(thresholdsInForce(life(47), DEFAULTS));
    assert.deepEqual(
      { ...j, explanation: undefined },
      {
        lifetimeDays: 47, scaled: true, factor: 0.522, warningDays: 15.667, criticalDays: 3.656,
        notify: [{ threshold: 30, days: 15.667 }, { threshold: 14, days: 7.311 }, { threshold: 7, days: 3.656 }, { threshold: 3, days: 1.567 }, { threshold: 1, days: 0.522 }],
        explanation: undefined,
      },
    );
    assert.match(j.explanation, /^47-day certificate: warning at 15\.7 days/);
  });

  test('formatSpan', () => {
    assert.deepEqual([DAY_MS, 1.04 * DAY_MS, 23.6 * HOUR, 11.2 * HOUR, HOUR, 40 * 60_000, 60_000, 0].map(formatSpan), ['1 day', '1 day', '1 day', '11 hours', '1 hour', '40 minutes', '1 minute', '0 minutes']);
  });
});
