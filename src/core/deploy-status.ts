/**
 * `deploy-failed`: the newest certificate of a domain was issued but nginx refused it (`nginx -t`,
 * the reload, or our chain/key check before `current` moves), so `current` went back to the
 * version nginx accepted and the next run tries again. Laid over the domain's reports like
 * renewal-failing: a warning, critical once the certificate clients see is within the critical
 * window (the new one is not reaching them).
 */
import { hintFor } from './advice.js';
import type { EndpointReport } from './model.js';
import { statusOf, worstStatus, type Problem } from './problems.js';
import { inCriticalWindow, type CriticalSetting } from './thresholds.js';

export interface DeployFailure {
  /** The version that was to be deployed (null for a monitored file). */
  version: number | null;
  /** DeployError code (nginx-test, reload, nginx-not-running, chain-invalid, key-mismatch, …). */
  code: string;
  detail: string;
  failures: number;
  lastAt: string;
}

const when = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

export function deployFailedProblem(domain: string, f: DeployFailure, daysLeft: number | null, criticalDays: number): Problem {
  const critical = daysLeft !== null && daysLeft <= criticalDays;
  const what = f.version !== null ? `version ${f.version} was issued but not deployed` : 'the deploy failed';
  const notRunning = f.code === 'nginx-not-running';
  return {
    code: 'deploy-failed',
    severity: critical ? 'critical' : 'warning',
    message: `${what} (${when(f.lastAt)}${f.failures > 1 ? `, ${f.failures} times in a row` : ''}): ${f.detail}`,
    hint: hintFor('deploy-failed', { domain, ...(notRunning ? { variant: 'nginx-not-running' } : {}) }),
  };
}

/**
 * Adds deploy-failed to the reports of domains whose last deploy failed (in place of
 * stale-deployment, which it explains); other reports pass through.
 */
export function withDeployFailures(reports: readonly EndpointReport[], failing: ReadonlyMap<string, DeployFailure>, critical: CriticalSetting): EndpointReport[] {
  if (failing.size === 0) return [...reports];
  return reports.map((r) => {
    const f = failing.get(r.domain);
    if (!f) return r;
    // The older certificate a rolled-back deploy leaves served is explained by this problem;
    // stale-deployment's "was not reloaded" would send the reader looking for the wrong cause.
    const problems = r.problems.filter((p) => p.code !== 'stale-deployment');
    const has = problems.some((p) => p.code === 'deploy-failed');
    if (has && problems.length === r.problems.length) return r;
    if (!has) problems.push({ ...deployFailedProblem(r.domain, f, r.daysLeft, 0), severity: inCriticalWindow(r, critical) ? 'critical' : 'warning' });
    const status = r.status === 'unknown' ? worstStatus('unknown', statusOf(problems)) : statusOf(problems);
    return { ...r, problems, status };
  });
}
