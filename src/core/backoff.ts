/**
 * Per-certificate backoff after failed renewals (ARCHITECTURE §5): minutes, then hours, then
 * daily. The caller persists the result as the certificate's nextAttemptAt; renewalDecision
 * holds renewals back until then.
 */
import { ValidationError } from './errors.js';

const MINUTE_MS = 60_000;
const DAY_MS = 1440 * MINUTE_MS;

/** 5, 10, 20, 40, 80 min, 2.7 h, 5.3 h, 10.7 h, 21.3 h, then the 24 h cap. */
export const BACKOFF_FIRST_MS = 5 * MINUTE_MS;
export const BACKOFF_CAP_MS = DAY_MS;
/**
 * ±20 % around the nominal delay, so the cap really means "about daily" (19.2 h to 28.8 h).
 * Not full jitter (uniform in [0, delay]): that can retry seconds after a failure, which is what
 * a backoff is there to prevent; ±20 % is enough to keep certificates that failed together
 * (one CA outage) from retrying together.
 */
export const BACKOFF_JITTER = 0.2;
/**
 * A CA's Retry-After is a floor, but one saying "come back in 10 years" (or a misparsed date)
 * must not park a certificate until it expires: a week at most, after which the normal
 * backoff resumes and the CA can say so again.
 */
export const RETRY_AFTER_MAX_MS = 7 * DAY_MS;

export interface BackoffInput {
  /** Consecutive failed attempts, counting the one that just failed (≥ 1). */
  failures: number;
  now: Date;
  /** The CA's Retry-After from the failed attempt, if it sent one. */
  retryAfter?: Date;
  /** [0, 1), like Math.random; injected so tests are deterministic. */
  random: () => number;
}

/** The nominal delay after `failures` consecutive failures, before jitter. */
export function backoffDelayMs(failures: number): number {
  if (!Number.isInteger(failures) || failures < 1) {
    throw new ValidationError(`backoff: failures must be a whole number ≥ 1, got ${failures}`);
  }
  return Math.min(BACKOFF_FIRST_MS * 2 ** Math.min(failures - 1, 30), BACKOFF_CAP_MS);
}

/** When to try again: the jittered delay, never before the CA's (capped) Retry-After. */
export function nextBackoff(input: BackoffInput): Date {
  const { now, retryAfter } = input;
  const r = input.random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  const factor = 1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * unit;
  let at = now.getTime() + Math.round(backoffDelayMs(input.failures) * factor);
  if (retryAfter && !Number.isNaN(retryAfter.getTime())) {
    at = Math.max(at, Math.min(retryAfter.getTime(), now.getTime() + RETRY_AFTER_MAX_MS));
  }
  return new Date(at);
}
