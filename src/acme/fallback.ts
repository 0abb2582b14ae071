/**
 * Issuer fallback (issue 17): whether an order that failed at one CA should be tried at the next
 * one in the same run. Only for reasons another CA could fix: that CA unreachable or broken, its
 * limits, its policy (CAA, profiles, account), its answers unusable. A validation failure (wrong
 * DNS, a refused or unreachable challenge) would fail at every CA and costs each one's limits:
 * it stops at once and names the cause.
 */
import { AcmeError, type CertsError } from '../core/errors.js';

const URN = 'urn:ietf:params:acme:error:';

/** CA problem types that belong to that CA, not to the domain's setup. */
const ISSUER_PROBLEMS = new Set([
  'rateLimited',
  'serverInternal',
  'badNonce',
  // The CA's own CAA check or policy refused it; another CA may be allowed.
  'caa',
  'rejectedIdentifier',
  'invalidProfile',
  // Account trouble is per CA (accounts are per directory).
  'externalAccountRequired',
  'accountDoesNotExist',
  'unauthorized',
  'userActionRequired',
].map((t) => `${URN}${t}`));

export interface FallbackVerdict {
  fallBack: boolean;
  /** Why, in a few words, for the log and the issuer-fallback event. */
  why: string;
}

/** Decides whether the next issuer may fix what made this order fail. */
export function fallbackVerdict(err: CertsError): FallbackVerdict {
  if (!(err instanceof AcmeError)) return { fallBack: false, why: `${err.code}: not a CA failure` };
  const kind = err.problemType?.replace(URN, '');
  switch (err.code) {
    case 'acme-unreachable':
      return { fallBack: true, why: 'CA unreachable' };
    case 'acme-config':
    case 'acme-terms':
    case 'acme-account':
      return { fallBack: true, why: `this CA's account or settings (${err.code})` };
    case 'acme-protocol':
      return { fallBack: true, why: 'the CA\'s answer was unusable' };
    case 'acme-ca':
      if (err.problemType !== undefined && ISSUER_PROBLEMS.has(err.problemType)) return { fallBack: true, why: kind! };
      if ((err.status ?? 0) >= 500) return { fallBack: true, why: `HTTP ${err.status}` };
      return { fallBack: false, why: `the CA refused (${kind ?? `HTTP ${err.status ?? '?'}`}); another CA would refuse it too` };
    case 'challenge':
      // The CA's own CAA check at validation time, or its validator breaking, is about that CA;
      // anything else (connection, dns, incorrectResponse, tls, unauthorized) about the proof.
      if (err.problemType === `${URN}caa` || err.problemType === `${URN}serverInternal`) return { fallBack: true, why: kind! };
      return { fallBack: false, why: `validation failed${kind ? ` (${kind})` : ''}; every CA would see the same` };
    default:
      return { fallBack: false, why: `${err.code}: not the CA's doing` };
  }
}
