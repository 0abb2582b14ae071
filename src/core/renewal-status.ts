/**
 * `renewal-failing` (ARCHITECTURE §3): the last renewal attempt of a managed certificate failed.
 * It is laid over the scan reports of the domain's endpoints when they are shown, so `certs status`
 * tells about a failing renewal while the served certificate still looks fine: a warning, turning
 * critical once the certificate clients see is within the critical window.
 */
import type { EndpointReport } from './model.js';
import { statusOf, worstStatus, type Problem } from './problems.js';

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
    hint: `fix the cause, then run \`certs renew ${domain} --force\`${f.nextAttemptAt ? `; otherwise the next automatic attempt is after ${f.nextAttemptAt.slice(0, 16).replace('T', ' ')} UTC` : ''}`,
  };
}

/** Adds renewal-failing to the reports of domains with a failing renewal; other reports pass through unchanged. */
export function withRenewalFailures(reports: readonly EndpointReport[], failing: ReadonlyMap<string, RenewalFailure>, criticalDays: number): EndpointReport[] {
  if (failing.size === 0) return [...reports];
  return reports.map((r) => {
    const f = failing.get(r.domain);
    if (!f || r.problems.some((p) => p.code === 'renewal-failing')) return r;
    const problems = [...r.problems, renewalFailingProblem(r.domain, f, r.daysLeft, criticalDays)];
    const status = r.status === 'unknown' ? worstStatus('unknown', statusOf(problems)) : statusOf(problems);
    return { ...r, problems, status };
  });
}
