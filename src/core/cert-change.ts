/**
 * Whether a served certificate changed unexpectedly (issue 17: "the served fingerprint changed
 * without a renewal by certs"), pure.
 *
 * - A managed domain's certificate has one source, certs: a new fingerprint that is none of its
 *   issued versions is unexpected, whenever it happens.
 * - A monitor-only domain is renewed by someone else, so a change is normal; but renewals happen
 *   in the second half of a certificate's life (certbot at ⅓ left, ARI windows around ⅓, 6-day
 *   certificates at ½). A certificate replaced while more than half its lifetime was left was not
 *   renewed on a schedule: a load balancer or CDN serving another certificate, a manual swap, an
 *   interception. Without the old validity nothing can be told, and nothing is said.
 */
export interface PreviousCert {
  fingerprint256: string;
  notBefore: string | null;
  notAfter: string | null;
}

export interface CertChangeInput {
  managed: boolean;
  previous: PreviousCert | undefined;
  fingerprint256: string;
  /** Fingerprints of every version certs issued for the domain. */
  issuedByCerts: ReadonlySet<string>;
  now: Date;
}

const DAY_MS = 86_400_000;

/** null: nothing unexpected; otherwise what happened, for the event's detail. */
export function unexpectedChange(input: CertChangeInput): string | null {
  const { previous: prev, fingerprint256: fp } = input;
  if (!prev || prev.fingerprint256 === fp) return null;
  const was = `was ${prev.fingerprint256.slice(0, 23)}…, now ${fp.slice(0, 23)}…`;
  if (input.managed) return input.issuedByCerts.has(fp) ? null : `serves a certificate certs did not issue (${was})`;
  if (!prev.notBefore || !prev.notAfter) return null;
  const start = Date.parse(prev.notBefore);
  const end = Date.parse(prev.notAfter);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return null;
  const left = end - input.now.getTime();
  if (left <= (end - start) / 2) return null;
  const days = (ms: number): string => String(Math.floor(ms / DAY_MS));
  return `the certificate was replaced with ${days(left)} of its ${days(end - start)} days left, not on a renewal schedule (${was})`;
}
