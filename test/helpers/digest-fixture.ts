/**
 * The fixed digest of issue 14's golden files and browser render: six endpoints (two expiring,
 * one expired, one incomplete chain, one wrong host, one recovered), managed and monitor-only
 * mixed, at an injected clock. It goes through the real pipeline — evaluateNotifications (fixes
 * from core/advice.ts), buildDigest, renderDigestEmail with the bundled templates — so a change
 * anywhere on the way shows up in the golden files.
 */
import { digestInput } from '../../src/service/notify.js';
import { hintFor } from '../../src/core/advice.js';
import type { EndpointReport } from '../../src/core/model.js';
import { buildDigest, evaluateNotifications, type ActiveProblem, type Digest, type NotifyEvent } from '../../src/core/notify-policy.js';
import type { Problem } from '../../src/core/problems.js';
import { statusOf } from '../../src/core/problems.js';
import { endpointKey } from '../../src/core/report.js';
import { loadEmailTemplates } from '../../src/config/email-templates.js';
import { renderDigestEmail, type RenderedDigest } from '../../src/notify/render.js';

export const GOLDEN_NOW = new Date('2026-11-25T03:17:00.000Z');
const DAY = 86_400_000;
const LE = "C=US, O=Let's Encrypt, CN=R11";
const SECTIGO = 'C=GB, ST=Greater Manchester, L=Salford, O=Sectigo Limited, CN=Sectigo RSA Domain Validation Secure Server CA';

function rep(o: { domain: string; address?: string; daysLeft: number; issuer?: string; problems?: Problem[]; fp: string }): EndpointReport {
  const notAfter = new Date(GOLDEN_NOW.getTime() + o.daysLeft * DAY + 3_600_000).toISOString();
  const problems = o.problems ?? [];
  return {
    domain: o.domain,
    host: o.domain,
    port: 443,
    source: 'tls',
    ...(o.address ? { address: o.address } : {}),
    status: statusOf(problems),
    daysLeft: o.daysLeft,
    notAfter,
    fingerprint256: o.fp,
    issuer: o.issuer ?? LE,
    subject: `CN=${o.domain}`,
    problems,
    scannedAt: GOLDEN_NOW.toISOString(),
  };
}

const problem = (code: Problem['code'], message: string, hint: string): Problem => ({ code, severity: 'critical', message, hint });

/** Which domains certs renews (the rest are monitor-only, with their certificate files). */
export const MANAGED = new Set(['shop.example.com', 'legacy.example.net', 'api.example.com']);
export const CERT_FILES: Readonly<Record<string, string>> = {
  'intranet.example.org': '/etc/ssl/intranet.example.org/fullchain.pem',
  'expired.example.com': '/etc/ssl/expired.example.com.pem',
  'wrong.example.com': '/etc/ssl/wrong.example.com.pem',
};

export function goldenReports(): EndpointReport[] {
  return [
    rep({ domain: 'shop.example.com', address: '203.0.113.10', daysLeft: 5, fp: 'AA:01' }),
    rep({ domain: 'intranet.example.org', daysLeft: 12, issuer: SECTIGO, fp: 'AA:02' }),
    rep({ domain: 'expired.example.com', daysLeft: -2, fp: 'AA:03', problems: [problem('expired', 'certificate expired on 2026-11-23', hintFor('expired'))] }),
    rep({
      domain: 'legacy.example.net',
      daysLeft: 61,
      fp: 'AA:04',
      problems: [problem('incomplete-chain', 'the server sends only its own certificate: the intermediate R11 is missing', hintFor('incomplete-chain'))],
    }),
    rep({
      domain: 'wrong.example.com',
      address: '198.51.100.7',
      daysLeft: 40,
      issuer: SECTIGO,
      fp: 'AA:05',
      problems: [problem('hostname-mismatch', 'the certificate is for www.example.com, example.com; it does not cover wrong.example.com', hintFor('hostname-mismatch', { name: 'wrong.example.com' }))],
    }),
    rep({ domain: 'api.example.com', daysLeft: 75, fp: 'AA:06' }),
  ];
}

/** Problems alerted by earlier digests: api.example.com's outage (recovers now) and one that stays open. */
export function goldenActive(): ActiveProblem[] {
  const api = goldenReports()[5]!;
  return [
    { endpointKey: endpointKey(api), domain: 'api.example.com', endpoint: 'api.example.com:443', code: 'unreachable', since: '2026-11-23T15:02:00.000Z', message: 'connection refused' },
    { endpointKey: 'tls|old.example.com|old.example.com|443|', domain: 'old.example.com', endpoint: 'old.example.com:443', code: 'handshake-failed', since: '2026-11-20T03:17:00.000Z', message: 'the server closed the connection during the handshake' },
  ];
}

export function goldenEvents(): { events: NotifyEvent[]; stillOpen: number } {
  const active = goldenActive();
  const decision = evaluateNotifications({
    reports: goldenReports(),
    sentExpiry: new Set(),
    active,
    thresholdsFor: () => [30, 14, 7, 3, 1],
    now: GOLDEN_NOW,
    isManaged: (d) => MANAGED.has(d),
    certFileFor: (d) => CERT_FILES[d],
  });
  const cleared = new Set(decision.clear.map((a) => `${a.endpointKey} ${a.code}`));
  return { events: decision.events, stillOpen: active.filter((a) => !cleared.has(`${a.endpointKey} ${a.code}`)).length };
}

export function goldenDigest(): Digest {
  const { events, stillOpen } = goldenEvents();
  return buildDigest(events, { now: GOLDEN_NOW, total: 7, stillOpen });
}

/** The email as service/notify.ts renders it (its own DigestInput). */
export function renderDigest(d: Digest): RenderedDigest {
  return renderDigestEmail(loadEmailTemplates(), digestInput(d, GOLDEN_NOW));
}

export function goldenEmail(): RenderedDigest {
  return renderDigest(goldenDigest());
}
