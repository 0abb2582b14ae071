// CAA preflight (src/acme/caa.ts) through its real resolver (node:dns, c-ares) against a real BIND
// serving CAA records: the climb, CNAMEs, wildcards, `0 issue ";"`, a critical unknown tag and
// failed lookups. The two issuers stand for the two Pebbles of the e2e setup; Pebble's directory
// lists no meta.caaIdentities, so their identities here are what config would give.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { caaPreflight, createCaaLookup, findRelevantCaa, memoizeCaaLookup, type CaaLookup, type CaaPreflightResult } from '../../src/acme/caa.js';
import { randomSecret, startBind, type BindInstance } from '../helpers/bind.js';
import { freePort } from '../helpers/ports.js';

const PEBBLE_ONE = ['ca-one.test'];
const PEBBLE_TWO = ['ca-two.test'];

const RECORDS = [
  // Only the second Pebble.
  'two IN CAA 0 issue "ca-two.test"',
  'two IN CAA 0 iodef "mailto:security@two.test"',
  // Nobody.
  'none IN CAA 0 issue ";"',
  // CAA on the parent only: a.b.parent.test does not exist (NXDOMAIN), deep.parent.test has no CAA (NODATA).
  'parent IN CAA 0 issue "ca-one.test"',
  'deep.parent IN A 127.0.0.1',
  // An alias whose target has CAA: the target's records count, not the alias's parent's.
  'www.site IN CNAME target.other',
  'target.other IN CAA 0 issue "ca-two.test"',
  'other IN CAA 0 issue "ca-one.test"',
  'site IN CAA 0 issue "ca-one.test"',
  // An alias whose target has none: the climb goes on from the alias (site.test), not from the target (other.test).
  'bare.site IN CNAME plain.other',
  'plain.other IN A 127.0.0.1',
  // A critical tag nobody knows, beside an issue that would allow ca-two.
  'crit IN CAA 128 tbs "x"',
  'crit IN CAA 0 issue "ca-two.test"',
  // issue for ca-one, issuewild for ca-two.
  'wild IN CAA 0 issue "ca-one.test"',
  'wild IN CAA 0 issuewild "ca-two.test"',
  // Tag and issuer in capitals, parameters after the issuer.
  'upper IN CAA 0 ISSUE "CA-Two.Test; accounturi=https://ca-two.test/acct/1"',
];

describe('CAA preflight against a real BIND', () => {
  let dns: BindInstance;
  let lookup: CaaLookup;

  before(async () => {
    dns = await startBind({ zone: 'test.', tsig: { name: 'certs-key', algorithm: 'hmac-sha256', secret: randomSecret() }, records: RECORDS });
    lookup = createCaaLookup({ resolver: `${dns.host}:${dns.port}`, timeoutMs: 3000 });
  });

  after(async () => {
    await dns?.stop();
  });

  it('reads records with their flags, tags lower-cased, and [] for NODATA and NXDOMAIN', async () => {
    assert.deepEqual(sortRecords(await lookup('crit.test')), [
      { flags: 0, tag: 'issue', value: 'ca-two.test' },
      { flags: 128, tag: 'tbs', value: 'x' },
    ]);
    assert.deepEqual(await lookup('upper.test'), [{ flags: 0, tag: 'issue', value: 'CA-Two.Test; accounturi=https://ca-two.test/acct/1' }]);
    assert.deepEqual(await lookup('deep.parent.test'), [], 'NODATA');
    assert.deepEqual(await lookup('a.b.parent.test'), [], 'NXDOMAIN');
  });

  it('skips the first Pebble and allows the second where CAA names only the second', async () => {
    const shared = memoizeCaaLookup(lookup);
    const one = await caaPreflight(['two.test'], PEBBLE_ONE, shared);
    const two = await caaPreflight(['two.test'], PEBBLE_TWO, shared);
    assert.equal(one.allowed, false);
    assert.equal(one.names[0]?.outcome, 'not-authorized');
    assert.equal(one.names[0]?.record, 'two.test. CAA 0 issue "ca-two.test"');
    assert.equal(one.names[0]?.message, 'CAA at two.test (0 issue "ca-two.test") does not allow this CA (its CAA identities: ca-one.test)');
    assert.equal(two.allowed, true);
    assert.equal(two.names[0]?.outcome, 'authorized');
  });

  it('the second Pebble allowed where CAA allows only it, no Pebble for a name neither may have; one lookup per name for both', async () => {
    let asked = 0;
    const counting: CaaLookup = (name) => {
      asked++;
      return lookup(name);
    };
    // As the order flow does (service/caa-check.ts): one memoised lookup for every issuer.
    const shared = memoizeCaaLookup(counting);
    const refused = (r: CaaPreflightResult): string[] => r.names.filter((n) => !n.allowed).map((n) => n.message);
    const names = ['two.test', 'www.site.test', 'nothing.here.test'];
    const one = await caaPreflight(names, PEBBLE_ONE, shared);
    const two = await caaPreflight(names, PEBBLE_TWO, shared);
    assert.equal(two.allowed, true);
    assert.equal(one.allowed, false);
    assert.deepEqual(refused(one), [
      'CAA at two.test (0 issue "ca-two.test") does not allow this CA (its CAA identities: ca-one.test)',
      'CAA at www.site.test (0 issue "ca-two.test") does not allow this CA (its CAA identities: ca-one.test)',
    ]);
    // two.test, www.site.test, nothing.here.test, here.test, test: once each for both issuers.
    assert.equal(asked, 5);

    for (const ids of [PEBBLE_ONE, PEBBLE_TWO]) {
      assert.deepEqual(refused(await caaPreflight(['two.test', 'none.test'], ids, shared)).filter((m) => m.includes('none.test')), ['CAA at none.test (0 issue ";") names no issuer: no CA may issue']);
    }
  });

  it('allows no Pebble under 0 issue ";"', async () => {
    for (const ids of [PEBBLE_ONE, PEBBLE_TWO, undefined]) {
      const r = await caaPreflight(['none.test'], ids, lookup);
      assert.equal(r.allowed, false);
      assert.equal(r.names[0]?.outcome, 'forbidden');
      assert.equal(r.names[0]?.message, 'CAA at none.test (0 issue ";") names no issuer: no CA may issue');
    }
  });

  it('climbs to the parent through NXDOMAIN and NODATA names', async () => {
    assert.deepEqual(await findRelevantCaa('a.b.parent.test', lookup), { domain: 'parent.test', records: [{ flags: 0, tag: 'issue', value: 'ca-one.test' }] });
    const r = await caaPreflight(['a.b.parent.test', 'x.deep.parent.test'], PEBBLE_TWO, lookup);
    assert.deepEqual(r.names.map((n) => [n.allowed, n.domain]), [
      [false, 'parent.test'],
      [false, 'parent.test'],
    ]);
    assert.equal(r.names[0]?.message, 'a.b.parent.test: CAA at parent.test (0 issue "ca-one.test") does not allow this CA (its CAA identities: ca-two.test)');
    assert.equal((await caaPreflight(['a.b.parent.test'], PEBBLE_ONE, lookup)).allowed, true);
  });

  it("follows a CNAME to its target's CAA, ahead of the alias's parent", async () => {
    // The resolver's answer for the alias carries the target's records (site.test would say ca-one).
    assert.deepEqual(await findRelevantCaa('www.site.test', lookup), { domain: 'www.site.test', records: [{ flags: 0, tag: 'issue', value: 'ca-two.test' }] });
    assert.equal((await caaPreflight(['www.site.test'], PEBBLE_TWO, lookup)).allowed, true);
    assert.equal((await caaPreflight(['www.site.test'], PEBBLE_ONE, lookup)).allowed, false);
  });

  it('climbs from the alias, not from its target, when the target has no CAA (RFC 8659, unlike RFC 6844)', async () => {
    assert.deepEqual(await findRelevantCaa('bare.site.test', lookup), { domain: 'site.test', records: [{ flags: 0, tag: 'issue', value: 'ca-one.test' }] });
  });

  it('allows any CA where no name up the tree has CAA', async () => {
    assert.equal(await findRelevantCaa('nothing.here.test', lookup), null);
    const r = await caaPreflight(['nothing.here.test', '*.nothing.test'], PEBBLE_ONE, lookup);
    assert.equal(r.allowed, true);
    assert.deepEqual(r.names.map((n) => n.outcome), ['no-caa', 'no-caa']);
  });

  it('allows no CA beside a critical unknown tag, naming that record', async () => {
    const r = await caaPreflight(['crit.test'], PEBBLE_TWO, lookup);
    assert.equal(r.allowed, false);
    assert.equal(r.names[0]?.outcome, 'critical-unknown');
    assert.equal(r.names[0]?.record, 'crit.test. CAA 128 tbs "x"');
    assert.match(r.names[0]?.message ?? '', /^CAA at crit\.test \(128 tbs "x"\) is flagged critical/);
  });

  it('judges a wildcard by issuewild and the bare name by issue', async () => {
    const two = await caaPreflight(['*.wild.test', 'wild.test'], PEBBLE_TWO, lookup);
    assert.deepEqual(two.names.map((n) => n.allowed), [true, false]);
    const one = await caaPreflight(['*.wild.test', 'wild.test'], PEBBLE_ONE, lookup);
    assert.deepEqual(one.names.map((n) => n.allowed), [false, true]);
    assert.equal(one.names[0]?.message, '*.wild.test: CAA at wild.test (0 issuewild "ca-two.test") does not allow this CA (its CAA identities: ca-one.test)');
  });

  it('matches tag and issuer case-insensitively, parameters ignored', async () => {
    assert.equal((await caaPreflight(['upper.test'], PEBBLE_TWO, lookup)).allowed, true);
    assert.equal((await caaPreflight(['upper.test'], PEBBLE_ONE, lookup)).allowed, false);
  });

  it('fails the name when the DNS server refuses, naming the server and the name', async () => {
    // BIND answers REFUSED for a zone it does not serve: an error, not "no CAA".
    const r = await caaPreflight(['a.example.com', 'two.test'], PEBBLE_TWO, lookup);
    assert.deepEqual(r.names.map((n) => [n.allowed, n.outcome]), [
      [false, 'lookup-failed'],
      [true, 'authorized'],
    ]);
    assert.equal(r.allowed, false);
    const message = r.names[0]?.message ?? '';
    assert.ok(message.startsWith(`cannot read CAA for a.example.com: CAA lookup for a.example.com at DNS server 127.0.0.1:${dns.port} failed: the DNS server refused the query`), message);
  });

  it('runs with acme.preflight\'s resolver and budget', async () => {
    const r = await caaPreflight(['two.test', 'none.test'], PEBBLE_TWO, createCaaLookup({ resolver: `${dns.host}:${dns.port}`, timeoutMs: 3000 }));
    assert.deepEqual(r.names.map((n) => n.outcome), ['authorized', 'forbidden']);
  });

  it('rejects with the reason when aborted while a silent server holds the query', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const controller = new AbortController();
      const reason = new Error('operator stopped the run');
      silent.once('message', () => controller.abort(reason));
      const held = createCaaLookup({ resolver: `127.0.0.1:${silent.address().port}`, timeoutMs: 60_000, signal: controller.signal });
      await assert.rejects(caaPreflight(['two.test'], PEBBLE_TWO, held, { signal: controller.signal }), (err) => err === reason);
    } finally {
      silent.close();
    }
  });

  it('fails the name when nothing answers at the resolver address', async () => {
    const dead = createCaaLookup({ resolver: `127.0.0.1:${await freePort('127.0.0.1')}`, timeoutMs: 300 });
    const r = await caaPreflight(['two.test'], PEBBLE_TWO, dead);
    assert.equal(r.allowed, false);
    assert.equal(r.names[0]?.outcome, 'lookup-failed');
    assert.match(r.names[0]?.message ?? '', /CAA lookup for two\.test at DNS server 127\.0\.0\.1:\d+ failed: /);
  });
});

function sortRecords<T extends { flags: number; tag: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => a.flags - b.flags || a.tag.localeCompare(b.tag));
}
