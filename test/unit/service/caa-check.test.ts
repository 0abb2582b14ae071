import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { caaCheckFor } from '../../../src/service/caa-check.js';
import { CaaLookupError, type CaaRecord } from '../../../src/acme/caa.js';
import type { AcmeConfig, IssuerConfig } from '../../../src/config/types.js';

const acme = (enabled: boolean): AcmeConfig => ({
  issuers: [{ directory: 'https://ca.test/dir' }],
  stickyIssuer: false,
  agreeToTerms: true,
  reuseKey: false,
  concurrency: 4,
  timeoutMs: 30_000,
  preflight: { enabled, httpPort: 80, timeoutMs: 1000 },
});

/** A directory that lists `ids` as its CAA identities (null: no meta at all). */
const session = (ids: string[] | null): (() => Promise<Record<string, unknown>>) => () => Promise.resolve(ids === null ? {} : { meta: { caaIdentities: ids } });

const zone: Record<string, CaaRecord[] | 'fail'> = {
  'a.test': [{ flags: 0, tag: 'issue', value: 'ca.test' }],
  'b.test': [{ flags: 0, tag: 'issue', value: 'other.test' }],
  'broken.test': 'fail',
};
const asked: string[] = [];
const lookup = async (name: string): Promise<CaaRecord[]> => {
  asked.push(name);
  const r = zone[name];
  if (r === 'fail') throw new CaaLookupError(`CAA lookup for ${name} at DNS server 127.0.0.1:9 failed: the DNS server did not answer`, name, 'ETIMEOUT');
  return r ?? [];
};
const issuer: IssuerConfig = { directory: 'https://ca.test/dir' };

describe('caaCheckFor: the CAA preflight of an order', () => {
  it('is off with acme.preflight', () => {
    assert.equal(caaCheckFor(acme(false), undefined, lookup), undefined);
  });

  it('allows what the records allow, by the directory\'s caaIdentities or the issuer\'s own', async () => {
    const check = caaCheckFor(acme(true), undefined, lookup)!;
    assert.deepEqual(await check(issuer, session(['ca.test']), ['a.test']), { allowed: true });
    const refused = await check(issuer, session(['ca.test']), ['a.test', 'b.test']);
    assert.deepEqual(refused, { allowed: false, reason: 'CAA: CAA at b.test (0 issue "other.test") does not allow this CA (its CAA identities: ca.test)' });
    // Config names the identities when the directory does not (Pebble): they win.
    assert.deepEqual(await check({ ...issuer, caaIdentities: ['other.test'] }, session(null), ['b.test']), { allowed: true });
  });

  it('a lookup that fails is inconclusive: logged, and the CA decides', async () => {
    const events: string[] = [];
    const check = caaCheckFor(acme(true), (_d, e) => events.push(e), lookup)!;
    assert.deepEqual(await check(issuer, session(['ca.test']), ['broken.test']), { allowed: true });
    assert.equal(events.length, 1);
    assert.match(events[0]!, /^CAA preflight inconclusive, asking the CA anyway: cannot read CAA for broken\.test: .*did not answer \(RFC 8659 §3: a CA must not issue without it\)$/);
  });

  it('asks each name once per run, for every issuer', async () => {
    asked.length = 0;
    const check = caaCheckFor(acme(true), undefined, lookup)!;
    await check(issuer, session(['ca.test']), ['a.test']);
    await check({ directory: 'https://ca2.test/dir' }, session(['ca2.test']), ['a.test']);
    assert.deepEqual(asked, ['a.test']);
  });
});
