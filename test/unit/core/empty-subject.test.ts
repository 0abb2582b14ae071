// Certificates with an empty subject DN (RFC 5280 §4.2.1.6 with a critical SAN; Let's Encrypt's
// tlsserver/shortlived profiles), through every reader of subject and issuer that needs no
// network: description, chain analysis, trust anchors, the scanner's report, `status` rendering
// and JSON, notifications, metrics, the check after an order and the CSR's CN.
// Node's X509Certificate.subject is undefined for such a certificate: before, every one of these
// threw "Cannot read properties of undefined (reading 'split')" or reported handshake-failed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyseChain } from '../../../src/core/chain.js';
import type { EndpointReport } from '../../../src/core/model.js';
import { TrustAnchors } from '../../../src/core/trust-anchors.js';
import { reportDocument } from '../../../src/core/report.js';
import { renderMetrics } from '../../../src/core/metrics.js';
import { buildDigest, evaluateNotifications } from '../../../src/core/notify-policy.js';
import {
  certName, describeCert, extensionCritical, isSelfSigned, issuerLabel, oneLineName, sameName, subjectLabel,
} from '../../../src/core/x509.js';
import { renderDetail, renderTable } from '../../../src/cli/render.js';
import { renderDigestEmail } from '../../../src/notify/render.js';
import { loadEmailTemplates } from '../../../src/config/email-templates.js';
import { parseConfigText } from '../../../src/config/load.js';
import type { ProbeResult } from '../../../src/core/model.js';
import { scanDomains } from '../../../src/service/scan-inventory.js';
import { verifyIssued, type IssueInput } from '../../../src/service/issue.js';
import { csrCommonName } from '../../../src/acme/order.js';
import { AcmeError } from '../../../src/core/errors.js';
import { createCA, createLeaf, daysFrom, type Issued } from '../../helpers/pki.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const caFrom = daysFrom(NOW, -365);
const caTo = daysFrom(NOW, 3650);
const LABEL = '(empty subject) www.example.com';

const root = await createCA({ cn: 'Empty Test Root', notBefore: caFrom, notAfter: caTo });
const inter = await createCA({ cn: 'Empty Test Int', issuer: root, notBefore: caFrom, notAfter: caTo });
const leafOf = (opts: Partial<Parameters<typeof createLeaf>[0]> = {}): Promise<Issued> => createLeaf({
  dns: ['www.example.com', 'example.com'], issuer: inter, emptySubject: true,
  notBefore: daysFrom(NOW, -85), notAfter: daysFrom(NOW, 5), aiaIssuerUrl: 'http://ca.test/int.der', ...opts,
});
/** Expires in 5 days of 90 (thresholds unscaled, core/thresholds.ts): expiring-soon (critical) names it. */
const leaf = await leafOf();
const ipOnly = await leafOf({ dns: [], ips: ['192.0.2.7'] });
const named = await createLeaf({ dns: ['www.example.com'], issuer: inter, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
const anchors = new TrustAnchors([root.cert]);

describe('x509: an empty subject DN', () => {
  it('is what Node gives (undefined), and the fixture has a critical SAN', () => {
    assert.equal(leaf.cert.subject ?? '', '', 'the fixture really has an empty subject');
    assert.equal(extensionCritical(leaf.der), true);
    assert.equal(extensionCritical(named.der), false, 'an ordinary leaf has a non-critical SAN');
    assert.equal(extensionCritical(root.der), null, 'no SAN at all');
  });

  it('describes the certificate with subject "" and labels it by its first SAN', () => {
    const info = describeCert(leaf.cert);
    assert.equal(info.subject, '');
    assert.equal(info.issuer, 'CN=Empty Test Int');
    assert.deepEqual(info.dnsNames, ['www.example.com', 'example.com']);
    assert.equal(subjectLabel(info), LABEL);
    assert.equal(issuerLabel(info), 'CN=Empty Test Int');
    assert.equal(issuerLabel({ issuer: '' }), '(empty issuer)');
    assert.equal(certName(leaf.cert), LABEL);
    assert.equal(certName(ipOnly.cert), '(empty subject) 192.0.2.7');
    assert.equal(certName(named.cert), 'www.example.com', 'a subject CN is still preferred');
    assert.equal(oneLineName(undefined), '');
  });

  it('never matches two empty names by name alone', () => {
    assert.equal(sameName(undefined, undefined), false);
    assert.equal(sameName('', ''), false);
    assert.equal(sameName('CN=a', 'CN=a'), true);
    assert.equal(isSelfSigned(leaf.cert), false, 'issued by the intermediate');
  });

  it('a self-signed empty-subject certificate is self-signed because its signature says so', async () => {
    const self = await createLeaf({ dns: ['self.example.com'], emptySubject: true, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
    assert.equal(self.cert.issuer ?? '', '');
    assert.equal(isSelfSigned(self.cert), true);
    const r = analyseChain({ served: [self.cert], anchors, name: 'self.example.com', now: NOW });
    assert.deepEqual(r.problems.map((p) => p.code), ['self-signed']);
    assert.match(r.problems[0]!.message, /^certificate "\(empty subject\) self\.example\.com" \(SHA-256 /);
  });
});

describe('trust anchors: an empty subject names nothing', () => {
  it('a pinned empty-subject certificate does not make another one with its key an anchor', async () => {
    const pinned = await createLeaf({ dns: ['pinned.example.com'], emptySubject: true, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
    const sameKey = await createLeaf({ dns: ['other.example.com'], emptySubject: true, key: pinned.key, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
    const store = new TrustAnchors([pinned.cert]);
    assert.equal(store.isAnchor(pinned.cert), true, 'by its fingerprint');
    // Before, both subjects were `undefined`, so the lookup by name found the pinned one and the
    // shared key made the other certificate (other names, never pinned) a trusted anchor.
    assert.equal(store.isAnchor(sameKey.cert), false);
    const r = analyseChain({ served: [sameKey.cert], anchors: store, name: 'other.example.com', now: NOW });
    assert.equal(r.trusted, false);
    assert.deepEqual(r.problems.map((p) => p.code), ['self-signed']);
  });

  it('an empty issuer DN is shown as "(empty issuer)" and never matched to an empty-subject anchor by name', async () => {
    const signer = await createLeaf({ dns: ['signer.example.com'], emptySubject: true, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
    const unrelated = await createLeaf({ dns: ['unrelated.example.com'], emptySubject: true, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
    const child = await createLeaf({ dns: ['www.example.com'], issuer: signer, notBefore: daysFrom(NOW, -1), notAfter: daysFrom(NOW, 60) });
    assert.equal(child.cert.issuer ?? '', '');
    const store = new TrustAnchors([unrelated.cert]);
    assert.deepEqual(store.issuersOf(child.cert), [], 'same (empty) name, but the signature says no');
    const r = analyseChain({ served: [child.cert], anchors: store, name: 'www.example.com', now: NOW });
    assert.equal(r.trusted, false);
    const p = r.problems.find((x) => x.code === 'incomplete-chain');
    assert.ok(p, JSON.stringify(r.problems));
    assert.match(p.message, /is incomplete: issuer "\(empty issuer\)" of "www\.example\.com"/);
  });

  it('a named anchor re-issued with the same key still counts (unchanged)', async () => {
    const again = await createCA({ cn: 'Empty Test Root', key: root.key, notBefore: caFrom, notAfter: caTo });
    assert.equal(anchors.isAnchor(again.cert), true);
  });
});

describe('chain analysis of an empty-subject leaf', () => {
  it('a complete chain is trusted and messages name the leaf "(empty subject) <first SAN>"', () => {
    const r = analyseChain({ served: [leaf.cert, inter.cert], anchors, name: 'www.example.com', now: NOW });
    assert.equal(r.trusted, true);
    assert.deepEqual(r.problems.map((p) => p.code), ['expiring-soon']);
    assert.equal(r.problems[0]!.message, `certificate "${LABEL}" (SHA-256 ${leaf.cert.fingerprint256.slice(0, 11)}…) expires in 5 days (${daysFrom(NOW, 5).toISOString()})`);
    assert.equal(r.served[0]!.subject, '');
  });

  it('an incomplete chain is reported as such, naming the leaf and the missing issuer', () => {
    const r = analyseChain({ served: [leaf.cert], anchors, name: 'www.example.com', now: NOW });
    const p = r.problems.find((x) => x.code === 'incomplete-chain');
    assert.ok(p, JSON.stringify(r.problems));
    assert.match(p.message, /^chain of "\(empty subject\) www\.example\.com" \(SHA-256 [0-9A-F:]+…\) is incomplete: issuer "CN=Empty Test Int" of "\(empty subject\) www\.example\.com"/);
    assert.match(p.message, /its AIA caIssuers URL: http:\/\/ca\.test\/int\.der/);
  });

  it('a hostname mismatch names the leaf and the names it covers', () => {
    const r = analyseChain({ served: [leaf.cert, inter.cert], anchors, name: 'api.example.com', now: NOW });
    const p = r.problems.find((x) => x.code === 'hostname-mismatch');
    assert.ok(p);
    assert.match(p.message, /^certificate "\(empty subject\) www\.example\.com" .* does not cover "api\.example\.com"; it covers www\.example\.com, example\.com$/);
  });
});

/** The scanner's report for a served chain, through scanDomains with the probe replaced. */
async function scanReport(chain: Issued[]): Promise<EndpointReport> {
  const config = parseConfigText('dataDir: ./data\ndomains:\n  - { name: www.example.com, managed: false, endpoints: [{ host: www.example.com, port: 443 }] }\n', '/nonexistent/certs.yaml');
  const probe = async (): Promise<ProbeResult> => ({
    host: 'www.example.com', port: 443, protocol: 'TLSv1.2', orderKnown: true, chain: chain.map((c) => c.der), opensslError: null, durationMs: 1,
  });
  const [report] = await scanDomains(config, config.domains, {
    anchors, secureContext: undefined as never, now: () => NOW, probe,
  }, { keepChain: true });
  return report!;
}

describe('the scanner, status, JSON, notifications and metrics', () => {
  it('scans an empty-subject leaf: no handshake-failed, subject "(empty subject) <first SAN>"', async () => {
    const r = await scanReport([leaf, inter]);
    assert.deepEqual(r.problems.map((p) => p.code), ['expiring-soon'], JSON.stringify(r.problems));
    assert.equal(r.status, 'critical');
    assert.equal(r.subject, LABEL);
    assert.equal(r.issuer, 'CN=Empty Test Int');
    const json = JSON.parse(JSON.stringify(reportDocument([r], NOW))) as { endpoints: EndpointReport[] };
    assert.equal(json.endpoints[0]!.subject, LABEL);
    assert.equal(json.endpoints[0]!.chain![0]!.subject, '', 'the chain keeps the DN itself, empty');
  });

  it('status and its detail view show the label, never "undefined"', async () => {
    const r = await scanReport([leaf]);
    const detail = renderDetail(r, false, NOW);
    assert.match(detail, /^ {2}#0 \(empty subject\) www\.example\.com$/m);
    assert.match(detail, /^ {7}issuer {3}CN=Empty Test Int$/m);
    assert.match(detail, /incomplete-chain: chain of "\(empty subject\) www\.example\.com"/);
    assert.doesNotMatch(detail, /undefined/);
    const table = renderTable([r, { ...r, issuer: '' }], false);
    assert.match(table, /Empty Test Int/);
    assert.match(table, /\(empty issuer\)/);
  });

  it('notifications name the leaf by its first SAN', async () => {
    const r = await scanReport([leaf]);
    const decision = evaluateNotifications({ reports: [r], sentExpiry: new Set(), active: [], thresholdsFor: () => [30, 7], now: NOW });
    const problem = decision.events.find((e) => e.code === 'incomplete-chain');
    assert.ok(problem, JSON.stringify(decision.events));
    const digest = buildDigest(decision.events, { now: NOW, total: 1 });
    const mail = renderDigestEmail(loadEmailTemplates(), { subject: digest.subject, story: digest.story, summary: digest.summary, rows: digest.rows, shown: digest.shown, rest: digest.rest, groups: [], now: NOW });
    assert.match(mail.text, /chain of "\(empty subject\) www\.example\.com"/);
    assert.match(mail.html, /chain of &quot;\(empty subject\) www\.example\.com&quot;/);
    assert.doesNotMatch(mail.text + mail.html + digest.subject, /undefined/);
  });

  it('metrics carry the endpoint and its problems, no empty or undefined labels', async () => {
    const r = await scanReport([leaf]);
    const text = renderMetrics({ reports: [r], renewalFailures: new Map(), lastRun: null, pending: 0 });
    const expiry = Date.parse(daysFrom(NOW, 5).toISOString()) / 1000;
    assert.ok(text.includes(`certs_certificate_expiration_timestamp_seconds{domain="www.example.com",endpoint="www.example.com:443"} ${expiry}\n`), text);
    assert.ok(text.includes('certs_certificate_problems{domain="www.example.com",endpoint="www.example.com:443",code="incomplete-chain"} 1\n'), text);
    assert.doesNotMatch(text, /undefined|=""/);
  });
});

describe('after an order: verifyIssued and the CSR', () => {
  const input = (names: string[]): IssueInput => ({ domain: { name: names[0] }, wanted: { names } }) as unknown as IssueInput;

  it('accepts an empty-subject certificate with a critical SAN', () => {
    assert.doesNotThrow(() => verifyIssued(input(['www.example.com', 'example.com']), leaf.cert, leaf.keyPem));
  });

  it('refuses an empty subject whose SAN is not critical (RFC 5280 §4.2.1.6)', async () => {
    const bad = await leafOf({ sanCritical: false });
    assert.equal(extensionCritical(bad.der), false);
    assert.throws(() => verifyIssued(input(['www.example.com']), bad.cert, bad.keyPem), (err: unknown) =>
      err instanceof AcmeError && /domain "www\.example\.com": the CA returned a certificate with an empty subject whose subjectAltName extension is not critical/.test(err.message));
  });

  it('still refuses a certificate without a wanted name', () => {
    assert.throws(() => verifyIssued(input(['www.example.com', 'api.example.com']), leaf.cert, leaf.keyPem), /without api\.example\.com/);
  });

  it('sends no CN for the empty-subject profiles, nor for names over 64 characters', () => {
    const long = `${'a'.repeat(60)}.example.com`;
    assert.equal(csrCommonName(['a.test', 'b.test'], null), 'a.test');
    assert.equal(csrCommonName(['a.test'], 'classic'), 'a.test');
    assert.equal(csrCommonName(['a.test'], 'tlsserver'), undefined);
    assert.equal(csrCommonName(['a.test'], 'shortlived'), undefined);
    assert.equal(csrCommonName([long, 'b.test']), 'b.test');
    assert.equal(csrCommonName([long]), undefined);
    assert.equal(csrCommonName(['192.0.2.1']), undefined);
  });
});
