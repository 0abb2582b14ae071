import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { analyseChain, type AnalyseChainInput } from '../../../src/core/chain.js';
import { ValidationError } from '../../../src/core/errors.js';
import type { ChainAnalysis } from '../../../src/core/model.js';
import type { ProblemCode, Severity } from '../../../src/core/problems.js';
import { TrustAnchors } from '../../../src/core/trust-anchors.js';
import { createCA, createLeaf, daysFrom, generateKey, type Issued } from '../../helpers/pki.js';

// Every date is fixed around NOW, so results never depend on the day the tests run.
const NOW = new Date('2030-06-01T00:00:00Z');
const caFrom = daysFrom(NOW, -365);
const caTo = daysFrom(NOW, 3650);
const leafFrom = daysFrom(NOW, -10);
const leafTo = daysFrom(NOW, 80);
const INT_AIA = 'http://ca.test/int.der';

const root = await createCA({ cn: 'Test Root', org: 'O=certs tests', notBefore: caFrom, notAfter: caTo });
const inter = await createCA({ cn: 'Test Int', issuer: root, notBefore: caFrom, notAfter: caTo, aiaIssuerUrl: 'http://ca.test/root.der' });
const inter2 = await createCA({ cn: 'Test Int 2', issuer: inter, notBefore: caFrom, notAfter: caTo, aiaIssuerUrl: 'http://ca.test/int-parent.der' });

const leafFor = (opts: Partial<Parameters<typeof createLeaf>[0]> = {}): Promise<Issued> =>
  createLeaf({ dns: ['example.com', 'www.example.com'], ips: ['192.0.2.10'], issuer: inter, notBefore: leafFrom, notAfter: leafTo, aiaIssuerUrl: INT_AIA, ...opts });
// 100-day lifetimes: the day windows are tested unscaled (short lifetimes: test/unit/core/thresholds.test.ts and below).
const leafExpiringIn = (days: number): Promise<Issued> => leafFor({ notBefore: daysFrom(NOW, days - 100), notAfter: daysFrom(NOW, days) });
/** A leaf of `lifetime` days with `left` days left: short lifetimes scale the windows (core/thresholds.ts). */
const leafOfLifetime = (lifetime: number, left: number): Promise<Issued> => leafFor({ notBefore: daysFrom(NOW, left - lifetime), notAfter: daysFrom(NOW, left) });
const short = {
  d47left16: await leafOfLifetime(47, 16), d47left15: await leafOfLifetime(47, 15), d47left3: await leafOfLifetime(47, 3.6),
  d6left2_5: await leafOfLifetime(6, 2.5), d6left1_9: await leafOfLifetime(6, 1.9), d6left0_4: await leafOfLifetime(6, 0.4),
};

const leaf = await leafFor();
const leaf2 = await leafFor({ issuer: inter2 });
const expired = await leafFor({ notAfter: daysFrom(NOW, -1) });
const notYet = await leafFor({ notBefore: daysFrom(NOW, 1) });
const expiring = {
  d31: await leafExpiringIn(31), d30: await leafExpiringIn(30), d8: await leafExpiringIn(8),
  d7: await leafExpiringIn(7), d1: await leafExpiringIn(1), d0: await leafExpiringIn(0.5),
};

// An intermediate that expired under a still-valid leaf; one that expires before its leaf.
const interExpired = await createCA({ cn: 'Expired Int', issuer: root, notBefore: caFrom, notAfter: daysFrom(NOW, -10) });
const leafUnderExpired = await leafFor({ issuer: interExpired });
const interShort = await createCA({ cn: 'Short Int', issuer: root, notBefore: caFrom, notAfter: daysFrom(NOW, 20) });
const leafUnderShort = await leafFor({ issuer: interShort });

const wildcard = await leafFor({ dns: ['*.example.com'], ips: [] });
const idn = await leafFor({ dns: ['xn--bcher-kva.example', '*.xn--80ak6aa92e.com'], ips: [] });
const otherNames = await leafFor({ dns: ['other.test'], ips: [] });
const selfSigned = await createLeaf({ dns: ['example.com'], notBefore: leafFrom, notAfter: leafTo });

// A hierarchy under a root the store does not know.
const otherRoot = await createCA({ cn: 'Other Root', notBefore: caFrom, notAfter: caTo });
const otherInter = await createCA({ cn: 'Other Int', issuer: otherRoot, notBefore: caFrom, notAfter: caTo });
const otherLeaf = await leafFor({ issuer: otherInter });

// Cross-signs: `inter`'s name and key signed by otherRoot (expired); `root`'s name and key signed by otherRoot.
const interCrossExpired = await createCA({ cn: 'Test Int', key: inter.key, issuer: otherRoot, notBefore: caFrom, notAfter: daysFrom(NOW, -5) });
const rootCross = await createCA({ cn: 'Test Root', org: 'O=certs tests', key: root.key, issuer: otherRoot, notBefore: caFrom, notAfter: daysFrom(NOW, -100) });

const unrelated = await createCA({ cn: 'Unrelated CA', notBefore: caFrom, notAfter: caTo });
const rsa1024 = await leafFor({ key: generateKey('rsa-1024') });
const interSha1 = await createCA({ cn: 'SHA1 Int', issuer: root, hash: 'SHA-1', notBefore: caFrom, notAfter: caTo });
const leafUnderSha1 = await leafFor({ issuer: interSha1 });
const rootSha1 = await createCA({ cn: 'SHA1 Root', hash: 'SHA-1', notBefore: caFrom, notAfter: caTo });
const interUnderSha1Root = await createCA({ cn: 'Int Under SHA1 Root', issuer: rootSha1, notBefore: caFrom, notAfter: caTo });
const leafUnderSha1Root = await leafFor({ issuer: interUnderSha1Root });

const rsaKey = generateKey('rsa-2048');
const rsaRoot = await createCA({ cn: 'RSA Root', key: rsaKey, notBefore: caFrom, notAfter: caTo });
const rsaInter = await createCA({ cn: 'RSA Int', issuer: rsaRoot, key: generateKey('rsa-2048'), notBefore: caFrom, notAfter: caTo });
const rsaLeaf = await leafFor({ issuer: rsaInter, key: rsaKey });
const p384Root = await createCA({ cn: 'P384 Root', keySpec: 'ec-p384', hash: 'SHA-384', notBefore: caFrom, notAfter: caTo });
const p384Leaf = await leafFor({ issuer: p384Root, keySpec: 'ec-p384', hash: 'SHA-384' });

const store = new TrustAnchors([root.cert, rsaRoot.cert, p384Root.cert, rootSha1.cert]);
const interOnlyStore = new TrustAnchors([inter.cert]);
const rootAndInterStore = new TrustAnchors([root.cert, inter.cert]);
const pinnedStore = new TrustAnchors([selfSigned.cert]);
const bothRootsStore = new TrustAnchors([root.cert, otherRoot.cert]);

const c = (...issued: Issued[]): X509Certificate[] => issued.map((i) => i.cert);

type Expect = Array<[ProblemCode, Severity]>;
interface Case {
  name: string;
  served: X509Certificate[];
  store?: TrustAnchors;
  host?: string;
  opts?: Partial<AnalyseChainInput>;
  problems: Expect;
  trusted?: boolean;
  daysLeft?: number;
  /** Path as [certificate, source] from the leaf up. */
  path?: Array<[Issued, 'served' | 'trust-store']>;
  messages?: Partial<Record<ProblemCode, RegExp[]>>;
}

const cases: Case[] = [
  { name: 'valid chain', served: c(leaf, inter), problems: [], trusted: true, daysLeft: 80, path: [[leaf, 'served'], [inter, 'served'], [root, 'trust-store']] },
  { name: 'valid two-level chain', served: c(leaf2, inter2, inter), problems: [], trusted: true },
  { name: 'RSA 2048 chain', served: c(rsaLeaf, rsaInter), problems: [] },
  { name: 'EC P-384 / SHA-384 chain', served: c(p384Leaf), problems: [] },
  { name: 'IP literal covered', served: c(leaf, inter), host: '192.0.2.10', problems: [] },
  { name: 'name in upper case with a trailing dot', served: c(leaf, inter), host: 'WWW.Example.COM.', problems: [] },

  // Validity of the leaf.
  { name: 'expired leaf', served: c(expired, inter), problems: [['expired', 'critical']], daysLeft: -1, messages: { expired: [/"example\.com"/, /expired on 2030-05-31/] } },
  { name: 'not yet valid leaf', served: c(notYet, inter), problems: [['not-yet-valid', 'critical']], messages: { 'not-yet-valid': [/not valid before 2030-06-02/] } },
  { name: '31 days left', served: c(expiring.d31, inter), problems: [], daysLeft: 31 },
  { name: '30 days left', served: c(expiring.d30, inter), problems: [['expiring-soon', 'warning']], daysLeft: 30, messages: { 'expiring-soon': [/expires in 30 days/] } },
  { name: '8 days left', served: c(expiring.d8, inter), problems: [['expiring-soon', 'warning']], daysLeft: 8 },
  { name: '7 days left', served: c(expiring.d7, inter), problems: [['expiring-soon', 'critical']], daysLeft: 7 },
  { name: '1 day left', served: c(expiring.d1, inter), problems: [['expiring-soon', 'critical']], daysLeft: 1, messages: { 'expiring-soon': [/expires in 1 day /] } },
  { name: 'half a day left', served: c(expiring.d0, inter), problems: [['expiring-soon', 'critical']], daysLeft: 0 },
  { name: 'custom windows: 8 days with warning 10 / critical 8', served: c(expiring.d8, inter), opts: { warningDays: 10, criticalDays: 8 }, problems: [['expiring-soon', 'critical']] },
  { name: 'custom windows: 31 days with warning 45', served: c(expiring.d31, inter), opts: { warningDays: 45 }, problems: [['expiring-soon', 'warning']] },
  // Windows scaled to short lifetimes (issue 12 §4): 47 days → 15.7 / 3.7 days; 6 days → 2 days / 11 hours.
  { name: '47-day leaf, 16 days left: not yet (warning at 15.7)', served: c(short.d47left16, inter), problems: [], daysLeft: 16 },
  { name: '47-day leaf, 15 days left: warning, saying why', served: c(short.d47left15, inter), problems: [['expiring-soon', 'warning']], daysLeft: 15, messages: { 'expiring-soon': [/expires in 15 days .*; 47-day certificate: warning at 15\.7 days, critical at 3\.7 days \(scaled from 30\/7 because the lifetime is under 90 days\)$/] } },
  { name: '47-day leaf, 3.6 days left: critical', served: c(short.d47left3, inter), problems: [['expiring-soon', 'critical']], daysLeft: 3 },
  { name: '6-day leaf, 2.5 days left: not yet (warning at 2 days)', served: c(short.d6left2_5, inter), problems: [], daysLeft: 2 },
  { name: '6-day leaf, 1.9 days left: warning', served: c(short.d6left1_9, inter), problems: [['expiring-soon', 'warning']], daysLeft: 1 },
  { name: '6-day leaf, 9.6 hours left: critical (at 11 hours)', served: c(short.d6left0_4, inter), problems: [['expiring-soon', 'critical']], daysLeft: 0, messages: { 'expiring-soon': [/critical at 11 hours/] } },

  // The chain's own dates.
  { name: 'expired intermediate under a valid leaf', served: c(leafUnderExpired, interExpired), problems: [['chain-cert-expired', 'critical']], daysLeft: -10, messages: { 'chain-cert-expired': [/"Expired Int"/, /expired on 2030-05-22/] } },
  { name: 'days left come from an intermediate expiring first', served: c(leafUnderShort, interShort), problems: [['expiring-soon', 'warning']], daysLeft: 20, messages: { 'expiring-soon': [/intermediate "Short Int"/, /expires in 20 days/] } },

  // Names.
  { name: 'name not covered', served: c(leaf, inter), host: 'api.example.com', problems: [['hostname-mismatch', 'critical']], messages: { 'hostname-mismatch': [/"api\.example\.com"/, /example\.com, www\.example\.com, IP 192\.0\.2\.10/] } },
  { name: 'IP literal not covered', served: c(leaf, inter), host: '192.0.2.11', problems: [['hostname-mismatch', 'critical']] },
  { name: 'IPv6 literal not covered', served: c(leaf, inter), host: '2001:db8::1', problems: [['hostname-mismatch', 'critical']] },
  { name: 'wildcard covers one label', served: c(wildcard, inter), host: 'a.example.com', problems: [] },
  { name: 'wildcard does not cover two labels', served: c(wildcard, inter), host: 'a.b.example.com', problems: [['hostname-mismatch', 'critical']] },
  { name: 'wildcard does not cover the bare domain', served: c(wildcard, inter), host: 'example.com', problems: [['hostname-mismatch', 'critical']] },
  { name: 'IDN name (A-label)', served: c(idn, inter), host: 'xn--bcher-kva.example', problems: [] },
  { name: 'IDN under an IDN wildcard', served: c(idn, inter), host: 'xn--d1acufc.xn--80ak6aa92e.com', problems: [] },
  { name: 'IDN not covered', served: c(idn, inter), host: 'xn--caf-dma.example', problems: [['hostname-mismatch', 'critical']] },
  { name: 'a certificate for other names', served: c(otherNames, inter), problems: [['hostname-mismatch', 'critical']], messages: { 'hostname-mismatch': [/covers other\.test/] } },

  // Trust.
  { name: 'self-signed leaf', served: c(selfSigned), problems: [['self-signed', 'critical']], trusted: false },
  { name: 'self-signed leaf pinned in the store', served: c(selfSigned), store: pinnedStore, problems: [], trusted: true },
  { name: 'served root not in the store', served: c(otherLeaf, otherInter, otherRoot), problems: [['untrusted-root', 'critical']], trusted: false, messages: { 'untrusted-root': [/"Other Root"/] } },
  {
    name: 'missing intermediate', served: c(leaf), problems: [['incomplete-chain', 'critical']], trusted: false,
    messages: { 'incomplete-chain': [/CN=Test Int/, /http:\/\/ca\.test\/int\.der/, /curl/, /Java/, /Android/, /browsers may/] },
  },
  { name: 'missing intermediate of a two-level chain', served: c(leaf2, inter2), problems: [['incomplete-chain', 'critical']], messages: { 'incomplete-chain': [/issuer "CN=Test Int" of "Test Int 2"/, /http:\/\/ca\.test\/int-parent\.der/] } },
  { name: 'missing intermediate and no AIA', served: c(await leafFor({ aiaIssuerUrl: undefined })), problems: [['incomplete-chain', 'critical']], messages: { 'incomplete-chain': [/no AIA caIssuers URL/] } },
  // Decision: every certificate in the store is an anchor, so an intermediate there completes the path.
  { name: 'intermediate in the store, not served', served: c(leaf), store: interOnlyStore, problems: [], trusted: true, path: [[leaf, 'served'], [inter, 'trust-store']] },
  { name: 'intermediate in the store and served', served: c(leaf, inter), store: interOnlyStore, problems: [], trusted: true, path: [[leaf, 'served'], [inter, 'served']] },
  { name: 'intermediate and root in the store, root served', served: c(leaf, inter, root), store: rootAndInterStore, problems: [['contains-anchor', 'warning']] },

  // What was served beyond the path.
  { name: 'intermediates reversed', served: c(leaf2, inter, inter2), problems: [['wrong-order', 'warning']], messages: { 'wrong-order': [/"Test Int" .* → .*"Test Int 2"/] } },
  { name: 'intermediates reversed, order unknown (TLS 1.3)', served: c(leaf2, inter, inter2), opts: { orderKnown: false }, problems: [] },
  { name: 'root served', served: c(leaf, inter, root), problems: [['contains-anchor', 'warning']], path: [[leaf, 'served'], [inter, 'served'], [root, 'served']] },
  { name: 'root served before the intermediate', served: c(leaf, root, inter), problems: [['contains-anchor', 'warning'], ['wrong-order', 'warning']] },
  { name: 'unrelated extra cert', served: c(leaf, inter, unrelated), problems: [['extra-certs', 'warning']], messages: { 'extra-certs': [/#3 "Unrelated CA"/] } },
  { name: 'duplicate intermediate', served: c(leaf, inter, inter), problems: [['extra-certs', 'warning']], messages: { 'extra-certs': [/#3 "Test Int" .*\(duplicate\)/] } },
  { name: 'expired extra cross-sign beside a valid path', served: c(leaf, inter, interCrossExpired), problems: [['extra-certs', 'warning']], daysLeft: 80, trusted: true },
  { name: 'valid path preferred over an expired cross-signed one', served: c(leaf, interCrossExpired, inter), store: bothRootsStore, problems: [['extra-certs', 'warning']], daysLeft: 80, path: [[leaf, 'served'], [inter, 'served'], [root, 'trust-store']] },
  // A served cross-signed copy of an anchor ends the path (as OpenSSL's trusted-first does); its expiry is irrelevant.
  { name: 'expired cross-signed root served (Let\'s Encrypt style)', served: c(leaf, inter, rootCross), problems: [], trusted: true, path: [[leaf, 'served'], [inter, 'served'], [rootCross, 'served']] },
  // Served certs continuing the chain above the anchor serve clients with older stores: not extra.
  { name: 'cross-signed root and its signer served', served: c(leaf, inter, rootCross, otherRoot), problems: [] },
  { name: 'cross-signed root and its signer served out of order', served: c(leaf, inter, otherRoot, rootCross), problems: [['wrong-order', 'warning']] },

  // Weak crypto.
  { name: 'RSA 1024 leaf', served: c(rsa1024, inter), problems: [['weak-key', 'critical']], messages: { 'weak-key': [/RSA key of 1024 bits/] } },
  { name: 'SHA-1 intermediate', served: c(leafUnderSha1, interSha1), problems: [['weak-signature', 'critical']], messages: { 'weak-signature': [/"SHA1 Int".*ecdsa-with-SHA1/] } },
  { name: 'SHA-1 on the anchor itself is not reported', served: c(leafUnderSha1Root, interUnderSha1Root), problems: [] },

  // Combinations.
  { name: 'expired, wrong name and incomplete', served: c(expired), host: 'other.test', problems: [['expired', 'critical'], ['hostname-mismatch', 'critical'], ['incomplete-chain', 'critical']] },
  { name: 'self-signed, expired, weak key', served: c(await createLeaf({ dns: ['example.com'], keySpec: 'rsa-1024', notBefore: caFrom, notAfter: daysFrom(NOW, -3) })), problems: [['expired', 'critical'], ['self-signed', 'critical'], ['weak-key', 'critical']] },
  { name: 'untrusted root served in wrong order with a duplicate', served: c(otherLeaf, otherRoot, otherInter, otherInter), problems: [['untrusted-root', 'critical'], ['wrong-order', 'warning'], ['extra-certs', 'warning']] },
];

function analyse(k: Case): ChainAnalysis {
  return analyseChain({ served: k.served, anchors: k.store ?? store, name: k.host ?? 'example.com', now: NOW, ...k.opts });
}

const byCode = (list: Expect): string[] => list.map(([code, sev]) => `${code}:${sev}`).sort();

describe('analyseChain', () => {
  for (const k of cases) {
    test(k.name, () => {
      const r = analyse(k);
      assert.deepEqual(byCode(r.problems.map((p) => [p.code, p.severity])), byCode(k.problems), JSON.stringify(r.problems, null, 1));
      if (k.trusted !== undefined) assert.equal(r.trusted, k.trusted);
      if (k.daysLeft !== undefined) assert.equal(r.daysLeft, k.daysLeft);
      if (k.path) {
        assert.deepEqual(r.path.map((e) => [e.fingerprint256, e.source]), k.path.map(([i, s]) => [i.cert.fingerprint256, s]));
      }
      for (const [code, patterns] of Object.entries(k.messages ?? {})) {
        const p = r.problems.find((x) => x.code === code);
        assert.ok(p, `no ${code} problem`);
        for (const re of patterns ?? []) assert.match(p.message, re);
      }
      for (const p of r.problems) {
        assert.ok(p.message.length > 20 && /"[^"]+" \(SHA-256 [0-9A-F:]{11}…\)/.test(p.message), `message names a certificate: ${p.message}`);
        assert.ok(p.hint && p.hint.length > 10, `hint for ${p.code}`);
      }
    });
  }

  test('result fields: served, path, added, notAfter', () => {
    const r = analyseChain({ served: c(leaf), anchors: interOnlyStore, name: 'example.com', now: NOW });
    assert.deepEqual(r.served.map((s) => s.subject), ['CN=example.com']);
    assert.deepEqual(r.path.map((e) => e.anchor), [false, true]);
    assert.deepEqual(r.added.map((a) => a.fingerprint256), [inter.cert.fingerprint256]);
    assert.equal(r.notAfter, leafTo.toISOString());
    const full = analyseChain({ served: c(leaf, inter, root), anchors: store, name: 'example.com', now: NOW });
    assert.equal(full.served.length, 3);
    assert.deepEqual(full.added, []);
    assert.deepEqual(full.path.map((e) => e.anchor), [false, false, true]);
  });

  test('notAfter and daysLeft come from the earliest non-anchor certificate of the path', () => {
    const r = analyseChain({ served: c(leafUnderShort, interShort), anchors: store, name: 'example.com', now: NOW });
    assert.equal(r.notAfter, daysFrom(NOW, 20).toISOString());
  });

  test('an empty served list is a validation error', () => {
    assert.throws(() => analyseChain({ served: [], anchors: store, name: 'example.com', now: NOW }), ValidationError);
  });

  test('a long duplicated list stays bounded and reports the duplicates once', () => {
    const served = [leaf.cert, inter.cert, ...Array.from({ length: 300 }, (_, i) => (i % 2 ? inter.cert : unrelated.cert))];
    const r = analyseChain({ served, anchors: store, name: 'example.com', now: NOW });
    assert.deepEqual(r.problems.map((p) => p.code), ['extra-certs']);
    assert.match(r.problems[0]?.message ?? '', /300 certificates not on the path/);
    assert.equal(r.trusted, true);
  });

  test('does not depend on the real clock', () => {
    const later = analyseChain({ served: c(leaf, inter), anchors: store, name: 'example.com', now: daysFrom(NOW, 85) });
    assert.deepEqual(later.problems.map((p) => p.code), ['expired']);
    assert.equal(later.daysLeft, -5);
  });
});
