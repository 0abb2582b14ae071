import type { Problem, ProblemCode } from './problems.js';

/**
 * The OpenSSL verify codes (as Node reports them in `authorizationError`) that each of our
 * trust/validity verdicts corresponds to. OpenSSL judges the handshake with its own path
 * building; comparing the two catches bugs in ours (ARCHITECTURE §7).
 */
const OPENSSL_EQUIVALENTS: Partial<Record<ProblemCode, readonly string[]>> = {
  'self-signed': ['DEPTH_ZERO_SELF_SIGNED_CERT'],
  'untrusted-root': ['SELF_SIGNED_CERT_IN_CHAIN'],
  'incomplete-chain': ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  expired: ['CERT_HAS_EXPIRED'],
  'not-yet-valid': ['CERT_NOT_YET_VALID'],
  'chain-cert-expired': ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'],
};

/**
 * Strength verdicts depend on OpenSSL's security level; it may or may not report them, so they
 * explain an OpenSSL error without being required for agreement.
 */
const OPENSSL_OPTIONAL: Partial<Record<ProblemCode, readonly string[]>> = {
  'weak-key': ['EE_KEY_TOO_SMALL', 'CA_KEY_TOO_SMALL'],
  'weak-signature': ['CA_MD_TOO_WEAK'],
};

export interface CrossCheck {
  openssl: string | null;
  agrees: boolean;
  note?: string;
}

/**
 * Explained differences, never hidden:
 * - OpenSSL does not judge hostnames here (Node checks them separately), nor order, served
 *   anchors or extra certificates (it tolerates all three), nor key or hash strength (the
 *   scanner runs at security level 0 so that weak servers can be inspected at all).
 * - OpenSSL reports one error; we report all. Agreement means its error is one we also found.
 */
export function crossCheck(problems: readonly Problem[], opensslError: string | null): CrossCheck {
  const expected = new Set<string>();
  for (const p of problems) for (const code of OPENSSL_EQUIVALENTS[p.code] ?? []) expected.add(code);
  if (opensslError === null) {
    if (expected.size === 0) return { openssl: null, agrees: true };
    return {
      openssl: null,
      agrees: false,
      note: `OpenSSL verified the chain but certs found ${problems.map((p) => p.code).join(', ')}`,
    };
  }
  const optional = new Set<string>();
  for (const p of problems) for (const code of OPENSSL_OPTIONAL[p.code] ?? []) optional.add(code);
  if (expected.has(opensslError) || optional.has(opensslError)) return { openssl: opensslError, agrees: true };
  return {
    openssl: opensslError,
    agrees: false,
    note: expected.size === 0
      ? `OpenSSL rejected the chain (${opensslError}) but certs found no trust or validity problem`
      : `OpenSSL rejected the chain with ${opensslError}; certs expected one of ${[...expected].join(', ')}`,
  };
}
