/**
 * One certificate order (RFC 8555 §7.4) over acme-client's primitives rather than its `auto()`,
 * which cannot send `profile` or `replaces` and hides which challenge failed and why.
 *
 * Every presented challenge is cleaned up in `finally`, also when another authorization of the
 * same order failed or the CA could not be reached.
 */
import { createHash } from 'node:crypto';
import acme from 'acme-client';
import { AcmeError, errorMessage } from '../core/errors.js';
import { isIpLiteral } from '../core/names.js';
import type { AcmeSession } from './client.js';
import type { ChallengeSolver, ChallengeTask, ChallengeType } from './types.js';

export interface OrderRequest {
  /** Primary name of the configured domain (for messages). */
  domain: string;
  /** Names on the certificate: DNS names (wildcards allowed) and IP addresses; the first is the primary. */
  names: string[];
  /** PEM private key of the certificate. */
  keyPem: string;
  profile?: string;
  /** ARI certificate ID of the certificate this one replaces (RFC 9773 §5). */
  replaces?: string;
  /** The solver for a name (by challenge type configured for the domain). */
  solver: ChallengeSolver;
  preflight: boolean;
  signal?: AbortSignal;
  /** Progress notes for logs ("ordered", "validated a.test", …). */
  onEvent?: (event: string) => void;
}

export interface OrderResult {
  orderUrl: string;
  /** Leaf first, then the CA's chain, as the CA sent it. */
  fullchainPem: string;
  certPem: string;
  chainPem: string;
  /** False when the CA refused `replaces` and the order went ahead without it. */
  replacesAccepted: boolean;
}

type Order = acme.Order;
type Authorization = acme.Authorization;
type Challenge = Authorization['challenges'][number];

function identifiersOf(names: string[]): Array<{ type: 'dns' | 'ip'; value: string }> {
  return names.map((n) => ({ type: isIpLiteral(n) ? 'ip' : 'dns', value: n }));
}

function taskFor(domain: string, authz: Authorization, challenge: Challenge, keyAuthorization: string): ChallengeTask {
  const identifier = authz.identifier.value;
  const wildcard = authz.wildcard === true;
  const type = challenge.type as ChallengeType;
  const token = (challenge as { token: string }).token;
  if (type === 'dns-01') {
    return { domain, identifier, wildcard, type, token, keyAuthorization, recordName: `_acme-challenge.${identifier}`, recordValue: createHash('sha256').update(keyAuthorization).digest('base64url') };
  }
  return { domain, identifier, wildcard, type, token, keyAuthorization, recordName: `/.well-known/acme-challenge/${token}`, recordValue: keyAuthorization };
}

/** The CA's reason an authorization failed, from the challenge's error object. */
async function authzFailure(session: AcmeSession, domain: string, authz: Authorization, type: ChallengeType, err: unknown): Promise<AcmeError> {
  const name = `${authz.wildcard ? '*.' : ''}${authz.identifier.value}`;
  try {
    const [fresh] = await session.call({ domain, doing: `reading the authorization of ${name}` }, (c) => c.getAuthorizations({ authorizations: [authz.url] } as unknown as Order));
    const failed = fresh?.challenges.find((c) => c.type === type && (c as { error?: unknown }).error);
    const e = (failed as { error?: { type?: string; detail?: string } } | undefined)?.error;
    if (e) {
      const kind = (e.type ?? 'unknown').replace(/^urn:ietf:params:acme:error:/, '');
      return new AcmeError('challenge', `domain "${domain}": ${type} validation of ${name} failed at the CA (${kind}): ${e.detail ?? ''}`, { domain, ...(e.type ? { problemType: e.type } : {}), ...(e.detail ? { detail: e.detail } : {}), retryable: true }, { cause: err });
    }
  } catch (readErr) {
    return new AcmeError('challenge', `domain "${domain}": ${type} validation of ${name} failed: ${errorMessage(err)} (and reading the authorization failed: ${errorMessage(readErr)})`, { domain, retryable: true }, { cause: err });
  }
  return new AcmeError('challenge', `domain "${domain}": ${type} validation of ${name} failed: ${errorMessage(err)}`, { domain, retryable: true }, { cause: err });
}

async function createOrder(session: AcmeSession, req: OrderRequest): Promise<{ order: Order; replacesAccepted: boolean }> {
  const payload: Record<string, unknown> = { identifiers: identifiersOf(req.names) };
  if (req.profile) payload['profile'] = req.profile;
  if (req.replaces) payload['replaces'] = req.replaces;
  const ctx = { domain: req.domain, doing: 'placing the order' };
  const place = (): Promise<Order> => session.call(ctx, (c) => c.createOrder(payload as unknown as acme.Order & { identifiers: never }));
  try {
    return { order: await place(), replacesAccepted: true };
  } catch (err) {
    // RFC 9773 §5: a CA may refuse `replaces` (already replaced, unknown certificate); the
    // renewal must still happen, just without the hint.
    const e = err as AcmeError;
    if (req.replaces && (e.problemType === 'urn:ietf:params:acme:error:alreadyReplaced' || e.problemType === 'urn:ietf:params:acme:error:malformed' || e.problemType === 'urn:ietf:params:acme:error:conflict')) {
      delete payload['replaces'];
      return { order: await place(), replacesAccepted: false };
    }
    throw err;
  }
}

/** Solves every pending authorization of the order; cleans every presented challenge up. */
async function authorize(session: AcmeSession, req: OrderRequest, order: Order): Promise<void> {
  const authzs = await session.call({ domain: req.domain, doing: 'reading the authorizations' }, (c) => c.getAuthorizations(order));
  const presented: ChallengeTask[] = [];
  const type = req.solver.type;
  try {
    const results = await Promise.allSettled(authzs.filter((a) => a.status !== 'valid').map(async (authz) => {
      const name = `${authz.wildcard ? '*.' : ''}${authz.identifier.value}`;
      const challenge = authz.challenges.find((c) => c.type === type);
      if (!challenge) {
        throw new AcmeError('challenge', `domain "${req.domain}": the CA offers no ${type} challenge for ${name} (offered: ${authz.challenges.map((c) => c.type).join(', ') || 'none'})${authz.wildcard ? '; wildcard names need dns-01' : ''}`, { domain: req.domain });
      }
      // acme-client returns, for a dns-01 challenge, the record value (already sha256+base64url)
      // rather than the key authorization; asked as http-01 it returns token.thumbprint for any
      // challenge, which taskFor hashes once for dns-01.
      const keyAuthorization = await session.call({ domain: req.domain, doing: `computing the key authorization for ${name}` }, (c) => c.getChallengeKeyAuthorization({ ...challenge, type: 'http-01' } as Challenge));
      const task = taskFor(req.domain, authz, challenge, keyAuthorization);
      presented.push(task);
      await req.solver.present(task, req.signal);
      if (req.preflight) {
        try {
          await req.solver.preflight(task, req.signal);
        } catch (err) {
          if (!(err instanceof AcmeError) || err.code !== 'preflight-inconclusive') throw err;
          req.onEvent?.(`preflight inconclusive, asking the CA anyway: ${err.message}`);
        }
      }
      await session.call({ domain: req.domain, doing: `asking the CA to validate ${name}` }, (c) => c.completeChallenge(challenge));
      try {
        await session.call({ domain: req.domain, doing: `waiting for the CA to validate ${name}` }, (c) => c.waitForValidStatus(authz));
      } catch (err) {
        // The CA gone or failing while we wait is about the CA, not the proof: passed on as it is,
        // so the run can try the next issuer (acme/fallback.ts), not told as a failed validation.
        if (err instanceof AcmeError && (err.code === 'acme-unreachable' || (err.code === 'acme-ca' && (err.status ?? 0) >= 500))) throw err;
        throw await authzFailure(session, req.domain, authz, type, err);
      }
      req.onEvent?.(`validated ${name}`);
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const reason: unknown = failed.reason;
      // Solvers throw AcmeError; anything else is a local failure of a solver, not the CA's answer.
      throw reason instanceof AcmeError ? reason : new AcmeError('challenge', `domain "${req.domain}": validating the names: ${errorMessage(reason)}`, { domain: req.domain, retryable: true }, { cause: reason });
    }
  } finally {
    await Promise.all(presented.map(async (task) => {
      try {
        await req.solver.cleanup(task);
      } catch (err) {
        req.onEvent?.(`cleanup of ${task.recordName} failed: ${errorMessage(err)}`);
      }
    }));
  }
}

/**
 * Profiles whose certificates have an empty subject (Let's Encrypt's `tlsserver` and
 * `shortlived`): the CA drops any CN, so the request carries none and asks for what will be
 * issued. RFC 8555 does not need a CN; the names travel in the subjectAltName.
 */
const EMPTY_SUBJECT_PROFILES: ReadonlySet<string> = new Set(['tlsserver', 'shortlived']);

/**
 * The CN of the certificate request: the first DNS name that fits (ub-common-name is 64
 * characters), none for IP-only orders, for names that all exceed 64 characters, and for the
 * empty-subject profiles.
 */
export function csrCommonName(names: readonly string[], profile?: string | null): string | undefined {
  if (profile && EMPTY_SUBJECT_PROFILES.has(profile)) return undefined;
  return names.find((n) => !isIpLiteral(n) && n.length <= 64);
}

function splitChain(pem: string): { certPem: string; chainPem: string } {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new AcmeError('acme-protocol', 'the CA returned no certificate in its PEM chain');
  return { certPem: `${blocks[0]}\n`, chainPem: blocks.slice(1).map((b) => `${b}\n`).join('') };
}

export async function obtainCertificate(session: AcmeSession, req: OrderRequest): Promise<OrderResult> {
  const { order: created, replacesAccepted } = await createOrder(session, req);
  req.onEvent?.(`ordered ${created.url}`);
  let order = created;
  if (order.status === 'pending') await authorize(session, req, order);
  else if (order.status === 'invalid') throw new AcmeError('acme-ca', `domain "${req.domain}": the CA created the order already invalid`, { domain: req.domain });

  const commonName = csrCommonName(req.names, req.profile);
  let csr: Buffer;
  try {
    [, csr] = await acme.crypto.createCsr({ ...(commonName ? { commonName } : {}), altNames: [...req.names] }, req.keyPem);
  } catch (err) {
    throw new AcmeError('acme-csr', `domain "${req.domain}": cannot create the certificate request: ${errorMessage(err)}`, { domain: req.domain }, { cause: err });
  }
  const finalized = order;
  order = await session.call({ domain: req.domain, doing: 'finalizing the order' }, (c) => c.finalizeOrder(finalized, csr));
  const ready = order;
  const fullchain = await session.call({ domain: req.domain, doing: 'downloading the certificate' }, (c) => c.getCertificate(ready));
  const { certPem, chainPem } = splitChain(fullchain);
  return { orderUrl: created.url, fullchainPem: certPem + chainPem, certPem, chainPem, replacesAccepted };
}

export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  superseded: 4,
  cessationOfOperation: 5,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export async function revokeCertificate(session: AcmeSession, domain: string, certPem: string, reason: RevocationReason): Promise<void> {
  await session.call({ domain, doing: 'revoking the certificate' }, (c) => c.revokeCertificate(certPem, { reason: REVOCATION_REASONS[reason] }));
}
