/**
 * Contracts between the ACME order flow (src/acme/order.ts) and the challenge solvers.
 * A solver makes one proof visible, checks it locally, and removes it again.
 */

export type ChallengeType = 'http-01' | 'dns-01';

/** One challenge of one authorization of an order in flight. */
export interface ChallengeTask {
  /** Primary name of the configured domain the order is for (used in every message). */
  domain: string;
  /** The DNS identifier being validated, without a leading "*." */
  identifier: string;
  /** True when the order asked for "*.<identifier>". */
  wildcard: boolean;
  type: ChallengeType;
  token: string;
  /** token + "." + base64url(JWK thumbprint of the account key). */
  keyAuthorization: string;
  /** dns-01: "_acme-challenge.<identifier>" (no trailing dot). http-01: "/.well-known/acme-challenge/<token>". */
  recordName: string;
  /** dns-01: base64url(sha256(keyAuthorization)). http-01: the keyAuthorization itself. */
  recordValue: string;
}

export interface ChallengeSolver {
  readonly type: ChallengeType;
  /** Short description for logs and errors, e.g. "http-01 webroot /var/www/acme". */
  readonly describe: string;
  /** Makes the proof available. Throws an AcmeError naming task.domain and the cause. */
  present(task: ChallengeTask, signal?: AbortSignal): Promise<void>;
  /**
   * Checks, locally and bounded in time, that the proof is visible the way the CA will look
   * for it (http-01: fetch the URL; dns-01: TXT at the authoritative servers). Throws an
   * AcmeError on failure so a misconfiguration costs no CA rate limit.
   */
  preflight(task: ChallengeTask, signal?: AbortSignal): Promise<void>;
  /**
   * Removes the proof. Always called (in `finally`), also after a failed present; must succeed
   * quietly when there is nothing to remove.
   */
  cleanup(task: ChallengeTask): Promise<void>;
  /** Releases shared resources (the standalone server); safe to call twice. */
  close?(): Promise<void>;
}
