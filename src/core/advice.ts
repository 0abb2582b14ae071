/**
 * The problem catalogue's advice (issue 14): one fix per problem code, worded for the domain it
 * is given to. A managed domain is told what `certs` does about it (`certs renew <name>`,
 * `certs run`); a monitor-only one (`managed: false`) what its operator must do where the
 * certificate comes from (replace the file at `files.cert`, renew at its source); an endpoint
 * serving an older certificate than the one `certs` issued is told to deploy it.
 *
 * Every place that shows a fix (scan problems, notifications, the dashboard) takes it from here,
 * so the wording cannot drift between them.
 *
 * CONTRACT (shared by the helpers of issue 14; change only additively).
 */
import type { ProblemCode } from './problems.js';

/** A problem code, or `expiry`: a certificate crossing a notification threshold before it expires. */
export type AdviceTopic = ProblemCode | 'expiry';

export interface AdviceContext {
  /** The inventory's domain name (domains[].name). */
  domain: string;
  /** Whether certs renews it (domains[].managed). */
  managed: boolean;
  /** Monitor-only: the certificate file the config names (domains[].files.cert), when it names one. */
  certFile?: string;
  /** The endpoint as people see it ("host:port", "host:port @address", "file:/path"). */
  endpoint?: string;
  /** certs issued a newer certificate than the one served here (the stale-deployment case). */
  issuedNewer?: boolean;
}

/** One sentence (no trailing period) telling the reader what to do about `topic` on this domain. */
export function fixFor(topic: AdviceTopic, ctx: AdviceContext): string {
  void topic;
  void ctx;
  throw new Error('fixFor: not implemented yet (issue 14, helper "advice")');
}
