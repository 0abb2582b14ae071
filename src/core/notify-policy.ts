/**
 * Notification policy (ARCHITECTURE §5, issue #5), pure: no I/O, `now` is an argument.
 *
 * It judges what clients actually see: the reports handed in are those after this run's
 * renewals, deploys and rescans, so a certificate renewed in time is simply not close to a
 * threshold and produces no warning.
 *
 * - Expiry: one message per (endpoint, certificate fingerprint, threshold). The thresholds crossed
 *   are those t with daysLeft ≤ t. When several crossed thresholds are still unsent (a first run
 *   finds 5 days left), ONE event is sent, for the smallest crossed threshold, and every crossed
 *   threshold is marked sent, so nobody gets three mails at once. A new certificate (new
 *   fingerprint) starts afresh. An expired certificate is a problem (`expired`), not an expiry.
 * - Problems: an alerting code appearing on an endpoint alerts once; its clearing sends one
 *   recovery. Alerting codes are every critical problem except `expiring-soon` (the thresholds
 *   cover that), plus `renewal-failing`, `stale-deployment` and `deploy-failed` at any severity.
 * - An endpoint absent from `reports` (removed from the inventory, or not scanned because only a
 *   subset was) neither alerts nor clears: its active problems stay as they are. Pruning problems
 *   of endpoints removed from the inventory is the caller's job (it knows the inventory).
 * - A report with status `unknown` and no problems (never scanned) changes nothing.
 *
 * The caller persists `markSent` (expiry keys) and `activate`/`clear` (active problems) together
 * with the outbox messages, in one transaction, so a crash never sends twice nor forgets.
 */
import { adviceContextOf, fixFor, hintFor, problemFix } from './advice.js';
import type { EndpointReport } from './model.js';
import type { Problem, ProblemCode } from './problems.js';
import { endpointKey } from './report.js';
import { reached, reportLifetime, thresholdsInForce } from './thresholds.js';

export { normaliseThresholds } from './thresholds.js';

export type NotifySeverity = 'critical' | 'warning' | 'info';

/**
 * What an event is about. expiry, problem and recovery come from the scan (evaluateNotifications);
 * the others from the run and the store (issue 17): a served certificate certs did not issue
 * (unexpected-change), a hook that failed, a CA that was not the first choice (issuer-fallback),
 * a cluster node that stopped reporting (node-silent).
 */
export type NotifyEventKind = 'expiry' | 'problem' | 'recovery' | 'unexpected-change' | 'hook-failed' | 'issuer-fallback' | 'node-silent';

/**
 * Something a run did that operators asked to hear about (issue 17), handed to the notify step.
 * `key` is stable for one occurrence (the same failure on the next run has the same key), so it
 * alerts once: it is recorded as sent like an expiry threshold.
 */
export interface RunEvent {
  type: 'hook-failed' | 'issuer-fallback';
  /** The domain (inventory name) it happened to. */
  domain: string;
  /** Stable dedupe key of this occurrence, e.g. "example.com:deploy:v7". */
  key: string;
  /** One line for people: what happened, where. */
  message: string;
  /** More, e.g. the hook's stderr tail or the CA's error (one line in the digest). */
  detail?: string;
}

/** The sent key of a run event or other non-scan event: recorded in notify_sent so it alerts once. */
export function eventSentKey(kind: Exclude<NotifyEventKind, 'expiry' | 'problem' | 'recovery'>, key: string): string {
  return `event:${kind}:${key}`;
}

/** A RunEvent as a digest event (warning: the certificate itself is fine, or the problem scan shows it). */
export function runEventToNotify(e: RunEvent): NotifyEvent {
  // The digest's problem cell shows only `detail`: it must say what happened as well as why.
  const detail = oneLine(e.detail ? `${e.message}: ${e.detail}` : e.message);
  return {
    key: eventSentKey(e.type, e.key),
    kind: e.type,
    severity: 'warning',
    domain: e.domain,
    endpoint: e.type === 'hook-failed' ? 'hook' : 'acme',
    endpointKey: `${e.type}:${e.domain}`,
    fingerprint256: null,
    daysLeft: null,
    notAfter: null,
    message: oneLine(`${e.domain}: ${e.type}: ${e.message}`),
    detail,
    issuer: null,
  };
}

export interface NotifyEvent {
  /** Unique and stable: the outbox de-duplicates on it. */
  key: string;
  kind: NotifyEventKind;
  severity: NotifySeverity;
  domain: string;
  /** "host:port" or "file:/path", as shown to people. */
  endpoint: string;
  /** endpointKey(report) */
  endpointKey: string;
  fingerprint256: string | null;
  daysLeft: number | null;
  notAfter: string | null;
  /** Expiry events: the threshold (days) this message is for, as configured (its identity in `key`). */
  threshold?: number;
  /**
   * Expiry events of a certificate whose thresholds are scaled to its short lifetime
   * (core/thresholds.ts): the threshold in force, in fractional days. Absent when not scaled.
   */
  thresholdInForce?: number;
  /** Problem and recovery events: the problem code. */
  code?: ProblemCode;
  /** One human line: what, where, days left and expiry date (the fix is `fix`, never repeated here). */
  message: string;
  /** The problem's own hint (scan time, context-free); for an expiry, the same as `fix`. */
  hint?: string;
  /** What is wrong, without where ("certificate expired on 2026-11-23"): the digest table's problem cell. Additive (issue 14). */
  detail?: string;
  /** The one fix for this domain (core/advice.ts fixFor: managed vs monitor-only). Absent for recoveries. Additive (issue 14). */
  fix?: string;
  /** The certificate's issuer as the report has it (one line), when known. Additive (issue 14). */
  issuer?: string | null;
}

/** A problem that has alerted and not yet cleared (persisted by the caller). */
export interface ActiveProblem {
  endpointKey: string;
  domain: string;
  endpoint: string;
  code: ProblemCode;
  /** ISO time it was first alerted. */
  since: string;
  message: string;
}

export interface NotifyInput {
  reports: readonly EndpointReport[];
  /** Expiry keys already sent (`expiry:<endpointKey>:<fingerprint>:<t>`). */
  sentExpiry: ReadonlySet<string>;
  active: readonly ActiveProblem[];
  /** Thresholds in days for a domain (global default or the domain's own). */
  thresholdsFor: (domain: string) => number[];
  now: Date;
  /** Expiry events are critical at or below this many days (default 7, as `expiring-soon`); scaled with the thresholds. */
  criticalDays?: number;
  /** scan.warningDays (default 30): thresholds scale when the lifetime is under 3 × this (core/thresholds.ts). */
  warningDays?: number;
  /** Whether certs renews the domain (default: yes); decides the fix (core/advice.ts). */
  isManaged?: (domain: string) => boolean;
  /** A monitor-only domain's certificate file (domains[].files.cert), for its fix. */
  certFileFor?: (domain: string) => string | undefined;
  /**
   * Expiry only (problems neither alert nor clear): a channel with thresholds of its own gets its
   * own crossings, recorded under its own sent keys (expiryKeyOf), issue 17.
   */
  expiryOnly?: boolean;
  /** The sent key of (endpoint, fingerprint, threshold); default expiryKey. */
  expiryKeyOf?: (epKey: string, fingerprint: string, threshold: number) => string;
}

export interface NotifyDecision {
  events: NotifyEvent[];
  /** Expiry keys to record as sent. */
  markSent: string[];
  /** Problems that start now (to record as active). */
  activate: ActiveProblem[];
  /** Active problems that cleared (to remove). */
  clear: ActiveProblem[];
}

export const DEFAULT_THRESHOLDS: readonly number[] = [30, 14, 7, 3, 1];
const DEFAULT_CRITICAL_DAYS = 7;
const DEFAULT_WARNING_DAYS = 30;

/** How people see an endpoint: "host:port" for TLS ("host:port @address" when an address was dialled, so each address of a name is its own line), "file:/path" for a certificate file. */
export function endpointLabel(r: Pick<EndpointReport, 'source' | 'host' | 'port' | 'file' | 'address'>): string {
  return r.source === 'file' ? `file:${r.file ?? r.host}` : `${r.host}:${r.port}${r.address ? ` @${r.address}` : ''}`;
}

/** Whether a problem alerts on appearing (and recovers on clearing). */
export function isAlertingProblem(p: Pick<Problem, 'code' | 'severity'>): boolean {
  if (p.code === 'renewal-failing' || p.code === 'stale-deployment' || p.code === 'deploy-failed') return true;
  return p.severity === 'critical' && p.code !== 'expiring-soon';
}

export function expiryKey(epKey: string, fingerprint: string, threshold: number): string {
  return `expiry:${epKey}:${fingerprint}:${threshold}`;
}

/**
 * The sent key of a channel with its own thresholds: "expiry@<channel>:" cannot be the start of
 * a default key ("expiry:"), so the default stream's keys (kept from before channels) and each
 * channel's never collide, and each channel gets each of its crossings once.
 */
export function channelExpiryKey(channel: string, epKey: string, fingerprint: string, threshold: number): string {
  return `expiry@${channel}:${epKey}:${fingerprint}:${threshold}`;
}

const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
const day = (iso: string | null): string => (iso ? iso.slice(0, 10) : 'unknown date');
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function expiresIn(daysLeft: number): string {
  return daysLeft === 0 ? 'expires within a day' : `expires in ${plural(daysLeft, 'day')}`;
}

/** The alerting problems of a report, one per code (the first), plus `expired` when daysLeft < 0 says so. */
function alertingProblems(r: EndpointReport): Map<ProblemCode, Problem> {
  const out = new Map<ProblemCode, Problem>();
  for (const p of r.problems) if (isAlertingProblem(p) && !out.has(p.code)) out.set(p.code, p);
  if (r.daysLeft !== null && r.daysLeft < 0 && !out.has('expired')) {
    out.set('expired', {
      code: 'expired',
      severity: 'critical',
      message: `certificate expired on ${day(r.notAfter)}`,
      hint: hintFor('expired'),
    });
  }
  return out;
}

export function evaluateNotifications(input: NotifyInput): NotifyDecision {
  const { reports, sentExpiry, active, thresholdsFor, now } = input;
  const criticalDays = input.criticalDays ?? DEFAULT_CRITICAL_DAYS;
  const warningDays = input.warningDays ?? DEFAULT_WARNING_DAYS;
  const isManaged = input.isManaged ?? (() => true);
  const keyOf = input.expiryKeyOf ?? expiryKey;
  const nowIso = now.toISOString();
  const out: NotifyDecision = { events: [], markSent: [], activate: [], clear: [] };

  const activeByKey = new Map<string, ActiveProblem[]>();
  for (const a of active) {
    const list = activeByKey.get(a.endpointKey) ?? [];
    list.push(a);
    activeByKey.set(a.endpointKey, list);
  }

  const seen = new Set<string>();
  for (const r of reports) {
    const epKey = endpointKey(r);
    if (seen.has(epKey)) continue; // one report per endpoint; the first wins
    seen.add(epKey);
    if (r.status === 'unknown' && r.problems.length === 0) continue; // never scanned: no news
    const endpoint = endpointLabel(r);
    const base = {
      domain: r.domain,
      endpoint,
      endpointKey: epKey,
      fingerprint256: r.fingerprint256,
      daysLeft: r.daysLeft,
      notAfter: r.notAfter,
      issuer: r.issuer ?? null,
    };
    const certFile = input.certFileFor?.(r.domain);
    const advice = adviceContextOf(r, { managed: isManaged(r.domain), ...(certFile !== undefined ? { files: { cert: certFile } } : {}) }, endpoint);

    // Problems first: appearing alerts once, clearing recovers once.
    const now_ = input.expiryOnly ? new Map<ProblemCode, Problem>() : alertingProblems(r);
    const activeHere = input.expiryOnly ? [] : (activeByKey.get(epKey) ?? []);
    const activeCodes = new Set(activeHere.map((a) => a.code));
    for (const [code, p] of now_) {
      if (activeCodes.has(code)) continue;
      out.events.push({
        ...base,
        key: `problem:${epKey}:${code}:${nowIso}`,
        kind: 'problem',
        severity: p.severity,
        code,
        message: oneLine(`${r.domain} ${endpoint}: ${code}: ${p.message}`),
        detail: oneLine(p.message),
        ...(p.hint ? { hint: oneLine(p.hint) } : {}),
        fix: oneLine(problemFix(p, advice)),
      });
      out.activate.push({ endpointKey: epKey, domain: r.domain, endpoint, code, since: nowIso, message: oneLine(p.message) });
    }
    for (const a of activeHere) {
      if (now_.has(a.code)) continue;
      out.events.push({
        ...base,
        key: `recovery:${epKey}:${a.code}:${a.since}`,
        kind: 'recovery',
        severity: 'info',
        code: a.code,
        message: oneLine(`${r.domain} ${endpoint}: recovered: ${a.code} no longer seen (since ${a.since.slice(0, 16).replace('T', ' ')} UTC: ${a.message})`),
        detail: oneLine(`open since ${a.since.slice(0, 16).replace('T', ' ')} UTC: ${a.message}`),
      });
      out.clear.push(a);
    }

    // Expiry: the certificate clients see, not yet expired.
    const expired = r.problems.some((p) => p.code === 'expired') || (r.daysLeft !== null && r.daysLeft < 0);
    if (!r.fingerprint256 || r.daysLeft === null || expired) continue;
    const daysLeft = r.daysLeft;
    // Thresholds fit the certificate's lifetime (core/thresholds.ts, the rule the scanner's
    // expiring-soon uses): under 3 × warningDays they scale down and are compared in ms; a
    // 90-day or longer certificate crosses t when its whole days left are ≤ t, as always.
    const t = thresholdsInForce(reportLifetime(r), { warningDays, criticalDays, notify: thresholdsFor(r.domain) });
    const msLeft = r.notAfter ? Date.parse(r.notAfter) - (r.scannedAt ? Date.parse(r.scannedAt) : now.getTime()) : Number.NaN;
    const crossed = t.notify.filter((x) => (t.scaled ? reached(msLeft, x, true) : daysLeft <= x.configured)).map((x) => x.configured);
    if (crossed.length === 0) continue;
    const fp = r.fingerprint256;
    const smallest = crossed[crossed.length - 1] as number;
    const inForce = smallest * t.factor;
    const critical = smallest <= criticalDays || (t.scaled ? msLeft <= t.critical.ms : daysLeft <= criticalDays);
    const unsent = crossed.filter((x) => !sentExpiry.has(keyOf(epKey, fp, x)));
    out.markSent.push(...unsent.map((x) => keyOf(epKey, fp, x)));
    // The smallest crossed one already went out: larger ones (e.g. a threshold added to the
    // config later) are marked silently instead of sending an older, milder message.
    if (!unsent.includes(smallest)) continue;
    const fix = oneLine(fixFor('expiry', advice));
    out.events.push({
      ...base,
      key: keyOf(epKey, fp, smallest),
      kind: 'expiry',
      severity: critical ? 'critical' : 'warning',
      threshold: smallest,
      ...(t.scaled ? { thresholdInForce: inForce } : {}),
      message: oneLine(`${r.domain} ${endpoint}: ${expiresIn(daysLeft)} (${day(r.notAfter)})`),
      detail: `${expiresIn(daysLeft)} (${day(r.notAfter)})`,
      hint: fix,
      fix,
    });
  }
  return out;
}

/** Whether a heartbeat is due. An interval ≤ 0 (or not a number) means heartbeats are off. */
export function heartbeatDue(last: Date | null, now: Date, intervalHours: number): boolean {
  if (!Number.isFinite(intervalHours) || intervalHours <= 0) return false;
  if (last === null) return true;
  return now.getTime() - last.getTime() >= intervalHours * 3_600_000;
}

// ---------------------------------------------------------------------------------------------
// The digest (subject, summary, table) lives in core/digest.ts; re-exported for existing callers.

export { buildDigest, buildHeartbeat, digestStory, digestSubject, nameList, MAX_ROWS, MAX_SUBJECT } from './digest.js';
export type { Digest, DigestGroup, DigestLinks, DigestOptions, DigestRow } from './digest.js';
