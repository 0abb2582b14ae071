/** Stable problem codes (ARCHITECTURE §3). Scripts depend on these strings: never rename one. */
export const PROBLEM_CODES = [
  'expired',
  'not-yet-valid',
  'expiring-soon',
  'chain-cert-expired',
  'hostname-mismatch',
  'self-signed',
  'untrusted-root',
  'incomplete-chain',
  'wrong-order',
  'contains-anchor',
  'extra-certs',
  'weak-signature',
  'weak-key',
  'unreachable',
  'timeout',
  'handshake-failed',
  'stale-deployment',
  'renewal-failing',
  'key-mismatch',
  'deploy-failed',
  /** A served certificate is on its issuer's CRL (critical; the message carries date and reason). */
  'revoked',
  /** The CRL could not be fetched, did not verify, or is stale (warning; never `revoked`). */
  'revocation-unknown',
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];
export type Severity = 'warning' | 'critical';
export type Status = 'ok' | 'warning' | 'critical' | 'unknown';

export interface Problem {
  code: ProblemCode;
  severity: Severity;
  /** What is wrong, naming the certificate or endpoint involved. */
  message: string;
  /** How to fix it. */
  hint?: string;
}

const STATUS_RANK: Record<Status, number> = { ok: 0, warning: 1, unknown: 2, critical: 3 };

/** An endpoint's status is the worst severity of its problems; `unknown` when never scanned. */
export function statusOf(problems: readonly Problem[], scanned = true): Status {
  if (!scanned) return 'unknown';
  if (problems.some((p) => p.severity === 'critical')) return 'critical';
  if (problems.some((p) => p.severity === 'warning')) return 'warning';
  return 'ok';
}

/** The worse of two statuses (critical > unknown > warning > ok, as a pager would rank them). */
export function worstStatus(a: Status, b: Status): Status {
  return STATUS_RANK[a] >= STATUS_RANK[b] ? a : b;
}

/** Nagios plugin exit codes: 0 ok, 1 warning, 2 critical, 3 unknown. */
export function nagiosExitCode(status: Status): 0 | 1 | 2 | 3 {
  switch (status) {
    case 'ok': return 0;
    case 'warning': return 1;
    case 'critical': return 2;
    case 'unknown': return 3;
  }
}

export function isProblemCode(value: string): value is ProblemCode {
  return (PROBLEM_CODES as readonly string[]).includes(value);
}
