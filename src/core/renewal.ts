/**
 * When to renew a certificate (ARCHITECTURE §5), as a pure function of the current certificate,
 * the wanted one, the CA's ARI window and the backoff state. `now` is always an argument.
 *
 * Precedence, first match wins:
 *   new → changed → expired → forced → time-based schedule (see scheduleOf), never later than
 *   the emergency floor (emergencyRenewAt)
 * and then the backoff gate: a failed attempt's nextAttemptAt in the future holds back every
 * renewal, including new, changed and expired certificates, because a failing order repeated on
 * every run is exactly what gets an account rate-limited (Let's Encrypt counts failed
 * validations per hostname). Only `force` — an operator at the keyboard — passes the gate.
 */
import { ValidationError } from './errors.js';

const DAY_MS = 86_400_000;

export type RenewalSource = 'ari' | 'lifetime' | 'renew-before-days' | 'emergency' | 'forced' | 'new' | 'changed' | 'expired';

export interface CurrentCert {
  notBefore: Date;
  notAfter: Date;
  names: string[];
  keyType: string;
  /** ACME profile it was ordered with; null/undefined: the CA's default. */
  profile?: string | null;
}

export interface WantedCert {
  names: string[];
  keyType: string;
  profile?: string | null;
}

export interface RenewalInput {
  now: Date;
  current?: CurrentCert;
  wanted: WantedCert;
  renewBeforeDays?: number;
  /** The CA's ARI window and the moment picked in it (ariRenewalTime), when the CA offers ARI. */
  ari?: { start: Date; end: Date; chosen?: Date };
  force?: boolean;
  backoff?: { nextAttemptAt: Date };
}

export interface RenewalDecision {
  due: boolean;
  /** A sentence for `certs certificates`, e.g. "renews 2026-12-01 00:00 UTC (⅓ of the 90-day lifetime left)". */
  reason: string;
  /** When the time-based schedule renews the current certificate; null when there is none. */
  renewAt: Date | null;
  source: RenewalSource;
  /** Set when a backoff holds back a renewal that is otherwise due. */
  waitUntil?: Date;
}

function when(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function days(ms: number): string {
  return String(Math.round((ms / DAY_MS) * 100) / 100);
}

function lifetimeOf(notBefore: Date, notAfter: Date): number {
  const ms = notAfter.getTime() - notBefore.getTime();
  if (!(ms > 0)) {
    throw new ValidationError(`certificate notAfter ${notAfter.toISOString()} is not after its notBefore ${notBefore.toISOString()}: it has no lifetime to renew within`);
  }
  return ms;
}

/**
 * Renew when ⅓ of the lifetime L remains, or ½ when L ≤ 10 days: short-lived certificates
 * (Let's Encrypt's 6-day profile) need room for a few failed attempts before they expire.
 */
export function defaultRenewAt(notBefore: Date, notAfter: Date): Date {
  const lifetime = lifetimeOf(notBefore, notAfter);
  const left = Math.ceil(lifetime * (lifetime <= 10 * DAY_MS ? 1 / 2 : 1 / 3));
  return new Date(notAfter.getTime() - left);
}

function renewBeforeDaysProblem(value: number, lifetimeMs: number): string | null {
  if (!Number.isFinite(value) || value <= 0) return `renewBeforeDays must be a positive number of days, got ${value}`;
  if (value * DAY_MS >= lifetimeMs) {
    return `renewBeforeDays ${value} is not less than the certificate lifetime of ${days(lifetimeMs)} days: it would renew on every run`;
  }
  return null;
}

/** Refuses a renewBeforeDays that is not positive or reaches the lifetime (it would renew on every run). */
export function checkRenewBeforeDays(value: number, lifetimeMs: number): void {
  const problem = renewBeforeDaysProblem(value, lifetimeMs);
  if (problem) {
    throw new ValidationError(problem, {
      hint: `set renewBeforeDays below ${days(lifetimeMs)}, or remove it to renew when ⅓ of the lifetime is left`,
    });
  }
}

function changesOf(current: CurrentCert, wanted: WantedCert): string | null {
  const set = (names: string[]): Set<string> => new Set(names.map((n) => n.trim().toLowerCase()));
  const have = set(current.names);
  const want = set(wanted.names);
  const added = [...want].filter((n) => !have.has(n)).sort();
  const removed = [...have].filter((n) => !want.has(n)).sort();
  const parts: string[] = [];
  const names = [added.length ? `added: ${added.join(', ')}` : '', removed.length ? `removed: ${removed.join(', ')}` : ''].filter(Boolean);
  if (names.length) parts.push(`names ${names.join('; ')}`);
  if (current.keyType.toLowerCase() !== wanted.keyType.toLowerCase()) parts.push(`key type ${current.keyType} → ${wanted.keyType}`);
  const profile = (p: string | null | undefined): string => p || 'default';
  if (profile(current.profile) !== profile(wanted.profile)) parts.push(`profile ${profile(current.profile)} → ${profile(wanted.profile)}`);
  return parts.length ? parts.join('; ') : null;
}

interface Schedule { at: Date; source: 'ari' | 'lifetime' | 'renew-before-days' | 'emergency'; why: string }

/**
 * The emergency floor (as in certmagic): whatever ARI or renewBeforeDays say, a certificate is
 * renewed once less than 1/20 of its lifetime, or 1 day, whichever is more, is left. A CA's window
 * that sits too close to expiry, or a tiny renewBeforeDays, must not leave no room for a retry.
 * For lifetimes under 2 days the day is capped at half the lifetime, or it would renew on every run.
 */
export function emergencyRenewAt(notBefore: Date, notAfter: Date): Date {
  const lifetime = lifetimeOf(notBefore, notAfter);
  const left = Math.max(Math.ceil(lifetime / 20), Math.min(DAY_MS, Math.ceil(lifetime / 2)));
  return new Date(notAfter.getTime() - left);
}

/**
 * The time-based schedule. ARI wins over the lifetime rule (RFC 9773: renew inside the CA's
 * window — the CA may know of a coming revocation). renewBeforeDays is the operator's explicit
 * safety margin, so it replaces the lifetime rule and wins over ARI only when it is earlier:
 * renewing before the window is allowed, renewing closer to expiry than the operator asked is
 * not. Unusable inputs are ignored with a note instead of failing, so a certificate never stops
 * renewing: a renewBeforeDays that reaches the lifetime (checkRenewBeforeDays refuses it in
 * config), and an ARI time at or after notAfter (a CA bug; renewing then would be too late).
 */
function scheduleOf(current: CurrentCert, input: RenewalInput): Schedule {
  const { notBefore, notAfter } = current;
  const lifetime = lifetimeOf(notBefore, notAfter);
  const notes: string[] = [];
  let override: Schedule | undefined;
  if (input.renewBeforeDays !== undefined) {
    const problem = renewBeforeDaysProblem(input.renewBeforeDays, lifetime);
    if (problem) notes.push(`${problem}, so it is ignored`);
    else {
      const at = new Date(notAfter.getTime() - input.renewBeforeDays * DAY_MS);
      override = { at, source: 'renew-before-days', why: `renewBeforeDays: ${input.renewBeforeDays} days before expiry` };
    }
  }
  let chosen: Schedule | undefined;
  const { ari } = input;
  if (ari) {
    const window = `the CA's ARI window ${when(ari.start)} – ${when(ari.end)}`;
    const inWindow = ari.chosen && ari.chosen >= ari.start && ari.chosen <= ari.end;
    const at = inWindow && ari.chosen ? ari.chosen : ari.start; // a stale pick from an older window is ignored
    if (at >= notAfter) notes.push(`${window} is not before expiry, so it is ignored`);
    else if (override && override.at < at) chosen = { ...override, why: `${override.why}, before ${window}` };
    else chosen = { at, source: 'ari', why: `${inWindow ? 'picked in' : 'start of'} ${window}` };
  }
  chosen ??= override ?? {
    at: defaultRenewAt(notBefore, notAfter),
    source: 'lifetime',
    why: `${lifetime <= 10 * DAY_MS ? '½' : '⅓'} of the ${days(lifetime)}-day lifetime left`,
  };
  const floor = emergencyRenewAt(notBefore, notAfter);
  if (chosen.at > floor) {
    const by = chosen.source === 'ari' ? 'the CA\'s ARI window' : chosen.source === 'renew-before-days' ? 'renewBeforeDays' : 'the lifetime rule';
    notes.unshift(`${by} would wait until ${when(chosen.at)}`);
    chosen = { at: floor, source: 'emergency', why: `emergency floor: less than 1/20 of the ${days(lifetime)}-day lifetime or 1 day left` };
  }
  return notes.length ? { ...chosen, why: `${chosen.why}; ${notes.join('; ')}` } : chosen;
}

/** An Invalid Date compares false with everything and would silently never renew. */
function checkDate(d: Date, what: string): void {
  if (Number.isNaN(d.getTime())) throw new ValidationError(`renewal decision: ${what} is not a valid date`);
}

export function renewalDecision(input: RenewalInput): RenewalDecision {
  const { now, current, wanted } = input;
  checkDate(now, 'now');
  if (!current) return gate(input, { due: true, source: 'new', renewAt: null, reason: 'no certificate yet: issue one' });
  checkDate(current.notBefore, 'certificate notBefore');
  checkDate(current.notAfter, 'certificate notAfter');
  if (current.notAfter <= current.notBefore) {
    // Not a certificate any client accepts; replacing it beats refusing to decide.
    const reason = `notAfter ${when(current.notAfter)} is not after notBefore ${when(current.notBefore)}: renew now`;
    return gate(input, { due: true, source: 'expired', renewAt: null, reason });
  }
  const schedule = scheduleOf(current, input);
  const renewAt = schedule.at;
  const changes = changesOf(current, wanted);
  let decision: RenewalDecision;
  if (changes) decision = { due: true, source: 'changed', renewAt, reason: `configuration changed: ${changes}` };
  else if (now >= current.notAfter) decision = { due: true, source: 'expired', renewAt, reason: `expired ${when(current.notAfter)}: renew now` };
  else if (input.force) decision = { due: true, source: 'forced', renewAt, reason: 'renewal forced' };
  else if (now >= renewAt) decision = { due: true, source: schedule.source, renewAt, reason: `due since ${when(renewAt)} (${schedule.why})` };
  else decision = { due: false, source: schedule.source, renewAt, reason: `renews ${when(renewAt)} (${schedule.why})` };
  return gate(input, decision);
}

/** Holds back a due renewal while a backoff runs, unless forced (see the header comment). */
function gate(input: RenewalInput, decision: RenewalDecision): RenewalDecision {
  const next = input.backoff?.nextAttemptAt;
  if (!decision.due || input.force || !next || next <= input.now) return decision;
  return { ...decision, due: false, waitUntil: next, reason: `${decision.reason}; held back after a failed attempt until ${when(next)}` };
}
