/**
 * ACME Renewal Information (RFC 9773) over the session's HTTP: acme-client 5.4 has no ARI, but
 * its directory cache and the session's HTTP settings (with the acme.caFile trust) are all we
 * need, since renewalInfo is an unauthenticated GET.
 */
import { AcmeError, errorMessage } from '../core/errors.js';
import { parseRenewalInfo, type RenewalInfo } from '../core/ari.js';
import type { AcmeSession, HttpAnswer } from './client.js';

/** The directory's renewalInfo URL, or null when the CA does not offer ARI. */
export async function renewalInfoUrl(session: AcmeSession): Promise<string | null> {
  const dir = await session.directory();
  const url = dir['renewalInfo'];
  return typeof url === 'string' && /^https:\/\//i.test(url) ? url : null;
}

export async function fetchRenewalInfo(session: AcmeSession, certId: string, ctx: { domain: string; now: Date }): Promise<RenewalInfo | null> {
  const base = await renewalInfoUrl(session);
  if (!base) return null;
  const url = `${base.replace(/\/$/, '')}/${certId}`;
  const resp: HttpAnswer = await session.get(url, { domain: ctx.domain, doing: `fetching renewal information ${url}` });
  if (resp.status !== 200) {
    throw new AcmeError('acme-ca', `domain "${ctx.domain}": renewal information ${url}: the CA answered HTTP ${resp.status}`, { domain: ctx.domain, status: resp.status, retryable: true });
  }
  const retryAfter = resp.headers['retry-after'];
  try {
    return parseRenewalInfo(resp.data, typeof retryAfter === 'string' ? retryAfter : undefined, ctx.now);
  } catch (err) {
    throw new AcmeError('acme-protocol', `domain "${ctx.domain}": renewal information ${url}: ${errorMessage(err)}`, { domain: ctx.domain, retryable: true }, { cause: err });
  }
}
