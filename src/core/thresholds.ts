/**
 * Expiry thresholds that fit the certificate's lifetime (issue 12 §4), pure: one rule for the
 * scanner's `expiring-soon` (warning and critical) and for the notification thresholds.
 *
 * Fixed day counts break on short certificates: a 47-day certificate would be "expiring soon" at
 * 30 days for 64% of its life, a 6-day one from birth. So when the lifetime L is shorter than
 * 3 × warningDays, warningDays, criticalDays and every notification threshold are multiplied by
 * L / (3 × warningDays):
 *
 *   47 days → warning at 15.7 days, critical at 3.7, emails at 15.7/7.3/3.7/1.6/0.5 days;
 *    6 days → warning at 2 days, critical at 11 hours.
 *
 * 90-day and longer certificates (with the default warningDays 30) are left exactly as before:
 * a threshold of t days is reached when the whole days left, as `certs status` shows them
 * (floor), are ≤ t. A scaled threshold is fractional and is compared in milliseconds.
 *
 * The lifetime counts both ends, as RFC 5280 §4.1.2.5 does (notBefore through notAfter,
 * inclusive): notAfter − notBefore + 1 s. Let's Encrypt's 90-day certificate (notAfter =
 * notBefore + 90 days − 1 s) is therefore 90 days, not scaled.
 *
 * A lifetime that is unknown (no notBefore) or not positive leaves everything unscaled. Odd
 * settings never throw: negative or non-finite days count as 0, warningDays 0 never scales, and
 * criticalDays above warningDays keeps the warning window at least as wide as the critical one.
 *
 * Notification thresholds keep their configured value as their identity (the dedupe key
 * `expiry:<endpoint>:<fingerprint>:<t>` uses it), whatever they are scaled to.
 */
import type { EndpointReport } from './model.js';

export const DAY_MS = 86_400_000;
/** RFC 5280 validity is inclusive of notAfter: a lifetime is notAfter − notBefore + 1 s. */
const INCLUSIVE_END_MS = 1_000;
/** Scaling starts below this many warning windows of lifetime. */
const WINDOWS_PER_LIFETIME = 3;

export interface ThresholdSettings {
  /** scan.warningDays (default 30). */
  warningDays: number;
  /** scan.criticalDays (default 7). */
  criticalDays: number;
  /** Notification thresholds in days (notify.thresholds or the domain's own); omitted: none. */
  notify?: readonly number[];
}

/** One threshold as configured and as in force for this certificate. */
export interface ThresholdInForce {
  /** As configured (whole days for notification thresholds): the identity, used in dedupe keys. */
  configured: number;
  /** In force for this certificate, in (fractional) days. */
  days: number;
  /** In force, in milliseconds. */
  ms: number;
}

export interface ThresholdsInForce {
  /** notAfter − notBefore + 1 s, or null when unknown or not positive. */
  lifetimeMs: number | null;
  /** The multiplier applied (1 when not scaled). */
  factor: number;
  scaled: boolean;
  warning: ThresholdInForce;
  critical: ThresholdInForce;
  /** Notification thresholds, positive whole days, de-duplicated, largest first. */
  notify: ThresholdInForce[];
}

type Instant = string | number | Date | null | undefined;

function toMs(t: Instant): number | null {
  if (t === null || t === undefined) return null;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

/** The lifetime of a certificate (RFC 5280: both ends included), or null when unknown or not positive. */
export function lifetimeOf(notBefore: Instant, notAfter: Instant): number | null {
  const from = toMs(notBefore);
  const to = toMs(notAfter);
  if (from === null || to === null || to < from) return null;
  return to - from + INCLUSIVE_END_MS;
}

const days = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);

/** Positive whole days, de-duplicated, largest first (as notification thresholds are configured). */
export function normaliseThresholds(ts: readonly number[]): number[] {
  const ok = ts.filter((t) => Number.isFinite(t) && t > 0).map((t) => Math.floor(t));
  return [...new Set(ok)].sort((a, b) => b - a);
}

/** The thresholds in force for a certificate of this lifetime (ms; null = unknown). */
export function thresholdsInForce(lifetimeMs: number | null, settings: ThresholdSettings): ThresholdsInForce {
  const warningDays = days(settings.warningDays);
  const criticalDays = days(settings.criticalDays);
  const life = lifetimeMs !== null && Number.isFinite(lifetimeMs) && lifetimeMs > 0 ? lifetimeMs : null;
  const span = WINDOWS_PER_LIFETIME * warningDays * DAY_MS;
  const scaled = life !== null && span > 0 && life < span;
  const factor = scaled ? life / span : 1;
  const one = (configured: number): ThresholdInForce => ({ configured, days: configured * factor, ms: configured * factor * DAY_MS });
  const critical = one(criticalDays);
  const warning = warningDays >= criticalDays ? one(warningDays) : { ...critical, configured: warningDays };
  return { lifetimeMs: life, factor, scaled, warning, critical, notify: normaliseThresholds(settings.notify ?? []).map(one) };
}

/**
 * Whether a threshold is reached with `msLeft` until expiry: whole days left ≤ the threshold when
 * not scaled (exactly the rule before scaling existed), milliseconds when scaled. Never after expiry.
 */
export function reached(msLeft: number, threshold: ThresholdInForce, scaled: boolean): boolean {
  if (!(msLeft >= 0)) return false;
  return scaled ? msLeft <= threshold.ms : Math.floor(msLeft / DAY_MS) <= threshold.configured;
}

/** Every notification threshold reached with `msLeft` left, largest first. */
export function reachedNotify(msLeft: number, t: ThresholdsInForce): ThresholdInForce[] {
  return t.notify.filter((x) => reached(msLeft, x, t.scaled));
}

/** The `expiring-soon` verdict: null (not yet), 'warning' or 'critical'. */
export function expirySeverity(msLeft: number, t: ThresholdsInForce): 'warning' | 'critical' | null {
  if (reached(msLeft, t.critical, t.scaled)) return 'critical';
  if (reached(msLeft, t.warning, t.scaled)) return 'warning';
  return null;
}

const trim = (n: number): string => n.toFixed(1).replace(/\.0$/, '');

/** A span for people: "15.7 days", "2 days", "1 day", "11 hours", "40 minutes". */
export function formatSpan(ms: number): string {
  const d = ms / DAY_MS;
  if (d >= 1 || Math.round(ms / 3_600_000) >= 24) {
    const s = trim(d);
    return `${s} day${s === '1' ? '' : 's'}`;
  }
  const h = ms / 3_600_000;
  if (h >= 1) {
    const s = String(Math.round(h));
    return `${s} hour${s === '1' ? '' : 's'}`;
  }
  const m = Math.max(0, Math.round(ms / 60_000));
  return `${m} minute${m === 1 ? '' : 's'}`;
}

/** "47-day", "6-day", "36-hour": the lifetime as an adjective. */
function lifetimeLabel(ms: number): string {
  const d = ms / DAY_MS;
  return d >= 2 ? `${trim(d)}-day` : `${trim(ms / 3_600_000)}-hour`;
}

/**
 * The thresholds in force and why, e.g. "47-day certificate: warning at 15.7 days, critical at
 * 3.7 days (scaled from 30/7 because the lifetime is under 90 days)".
 */
export function explainThresholds(t: ThresholdsInForce): string {
  const at = (x: ThresholdInForce): string => (t.scaled ? formatSpan(x.ms) : `${x.configured} day${x.configured === 1 ? '' : 's'}`);
  const head = t.lifetimeMs === null ? 'lifetime unknown' : `${lifetimeLabel(t.lifetimeMs)} certificate`;
  const span = `${trim(WINDOWS_PER_LIFETIME * t.warning.configured)} days`;
  const why = t.scaled
    ? `scaled from ${t.warning.configured}/${t.critical.configured} because the lifetime is under ${span}`
    : t.lifetimeMs === null
      ? "not scaled: the certificate's notBefore is not known"
      : `not scaled: the lifetime is at least ${span}`;
  return `${head}: warning at ${at(t.warning)}, critical at ${at(t.critical)} (${why})`;
}

/** The notification thresholds in force, e.g. "15.7 days, 7.3 days, 3.7 days, 1.6 days, 13 hours (scaled from 30/14/7/3/1)"; '' when none. */
export function explainNotify(t: ThresholdsInForce): string {
  if (t.notify.length === 0) return '';
  if (!t.scaled) return `${t.notify.map((x) => x.configured).join(', ')} days left`;
  return `${t.notify.map((x) => formatSpan(x.ms)).join(', ')} left (scaled from ${t.notify.map((x) => x.configured).join('/')})`;
}

/** The JSON form (`certs status <name> --json`, endpoint `thresholds`). */
export interface ThresholdsJson {
  lifetimeDays: number | null;
  scaled: boolean;
  factor: number;
  warningDays: number;
  criticalDays: number;
  notify: Array<{ threshold: number; days: number }>;
  explanation: string;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export function thresholdsJson(t: ThresholdsInForce): ThresholdsJson {
  return {
    lifetimeDays: t.lifetimeMs === null ? null : round3(t.lifetimeMs / DAY_MS),
    scaled: t.scaled,
    factor: round3(t.factor),
    warningDays: round3(t.warning.days),
    criticalDays: round3(t.critical.days),
    notify: t.notify.map((x) => ({ threshold: x.configured, days: round3(x.days) })),
    explanation: explainThresholds(t),
  };
}

/**
 * The lifetime of the leaf a report judged: its notBefore and its own notAfter (`leafNotAfter`
 * when an intermediate expires first), else the first certificate of its chain; null if unknown.
 */
export function reportLifetime(r: Pick<EndpointReport, 'notBefore' | 'notAfter' | 'leafNotAfter' | 'chain'>): number | null {
  const leaf = r.chain?.[0];
  return lifetimeOf(r.notBefore ?? leaf?.notBefore, r.leafNotAfter ?? (r.notBefore ? r.notAfter : leaf?.notAfter ?? r.notAfter));
}

/**
 * How problems that turn critical near expiry (renewal-failing, stale-deployment, deploy-failed)
 * find their window: a plain number is criticalDays as configured, unscaled (the rule before
 * issue 12 §4, kept for callers that pass one); the settings scale it to the certificate's
 * lifetime, as `expiring-soon` does.
 */
export type CriticalSetting = number | Pick<ThresholdSettings, 'warningDays' | 'criticalDays'>;

/** Whether the certificate a report judged is inside its critical window (see CriticalSetting). */
export function inCriticalWindow(r: Pick<EndpointReport, 'daysLeft' | 'notBefore' | 'notAfter' | 'leafNotAfter' | 'chain' | 'scannedAt'>, setting: CriticalSetting): boolean {
  if (r.daysLeft === null) return false;
  if (typeof setting === 'number') return r.daysLeft <= setting;
  const t = thresholdsInForce(reportLifetime(r), { warningDays: setting.warningDays, criticalDays: setting.criticalDays });
  if (!t.scaled) return r.daysLeft <= t.critical.configured;
  const end = Date.parse(r.notAfter ?? '');
  const at = Date.parse(r.scannedAt ?? '');
  const msLeft = Number.isFinite(end) && Number.isFinite(at) ? end - at : r.daysLeft * DAY_MS;
  return msLeft < 0 || reached(msLeft, t.critical, true);
}
