import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fallbackVerdict } from '../../../src/acme/fallback.js';
import { AcmeError, CertsError, StoreError } from '../../../src/core/errors.js';
import { issuerOf, issuerOrder, acmeForIssuer, wantedFor } from '../../../src/service/renew.js';
import type { AcmeConfig, DomainConfig } from '../../../src/config/types.js';

const urn = (t: string): string => `urn:ietf:params:acme:error:${t}`;

describe('fallbackVerdict: only what another CA could fix moves on', () => {
  const cases: Array<[string, CertsError, boolean]> = [
    ['unreachable', new AcmeError('acme-unreachable', 'x', { retryable: true }), true],
    ['rateLimited', new AcmeError('acme-ca', 'x', { problemType: urn('rateLimited'), status: 429 }), true],
    ['serverInternal', new AcmeError('acme-ca', 'x', { problemType: urn('serverInternal'), status: 500 }), true],
    ['a 503 without a problem type', new AcmeError('acme-ca', 'x', { status: 503 }), true],
    ['the CA\'s CAA refusal at order time', new AcmeError('acme-ca', 'x', { problemType: urn('caa'), status: 403 }), true],
    ['EAB required (this CA\'s account)', new AcmeError('acme-account', 'x'), true],
    ['terms not agreed', new AcmeError('acme-terms', 'x'), true],
    ['an unusable answer', new AcmeError('acme-protocol', 'x'), true],
    ['a malformed request the CA refused (our bug, every CA would)', new AcmeError('acme-ca', 'x', { problemType: urn('malformed'), status: 400 }), false],
    ['a rejected CSR', new AcmeError('acme-ca', 'x', { problemType: urn('badCSR'), status: 400 }), false],
    ['validation: connection', new AcmeError('challenge', 'x', { problemType: urn('connection') }), false],
    ['validation: dns', new AcmeError('challenge', 'x', { problemType: urn('dns') }), false],
    ['validation: unauthorized (wrong content served)', new AcmeError('challenge', 'x', { problemType: urn('unauthorized') }), false],
    ['validation refused by that CA\'s CAA check', new AcmeError('challenge', 'x', { problemType: urn('caa') }), true],
    ['our own preflight failed', new AcmeError('challenge', 'x'), false],
    ['a hook failed', new AcmeError('hook', 'x'), false],
    ['the store refused (fenced)', new StoreError('fenced', 'x'), false],
  ];
  for (const [what, err, expected] of cases) {
    it(`${what}: ${expected ? 'next issuer' : 'stop'}`, () => {
      const v = fallbackVerdict(err);
      assert.equal(v.fallBack, expected);
      assert.ok(v.why.length > 0);
    });
  }
});

describe('issuer order and the current version\'s issuer', () => {
  const acme = (sticky: boolean): AcmeConfig => ({
    issuers: [{ directory: 'letsencrypt', profile: 'shortlived' }, { directory: 'https://ca2.test/dir', eab: { kid: 'k', hmacKey: 'aGk' }, email: 'b@example.com' }],
    stickyIssuer: sticky,
    directory: 'letsencrypt',
    profile: 'classic',
    email: 'a@example.com',
    agreeToTerms: true,
    reuseKey: false,
    concurrency: 4,
    timeoutMs: 30_000,
    preflight: { enabled: true, httpPort: 80, timeoutMs: 10_000 },
  });
  const fromSecond = { directoryUrl: 'https://ca2.test/dir' };
  const d = { name: 'a.test', altNames: [], managed: true } as unknown as DomainConfig;

  it('starts at the first issuer unless sticky; sticky starts at the current version\'s', () => {
    assert.deepEqual(issuerOrder(acme(false), fromSecond).map((i) => i.directory), ['letsencrypt', 'https://ca2.test/dir']);
    assert.deepEqual(issuerOrder(acme(true), fromSecond).map((i) => i.directory), ['https://ca2.test/dir', 'letsencrypt']);
    assert.deepEqual(issuerOrder(acme(true), null).map((i) => i.directory), ['letsencrypt', 'https://ca2.test/dir']);
    assert.deepEqual(issuerOrder(acme(true), { directoryUrl: 'https://gone.test/dir' }).map((i) => i.directory), ['letsencrypt', 'https://ca2.test/dir']);
  });

  it('finds the issuer by resolved URL (a shortcut matches its URL)', () => {
    assert.equal(issuerOf(acme(false), { directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory' })?.directory, 'letsencrypt');
    assert.equal(issuerOf(acme(false), { directoryUrl: 'https://gone.test/dir' }), undefined);
  });

  it('each issuer its own settings: profile, EAB and email over the section\'s', () => {
    const second = acmeForIssuer(acme(false), acme(false).issuers[1]!);
    assert.equal(second.directory, 'https://ca2.test/dir');
    assert.deepEqual(second.eab, { kid: 'k', hmacKey: 'aGk' });
    assert.equal(second.email, 'b@example.com');
    assert.equal(second.profile, 'classic');
    const first = acmeForIssuer({ ...acme(false), eab: { kid: 'top', hmacKey: 'x' } }, acme(false).issuers[0]!);
    assert.equal(first.eab, undefined, 'an issuer without EAB does not inherit another one\'s');
    assert.equal(first.profile, 'shortlived');
  });

  it('a version from the second CA is judged against what that CA would issue', () => {
    assert.equal(wantedFor(d, acme(false), fromSecond).profile, 'classic');
    assert.equal(wantedFor(d, acme(false), null).profile, 'shortlived');
  });
});
