// CAA preflight (src/acme/caa.ts) against a fake lookup: value parsing, the climb, wildcards,
// critical tags, failures. The real resolver meets a real BIND in test/integration/acme-caa.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CaaLookupError,
  caaIdentitiesOf,
  caaPreflight,
  createCaaLookup,
  findRelevantCaa,
  issuerAllowed,
  memoizeCaaLookup,
  parseIssueValue,
  recordText,
  type CaaLookup,
  type CaaRecord,
  type RelevantCaa,
} from '../../../src/acme/caa.js';
import { ValidationError } from '../../../src/core/errors.js';

const issue = (value: string, flags = 0): CaaRecord => ({ flags, tag: 'issue', value });
const issuewild = (value: string, flags = 0): CaaRecord => ({ flags, tag: 'issuewild', value });

/** A zone as a map; names absent have no CAA; an Error value is thrown. Records every question. */
function fakeDns(zone: Record<string, CaaRecord[] | Error>): { lookup: CaaLookup; asked: string[] } {
  const asked: string[] = [];
  const lookup: CaaLookup = async (name) => {
    asked.push(name);
    const v = zone[name];
    if (v instanceof Error) throw v;
    return v ?? [];
  };
  return { lookup, asked };
}

const at = (domain: string, ...records: CaaRecord[]): RelevantCaa => ({ domain, records });

describe('parseIssueValue (RFC 8659 §4.2)', () => {
  it('takes a bare issuer, lower-cased', () => {
    assert.deepEqual(parseIssueValue('LetsEncrypt.ORG'), { issuer: 'letsencrypt.org', parameters: [] });
  });

  it('trims blanks around the issuer and the parameters', () => {
    assert.deepEqual(parseIssueValue(' \tca.test \t;  accounturi = https://ca.test/acct/1 ; validationmethods=dns-01 '), {
      issuer: 'ca.test',
      parameters: [
        { tag: 'accounturi', value: 'https://ca.test/acct/1' },
        { tag: 'validationmethods', value: 'dns-01' },
      ],
    });
  });

  it('reads ";", "" and "; params" as naming no issuer', () => {
    assert.deepEqual(parseIssueValue(';'), { issuer: '', parameters: [] });
    assert.deepEqual(parseIssueValue(''), { issuer: '', parameters: [] });
    assert.deepEqual(parseIssueValue('  ;  '), { issuer: '', parameters: [] });
    assert.deepEqual(parseIssueValue('; x=y'), { issuer: '', parameters: [{ tag: 'x', value: 'y' }] });
  });

  it('refuses what is outside the grammar', () => {
    for (const bad of ['ca test', 'ca_.test', '-ca.test', 'ca.test.', 'ca..test', 'ca.test; =v', 'ca.test; k v', 'ca.test; k=v;v2', 'ca.test; k=a b']) {
      assert.equal(parseIssueValue(bad), undefined, bad);
    }
  });
});

describe('recordText', () => {
  it('writes the RDATA as a zone file would, escaping quotes, backslashes and controls', () => {
    assert.equal(recordText(issue('ca.test')), '0 issue "ca.test"');
    assert.equal(recordText({ flags: 128, tag: 'tbs', value: 'a"b\\c\n' }), '128 tbs "a\\"b\\\\c\\010"');
  });
});

describe('findRelevantCaa (RFC 8659 §3)', () => {
  it('returns the records at the name itself without climbing', async () => {
    const { lookup, asked } = fakeDns({ 'www.example.com': [issue('ca.test')], 'example.com': [issue('other.test')] });
    assert.deepEqual(await findRelevantCaa('www.example.com', lookup), at('www.example.com', issue('ca.test')));
    assert.deepEqual(asked, ['www.example.com']);
  });

  it('climbs label by label to the first ancestor with CAA', async () => {
    const { lookup, asked } = fakeDns({ 'example.com': [issue('ca.test')] });
    assert.deepEqual(await findRelevantCaa('a.b.example.com', lookup), at('example.com', issue('ca.test')));
    assert.deepEqual(asked, ['a.b.example.com', 'b.example.com', 'example.com']);
  });

  it('stops below the root and returns null when no name has CAA', async () => {
    const { lookup, asked } = fakeDns({});
    assert.equal(await findRelevantCaa('a.example.com', lookup), null);
    assert.deepEqual(asked, ['a.example.com', 'example.com', 'com']);
  });

  it('starts a wildcard at the name under "*." and normalizes case and the trailing dot', async () => {
    const { lookup, asked } = fakeDns({ 'example.com': [issuewild(';')] });
    assert.deepEqual(await findRelevantCaa('*.Example.COM.', lookup), at('example.com', issuewild(';')));
    assert.deepEqual(asked, ['example.com']);
  });

  it('propagates a lookup failure instead of reading it as "no CAA"', async () => {
    const failure = new CaaLookupError('CAA lookup for b.example.com at DNS server 192.0.2.1:53 failed: SERVFAIL', 'b.example.com', 'ESERVFAIL');
    const { lookup, asked } = fakeDns({ 'b.example.com': failure, 'example.com': [issue('ca.test')] });
    await assert.rejects(findRelevantCaa('a.b.example.com', lookup), (err) => err === failure);
    assert.deepEqual(asked, ['a.b.example.com', 'b.example.com']);
  });

  it('refuses a name that is not a DNS name before asking anything', async () => {
    const { lookup, asked } = fakeDns({});
    await assert.rejects(findRelevantCaa('exa mple.com', lookup), ValidationError);
    assert.deepEqual(asked, []);
  });
});

describe('issuerAllowed', () => {
  const plain = { wildcard: false };

  it('allows any CA without CAA', () => {
    const v = issuerAllowed(null, ['ca.test'], plain);
    assert.equal(v.allowed, true);
    assert.equal(v.outcome, 'no-caa');
  });

  it('allows the CA an issue record names, case-insensitively and with parameters', () => {
    const v = issuerAllowed(at('example.com', issue('other.test'), issue('CA.Test; accounturi=https://ca.test/a/1')), ['ca.test'], plain);
    assert.equal(v.allowed, true);
    assert.equal(v.outcome, 'authorized');
    assert.deepEqual(v.records, [issue('CA.Test; accounturi=https://ca.test/a/1')]);
  });

  it('matches any of several identities, ignoring a trailing dot on them', () => {
    assert.equal(issuerAllowed(at('example.com', issue('second.test')), ['first.test', 'Second.Test.'], plain).allowed, true);
  });

  it('refuses a CA no issue record names, listing its identities', () => {
    const v = issuerAllowed(at('example.com', issue('ca-one.test')), ['ca-two.test'], plain);
    assert.equal(v.allowed, false);
    assert.equal(v.outcome, 'not-authorized');
    assert.equal(v.reason, 'does not allow this CA (its CAA identities: ca-two.test)');
  });

  it('refuses every CA under "0 issue \\";\\"", even one without identities', () => {
    for (const ids of [['ca.test'], undefined]) {
      const v = issuerAllowed(at('example.com', issue(';')), ids, plain);
      assert.equal(v.allowed, false);
      assert.equal(v.outcome, 'forbidden');
    }
  });

  it('does not let an empty issuer cancel one that names the CA', () => {
    assert.equal(issuerAllowed(at('example.com', issue(';'), issue('ca.test')), ['ca.test'], plain).allowed, true);
  });

  it('counts a malformed value as authorizing nobody, and says so', () => {
    const v = issuerAllowed(at('example.com', issue('ca test')), ['ca.test'], plain);
    assert.equal(v.allowed, false);
    assert.equal(v.outcome, 'forbidden');
    assert.match(v.reason, /1 malformed issue value authorizes nobody/);
  });

  it('allows any CA when the set has no issue property (iodef only)', () => {
    const v = issuerAllowed(at('example.com', { flags: 0, tag: 'iodef', value: 'mailto:sec@example.com' }), ['ca.test'], plain);
    assert.equal(v.allowed, true);
    assert.equal(v.outcome, 'no-issue-property');
  });

  it('ignores issuewild for a name that is not a wildcard', () => {
    const v = issuerAllowed(at('example.com', issuewild(';')), ['ca.test'], plain);
    assert.equal(v.outcome, 'no-issue-property');
    assert.equal(issuerAllowed(at('example.com', issuewild('ca.test'), issue('other.test')), ['ca.test'], plain).allowed, false);
  });

  it('judges a wildcard by issuewild when present, ignoring issue (§4.3)', () => {
    const relevant = at('example.com', issue('ca.test'), issuewild('other.test'));
    assert.equal(issuerAllowed(relevant, ['ca.test'], { wildcard: true }).allowed, false);
    assert.equal(issuerAllowed(relevant, ['other.test'], { wildcard: true }).allowed, true);
    assert.equal(issuerAllowed(at('example.com', issue('ca.test'), issuewild(';')), ['ca.test'], { wildcard: true }).outcome, 'forbidden');
  });

  it('judges a wildcard by issue when there is no issuewild', () => {
    assert.equal(issuerAllowed(at('example.com', issue('ca.test')), ['ca.test'], { wildcard: true }).allowed, true);
    assert.equal(issuerAllowed(at('example.com', issue('ca.test')), ['other.test'], { wildcard: true }).allowed, false);
  });

  it('refuses every CA when an unknown tag is critical, even beside a matching issue', () => {
    const tbs = { flags: 128, tag: 'tbs', value: 'x' };
    const v = issuerAllowed(at('example.com', issue('ca.test'), tbs), ['ca.test'], plain);
    assert.equal(v.allowed, false);
    assert.equal(v.outcome, 'critical-unknown');
    assert.deepEqual(v.records, [tbs]);
  });

  it('ignores an unknown tag that is not critical, and a critical flag on a known tag', () => {
    assert.equal(issuerAllowed(at('example.com', issue('ca.test'), { flags: 0, tag: 'tbs', value: 'x' }), ['ca.test'], plain).allowed, true);
    assert.equal(issuerAllowed(at('example.com', issue('ca.test', 128)), ['ca.test'], plain).allowed, true);
    assert.equal(issuerAllowed(at('example.com', issue('ca.test'), { flags: 128, tag: 'iodef', value: 'mailto:a@b.test' }), ['ca.test'], plain).allowed, true);
    // Other flag bits are reserved, not critical.
    assert.equal(issuerAllowed(at('example.com', issue('ca.test'), { flags: 1, tag: 'tbs', value: 'x' }), ['ca.test'], plain).allowed, true);
  });

  it('allows, saying it cannot tell, when the CA lists no identities', () => {
    for (const ids of [undefined, [], ['not a name', '']]) {
      const v = issuerAllowed(at('example.com', issue('ca.test')), ids, plain);
      assert.equal(v.allowed, true, JSON.stringify(ids));
      assert.equal(v.outcome, 'identities-unknown');
      assert.match(v.reason, /meta\.caaIdentities.*cannot tell/);
    }
  });
});

describe('caaPreflight', () => {
  it('reports per name with the record text and an operator-clear message', async () => {
    const { lookup } = fakeDns({ 'example.com': [issue('ca-one.test')], 'ok.test': [issue('ca-two.test')] });
    const r = await caaPreflight(['example.com', 'www.example.com', 'ok.test', 'free.test'], ['ca-two.test'], lookup);
    assert.equal(r.allowed, false);
    assert.deepEqual(
      r.names.map((n) => [n.name, n.allowed, n.outcome, n.domain, n.record]),
      [
        ['example.com', false, 'not-authorized', 'example.com', 'example.com. CAA 0 issue "ca-one.test"'],
        ['www.example.com', false, 'not-authorized', 'example.com', 'example.com. CAA 0 issue "ca-one.test"'],
        ['ok.test', true, 'authorized', 'ok.test', 'ok.test. CAA 0 issue "ca-two.test"'],
        ['free.test', true, 'no-caa', undefined, undefined],
      ],
    );
    assert.equal(r.names[0]?.message, 'CAA at example.com (0 issue "ca-one.test") does not allow this CA (its CAA identities: ca-two.test)');
    assert.equal(r.names[1]?.message, 'www.example.com: CAA at example.com (0 issue "ca-one.test") does not allow this CA (its CAA identities: ca-two.test)');
    assert.equal(r.names[3]?.message, 'no CAA records at free.test or above: any CA may issue for free.test');
  });

  it('is allowed when every name is', async () => {
    const { lookup } = fakeDns({ 'example.com': [issue('ca.test')] });
    const r = await caaPreflight(['example.com', '*.example.com', 'a.example.com'], ['ca.test'], lookup);
    assert.equal(r.allowed, true);
    assert.deepEqual(r.names.map((n) => n.outcome), ['authorized', 'authorized', 'authorized']);
  });

  it('fails a name whose lookup fails (fail-closed), naming the lookup error, and only that name', async () => {
    const { lookup } = fakeDns({
      'broken.test': new CaaLookupError('CAA lookup for broken.test at DNS server 127.0.0.1:5353 failed: SERVFAIL from the DNS server', 'broken.test', 'ESERVFAIL'),
    });
    const r = await caaPreflight(['a.broken.test', 'fine.example'], ['ca.test'], lookup);
    assert.equal(r.allowed, false);
    const [broken, fine] = r.names;
    assert.equal(broken?.allowed, false);
    assert.equal(broken?.outcome, 'lookup-failed');
    assert.match(broken?.message ?? '', /^cannot read CAA for a\.broken\.test: CAA lookup for broken\.test at DNS server 127\.0\.0\.1:5353 failed: SERVFAIL/);
    assert.match(broken?.message ?? '', /RFC 8659/);
    assert.equal(fine?.allowed, true);
  });

  it('asks each name once across names that share parents', async () => {
    const { lookup, asked } = fakeDns({ 'example.com': [issue('ca.test')] });
    await caaPreflight(['a.example.com', 'b.example.com', '*.example.com', 'example.com'], ['ca.test'], lookup);
    assert.deepEqual([...asked].sort(), ['a.example.com', 'b.example.com', 'example.com']);
  });

  it('skips IP addresses: CAA does not apply to them', async () => {
    const { lookup, asked } = fakeDns({});
    const r = await caaPreflight(['192.0.2.1', '2001:db8::1'], ['ca.test'], lookup);
    assert.equal(r.allowed, true);
    assert.deepEqual(asked, []);
    assert.match(r.names[0]?.message ?? '', /IP address/);
  });

  it('names the wildcard and the issuewild record that forbids it', async () => {
    const { lookup } = fakeDns({ 'example.com': [issue('ca.test'), issuewild(';')] });
    const r = await caaPreflight(['*.example.com', 'example.com'], ['ca.test'], lookup);
    assert.deepEqual(r.names.map((n) => n.allowed), [false, true]);
    assert.equal(r.names[0]?.message, '*.example.com: CAA at example.com (0 issuewild ";") names no issuer: no CA may issue');
  });

  it('says when it cannot tell because the CA lists no identities', async () => {
    const { lookup } = fakeDns({ 'example.com': [issue('ca.test')] });
    const r = await caaPreflight(['example.com'], undefined, lookup);
    assert.equal(r.allowed, true);
    assert.equal(r.names[0]?.outcome, 'identities-unknown');
    assert.match(r.names[0]?.message ?? '', /^CAA at example\.com \(0 issue "ca\.test"\) names issuers, but this CA's directory lists no CAA identities/);
  });

  it('rejects with the reason of an aborted signal instead of reporting a lookup failure', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const lookup: CaaLookup = async () => {
      controller.abort(reason);
      throw new CaaLookupError('CAA lookup for a.test at the system DNS servers failed: cancelled', 'a.test', 'ECANCELLED');
    };
    await assert.rejects(caaPreflight(['a.test'], ['ca.test'], lookup, { signal: controller.signal }), (err) => err === reason);
  });

  it('lets a ValidationError for a bad name through', async () => {
    const { lookup } = fakeDns({});
    await assert.rejects(caaPreflight(['bad_name.test'], ['ca.test'], lookup), ValidationError);
  });
});

describe('memoizeCaaLookup', () => {
  it('asks once per name, case-insensitively, failures included', async () => {
    let calls = 0;
    const memo = memoizeCaaLookup(async (name) => {
      calls++;
      if (name === 'bad.test') throw new Error('boom');
      return [issue('ca.test')];
    });
    await Promise.all([memo('a.test'), memo('A.test'), memo('a.test')]);
    await assert.rejects(memo('bad.test'), /boom/);
    await assert.rejects(memo('bad.test'), /boom/);
    assert.equal(calls, 2);
  });
});

describe('createCaaLookup', () => {
  it('refuses a resolver spec c-ares cannot use, and a bad budget', () => {
    assert.throws(() => createCaaLookup({ resolver: 'not a server', timeoutMs: 1000 }), (err) => err instanceof ValidationError && /invalid resolver "not a server"/.test(err.message));
    assert.throws(() => createCaaLookup({ timeoutMs: 0 }), ValidationError);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const lookup = createCaaLookup({ resolver: '127.0.0.1:9', timeoutMs: 1000, signal: AbortSignal.abort(new Error('stop')) });
    await assert.rejects(lookup('example.com'), /stop/);
  });
});

describe('caaIdentitiesOf', () => {
  it('reads meta.caaIdentities, lower case, junk left out', () => {
    assert.deepEqual(caaIdentitiesOf({ meta: { caaIdentities: ['LetsEncrypt.org', 'letsencrypt.org', 'bad name', 7, '', 'second.test.'] } }), ['letsencrypt.org', 'second.test']);
  });

  it('is undefined when the directory lists none (Pebble) or only junk', () => {
    for (const dir of [undefined, null, 'x', {}, { meta: null }, { meta: { termsOfService: 'https://x' } }, { meta: { caaIdentities: 'ca.test' } }, { meta: { caaIdentities: [] } }, { meta: { caaIdentities: ['*', 1] } }]) {
      assert.equal(caaIdentitiesOf(dir), undefined, JSON.stringify(dir));
    }
  });
});
