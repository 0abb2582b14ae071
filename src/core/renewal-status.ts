/**
 * `renewal-failing` (ARCHITECTURE §3): the last renewal attempt of a managed certificate failed.
 * It is laid over the scan reports of the domain's endpoints when they are shown, so `certs status`
 * tells about a failing renewal while the served certificate still looks fine: a warning, turning
 * critical once the certificate clients see is within the critical window.
 */
import { hintFor } from './advice.js';
import type { EndpointReport } from './model.js';
import { statusOf, worstStatus, type Problem } from './problems.js';
import { inCriticalWindow, type CriticalSetting } from './thresholds.js';

export interface RenewalFailure {
  failures: number;
  lastError: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
}

export function renewalFailingProblem(domain: string, f: RenewalFailure, daysLeft: number | null, criticalDays: number): Problem {
  const critical = daysLeft !== null && daysLeft <= criticalDays;
  return {
    code: 'renewal-failing',
    severity: critical ? 'critical' : 'warning',
    message: `the last renewal attempt${f.lastAttemptAt ? ` (${f.lastAttemptAt.slice(0, 16).replace('T', ' ')} UTC)` : ''} failed${f.failures > 1 ? ` (${f.failures} times in a row)` : ''}: ${f.lastError}`,
    hint: hintFor('renewal-failing', { domain, ...(f.nextAttemptAt ? { nextAttemptAt: f.nextAttemptAt } : {}) }),
  };
}

/** Adds renewal-failing to the reports of domains with a failing renewal; other reports pass through unchanged. */
export function withRenewalFailures(reports: readonly EndpointReport[], failing: ReadonlyMap<string, RenewalFailure>, critical: CriticalSetting): EndpointReport[] {
  if (failing.size === 0) return [...reports];
  return reports.map((r) => {
    const f = failing.get(r.domain);
    if (!f || r.problems.some((p) => p.code === 'renewal-failing')) return r;
    const p = renewalFailingProblem(r.domain, f, r.daysLeft, 0);
    const problems = [...r.problems, { ...p, severity: inCriticalWindow(r, critical) ? 'critical' as const : 'warning' as const }];
    const status = r.status === 'unknown' ? worstStatus('unknown', statusOf(problems)) : statusOf(problems);
    return { ...r, problems, status };
  });
}

export interface IssuedSummary {
  version: number;
  fingerprint256: string;
  notAfter: string;
}

/**
 * `stale-deployment`: an endpoint serves an older certificate than the newest one issued for its
 * domain — the classic "renewed, but the server was never reloaded". Older means it expires
 * before the newest issued one; a certificate that is not ours and expires later is not judged.
 */
export function staleDeploymentProblem(r: EndpointReport, latest: IssuedSummary, criticalDays: CriticalSetting, lagging: readonly string[] = []): Problem | null {
  if (r.source !== 'tls' || !r.fingerprint256 || r.fingerprint256 === latest.fingerprint256 || !r.notAfter) return null;
  if (Date.parse(r.notAfter) >= Date.parse(latest.notAfter)) return null;
  const critical = inCriticalWindow(r, criticalDays);
  return {
    code: 'stale-deployment',
    severity: critical ? 'critical' : 'warning',
    message: `${r.address ? `${r.address} ` : ''}serves a certificate expiring ${r.notAfter.slice(0, 10)}, but version ${latest.version} (expiring ${latest.notAfter.slice(0, 10)}) was issued for ${r.domain}: the server was not reloaded or does not use the new files${lagging.length > 0 ? ` (not deployed on node ${lagging.join(', ')})` : ''}`,
    hint: hintFor('stale-deployment', { domain: r.domain, endpoint: `${r.host}:${r.port}${r.address ? ` at ${r.address}` : ''}` }),
  };
}

/**
 * `lagging`: per domain, the nodes of a cluster whose own deployment is not the newest version,
 * or whose proof after the reload failed (issue 16): named in the message, so the operator knows
 * which machine to look at.
 */
export function withStaleDeployments(reports: readonly EndpointReport[], latest: ReadonlyMap<string, IssuedSummary>, criticalDays: CriticalSetting, lagging: ReadonlyMap<string, readonly string[]> = new Map()): EndpointReport[] {
  if (latest.size === 0) return [...reports];
  return reports.map((r) => {
    const l = latest.get(r.domain);
    const p = l ? staleDeploymentProblem(r, l, criticalDays, lagging.get(r.domain)) : null;
    if (!p || r.problems.some((x) => x.code === 'stale-deployment')) return r;
    const problems = [...r.problems, p];
    return { ...r, problems, status: r.status === 'unknown' ? 'unknown' : statusOf(problems) };
  });
}
