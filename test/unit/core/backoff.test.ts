import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import {
  BACKOFF_CAP_MS, BACKOFF_FIRST_MS, BACKOFF_JITTER, RETRY_AFTER_MAX_MS, backoffDelayMs, nextBackoff,
} from '../../../src/core/backoff.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MID = (): number => 0.5; // no jitter: factor 1
const after = (ms: number): string => new Date(NOW.getTime() + ms).toISOString();

describe('backoffDelayMs', () => {
  const growth: Array<[number, number]> = [
    [1, 5 * MIN], [2, 10 * MIN], [3, 20 * MIN], [4, 40 * MIN], [5, 80 * MIN], [6, 160 * MIN],
    [7, 320 * MIN], [8, 640 * MIN], [9, 1280 * MIN], [10, DAY], [11, DAY], [50, DAY], [10_000, DAY],
  ];
  for (const [failures, want] of growth) {
    it(`${failures} failure(s): ${want / MIN} minutes`, () => assert.equal(backoffDelayMs(failures), want));
  }

  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`refuses ${bad} failures`, () => {
      assert.throws(() => backoffDelayMs(bad), (err: unknown) =>
        err instanceof ValidationError && new RegExp(`failures must be a whole number ≥ 1, got ${bad}`).test(err.message));
    });
  }

  it('uses the documented constants', () => {
    assert.equal(BACKOFF_FIRST_MS, 5 * MIN);
    assert.equal(BACKOFF_CAP_MS, DAY);
    assert.equal(BACKOFF_JITTER, 0.2);
    assert.equal(RETRY_AFTER_MAX_MS, 7 * DAY);
  });
});

describe('nextBackoff', () => {
  const cases: Array<{ name: string; failures: number; random: number; retryAfter?: string; want: string }> = [
    { name: 'first failure, no jitter', failures: 1, random: 0.5, want: after(5 * MIN) },
    { name: 'first failure, lowest jitter (−20 %)', failures: 1, random: 0, want: after(4 * MIN) },
    { name: 'first failure, highest jitter (+20 %)', failures: 1, random: 1, want: after(6 * MIN) },
    { name: 'fourth failure, +10 %', failures: 4, random: 0.75, want: after(44 * MIN) },
    { name: 'capped, lowest jitter', failures: 12, random: 0, want: after(0.8 * DAY) },
    { name: 'capped, highest jitter', failures: 12, random: 1, want: after(1.2 * DAY) },
    { name: 'random out of range is clamped', failures: 1, random: -3, want: after(4 * MIN) },
    { name: 'random NaN counts as no jitter', failures: 1, random: Number.NaN, want: after(5 * MIN) },
    { name: 'Retry-After later than the backoff is a floor', failures: 1, random: 0.5, retryAfter: after(3 * HOUR), want: after(3 * HOUR) },
    { name: 'Retry-After earlier than the backoff changes nothing', failures: 3, random: 0.5, retryAfter: after(MIN), want: after(20 * MIN) },
    { name: 'Retry-After in the past changes nothing', failures: 1, random: 0.5, retryAfter: after(-HOUR), want: after(5 * MIN) },
    { name: 'Retry-After in 10 years is clamped to 7 days', failures: 1, random: 0.5, retryAfter: '2040-06-01T00:00:00Z', want: after(7 * DAY) },
    { name: 'Retry-After of exactly 7 days is kept', failures: 1, random: 0.5, retryAfter: after(7 * DAY), want: after(7 * DAY) },
    { name: 'an invalid Retry-After date is ignored', failures: 1, random: 0.5, retryAfter: 'garbage', want: after(5 * MIN) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = nextBackoff({ failures: c.failures, now: NOW, random: () => c.random, ...(c.retryAfter ? { retryAfter: new Date(c.retryAfter) } : {}) });
      assert.equal(got.toISOString(), c.want);
    });
  }

  it('grows monotonically without jitter and stays within ±20 % with it', () => {
    let previous = 0;
    let seed = 7;
    const lcg = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let failures = 1; failures <= 20; failures++) {
      const plain = nextBackoff({ failures, now: NOW, random: MID }).getTime() - NOW.getTime();
      assert.ok(plain >= previous, `failure ${failures}: ${plain} < ${previous}`);
      previous = plain;
      for (let i = 0; i < 50; i++) {
        const jittered = nextBackoff({ failures, now: NOW, random: lcg }).getTime() - NOW.getTime();
        assert.ok(jittered >= plain * 0.8 && jittered <= plain * 1.2, `failure ${failures}: ${jittered} outside ±20 % of ${plain}`);
      }
    }
  });

  it('goes from minutes to hours to about daily', () => {
    const delay = (failures: number): number => nextBackoff({ failures, now: NOW, random: MID }).getTime() - NOW.getTime();
    assert.ok(delay(1) < HOUR);
    assert.ok(delay(6) > HOUR && delay(6) < 4 * HOUR);
    assert.equal(delay(30), DAY);
  });
});
