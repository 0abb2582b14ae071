// The scanner against the real nginx: one server block per SNI name, each serving a chain staged
// to show exactly one problem (nginx sends ssl_certificate's file as-is, so order, extra certs
// and missing intermediates are whatever the file holds). Every endpoint is scanned in a single
// scanDomains() call from a real config file, and each must report exactly its expected codes,
// with OpenSSL's own verdict during the handshake agreeing with ours.
//
// The private PKI is generated here with dates relative to the real clock, so the outcome never
// depends on the day the test runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startNginx, type NginxInstance, type NginxSite } from '../helpers/nginx.js';
import { createCA, createLeaf, daysFrom, pemBundle, type Issued, type LeafOptions } from '../helpers/pki.js';
import { describeReport, scanEndpoints, type EndpointSpec, type ScanFixtureResult } from '../helpers/scan-fixture.js';

/**
 * Debian's openssl.cnf sets SECLEVEL=2, under which nginx refuses to load an RSA-1024 leaf ("ee key
 * too small") or a SHA-1-signed intermediate ("ca md too weak"). ssl_ciphers with @SECLEVEL=0
 * works because nginx applies the cipher string to the server's SSL_CTX before it loads the
 * certificates (ssl_conf_command does not: it comes after). Only the two weak sites get it (checked:
 * reaching them through SNI from a SECLEVEL=2 default site works), so the others run as deployed.
 */
const SECLEVEL0 = 'ssl_ciphers DEFAULT:@SECLEVEL=0;';
const WEAK_SITES = new Set(['weak-key.test', 'sha1.test']);

const AIA_URL = 'http://ca.test/certs-test-intermediate.der';
const INTER_CN = 'certs Test Intermediate';

interface Case {
  host: string;
  codes: string[];
  status: 'ok' | 'warning' | 'critical';
  /** Which nginx serves it and how it is dialled. */
  via?: 'v6' | 'tls13';
  /** Extra assertions on the report. */
  check?: (r: ReturnType<ScanFixtureResult['get']>) => void;
}

const CASES: Case[] = [
  {
    host: 'good.test', codes: [], status: 'ok',
    check: (r) => {
      assert.equal(r.chain?.[0]?.keyType, 'ec');
      assert.equal(r.chain?.[0]?.keyBits, 256);
      assert.ok(r.daysLeft !== null && r.daysLeft >= 88 && r.daysLeft <= 90, `daysLeft ${r.daysLeft}`);
      assert.equal(r.servedCount, 2);
    },
  },
  {
    host: 'rsa.test', codes: [], status: 'ok',
    check: (r) => {
      assert.equal(r.chain?.[0]?.keyType, 'rsa');
      assert.equal(r.chain?.[0]?.keyBits, 2048);
    },
  },
  { host: 'expired.test', codes: ['expired'], status: 'critical' },
  { host: 'future.test', codes: ['not-yet-valid'], status: 'critical' },
  {
    host: 'soon10.test', codes: ['expiring-soon'], status: 'warning',
    check: (r) => {
      assert.equal(r.problems[0]?.severity, 'warning');
      assert.equal(r.daysLeft, 10);
    },
  },
  {
    host: 'soon3.test', codes: ['expiring-soon'], status: 'critical',
    check: (r) => {
      assert.equal(r.problems[0]?.severity, 'critical');
      assert.equal(r.daysLeft, 3);
    },
  },
  {
    host: 'mismatch.test', codes: ['hostname-mismatch'], status: 'critical',
    check: (r) => assert.match(r.problems[0]?.message ?? '', /other\.test/),
  },
  { host: 'a.wild.test', codes: [], status: 'ok' },
  { host: 'a.b.wild.test', codes: ['hostname-mismatch'], status: 'critical' },
  { host: 'self.test', codes: ['self-signed'], status: 'critical' },
  // The served root is not an anchor, so it is neither "contains-anchor" nor "extra-certs".
  { host: 'untrusted.test', codes: ['untrusted-root'], status: 'critical' },
  {
    host: 'incomplete.test', codes: ['incomplete-chain'], status: 'critical',
    check: (r) => {
      const message = r.problems[0]?.message ?? '';
      assert.ok(message.includes(INTER_CN), `message names the missing intermediate: ${message}`);
      assert.ok(message.includes(AIA_URL), `message gives the AIA URL: ${message}`);
      assert.equal(r.servedCount, 1);
    },
  },
  { host: 'wrong-order.test', codes: ['wrong-order'], status: 'warning' },
  { host: 'with-root.test', codes: ['contains-anchor'], status: 'warning' },
  { host: 'extra.test', codes: ['extra-certs'], status: 'warning' },
  { host: 'expired-inter.test', codes: ['chain-cert-expired'], status: 'critical' },
  { host: 'weak-key.test', codes: ['weak-key'], status: 'critical' },
  { host: 'sha1.test', codes: ['weak-signature'], status: 'critical' },
  { host: 'v6.test', codes: [], status: 'ok', via: 'v6', check: (r) => assert.equal(r.address, '::1') },
  {
    host: 'tls13.test', codes: [], status: 'ok', via: 'tls13',
    check: (r) => {
      assert.equal(r.protocol, 'TLSv1.3');
      // The encrypted Certificate message is decrypted from the wire, so the order is real.
      assert.equal(r.orderKnown, true);
    },
  },
  {
    host: 'tls13-order.test', codes: ['extra-certs', 'wrong-order'], status: 'warning', via: 'tls13',
    check: (r) => {
      assert.equal(r.protocol, 'TLSv1.3');
      assert.equal(r.orderKnown, true);
    },
  },
];

describe('scan against real nginx: exactly the expected problem codes', () => {
  const now = new Date();
  let dir: string | undefined;
  let ngx: NginxInstance | undefined;
  let ngx13: NginxInstance | undefined;
  let scan: ScanFixtureResult;

  before(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'certs-scan-nginx-'));
    const valid = { notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 90) };
    const caDates = { notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 3650) };

    const root = await createCA({ cn: 'certs Test Root', org: 'O=certs tests', ...caDates });
    const inter = await createCA({ cn: INTER_CN, issuer: root, ...caDates });
    const leaf = (dns: string[], opts: Partial<LeafOptions> = {}): Promise<Issued> =>
      createLeaf({ dns, issuer: inter, ...valid, ...opts });

    const rsaRoot = await createCA({ cn: 'certs Test RSA Root', keySpec: 'rsa-2048', ...caDates });
    const rsaInter = await createCA({ cn: 'certs Test RSA Intermediate', keySpec: 'rsa-2048', issuer: rsaRoot, ...caDates });
    const rsaLeaf = await createLeaf({ dns: ['rsa.test'], keySpec: 'rsa-2048', issuer: rsaInter, ...valid });

    const otherRoot = await createCA({ cn: 'certs Other Root (not trusted)', ...caDates });
    const otherInter = await createCA({ cn: 'certs Other Intermediate', issuer: otherRoot, ...caDates });
    const otherLeaf = await createLeaf({ dns: ['untrusted.test'], issuer: otherInter, ...valid });

    const upper = await createCA({ cn: 'certs Test Upper Intermediate', issuer: root, ...caDates });
    const lower = await createCA({ cn: 'certs Test Lower Intermediate', issuer: upper, ...caDates });
    const deepLeaf = await createLeaf({ dns: ['wrong-order.test'], issuer: lower, ...valid });

    const expiredInter = await createCA({ cn: 'certs Test Expired Intermediate', issuer: root, notBefore: daysFrom(now, -400), notAfter: daysFrom(now, -2) });
    const underExpired = await createLeaf({ dns: ['expired-inter.test'], issuer: expiredInter, ...valid });

    const sha1Inter = await createCA({ cn: 'certs Test SHA-1 Intermediate', issuer: root, hash: 'SHA-1', ...caDates });
    const underSha1 = await createLeaf({ dns: ['sha1.test'], issuer: sha1Inter, ...valid });

    const unrelated = await createCA({ cn: 'certs Unrelated CA', ...caDates });

    const good = await leaf(['good.test']);
    const served: Record<string, { chain: Issued[]; key: Issued }> = {
      'good.test': { chain: [good, inter], key: good },
      'rsa.test': { chain: [rsaLeaf, rsaInter], key: rsaLeaf },
      'expired.test': await leafWithInter(leaf(['expired.test'], { notBefore: daysFrom(now, -100), notAfter: daysFrom(now, -1) })),
      'future.test': await leafWithInter(leaf(['future.test'], { notBefore: daysFrom(now, 1), notAfter: daysFrom(now, 90) })),
      // Half a day past the boundary, so the seconds the scan takes cannot change the day count.
      'soon10.test': await leafWithInter(leaf(['soon10.test'], { notBefore: daysFrom(now, -80), notAfter: daysFrom(now, 10.5) })),
      'soon3.test': await leafWithInter(leaf(['soon3.test'], { notBefore: daysFrom(now, -87), notAfter: daysFrom(now, 3.5) })),
      'mismatch.test': await leafWithInter(leaf(['other.test', 'www.other.test'])),
      'wild.test': await leafWithInter(leaf(['*.wild.test'])),
      'self.test': await (async () => {
        const self = await createLeaf({ dns: ['self.test'], ...valid });
        return { chain: [self], key: self };
      })(),
      'untrusted.test': { chain: [otherLeaf, otherInter, otherRoot], key: otherLeaf },
      'incomplete.test': await (async () => {
        const l = await leaf(['incomplete.test'], { aiaIssuerUrl: AIA_URL });
        return { chain: [l], key: l };
      })(),
      // Sent leaf, upper, lower: the two intermediates swapped.
      'wrong-order.test': { chain: [deepLeaf, upper, lower], key: deepLeaf },
      'with-root.test': await (async () => {
        const l = await leaf(['with-root.test']);
        return { chain: [l, inter, root], key: l };
      })(),
      'extra.test': await (async () => {
        const l = await leaf(['extra.test']);
        return { chain: [l, inter, unrelated], key: l };
      })(),
      'expired-inter.test': { chain: [underExpired, expiredInter], key: underExpired },
      'weak-key.test': await leafWithInter(leaf(['weak-key.test'], { keySpec: 'rsa-1024' })),
      'sha1.test': { chain: [underSha1, sha1Inter], key: underSha1 },
      'v6.test': await leafWithInter(leaf(['v6.test'])),
      'tls13.test': await leafWithInter(leaf(['tls13.test'])),
      // Under TLS 1.3 too: intermediates swapped and an unrelated cert, seen through decryption.
      'tls13-order.test': await (async () => {
        const l = await createLeaf({ dns: ['tls13-order.test'], issuer: lower, ...valid });
        return { chain: [l, upper, lower, unrelated], key: l };
      })(),
    };
    async function leafWithInter(p: Promise<Issued>): Promise<{ chain: Issued[]; key: Issued }> {
      const l = await p;
      return { chain: [l, inter], key: l };
    }

    const site = (names: string[], s: { chain: Issued[]; key: Issued }, more: Partial<NginxSite> = {}): NginxSite => ({
      serverNames: names,
      certPem: pemBundle(...s.chain),
      keyPem: s.key.keyPem,
      ...(WEAK_SITES.has(names[0] ?? '') ? { extra: SECLEVEL0 } : {}),
      ...more,
    });
    const sites: NginxSite[] = [];
    for (const [name, s] of Object.entries(served)) {
      if (name.startsWith('tls13')) continue;
      if (name === 'wild.test') sites.push(site(['a.wild.test', 'a.b.wild.test'], s));
      else if (name === 'v6.test') sites.push(site([name], s, { listen: 'v6' }));
      else sites.push(site([name], s));
    }
    const tls13 = served['tls13.test'];
    const tls13Order = served['tls13-order.test'];
    assert.ok(tls13 && tls13Order);
    [ngx, ngx13] = await Promise.all([
      startNginx({ sites }),
      startNginx({ sites: [site(['tls13.test'], tls13, { protocols: 'TLSv1.3' }), site(['tls13-order.test'], tls13Order, { protocols: 'TLSv1.3' })] }),
    ]);
    const { port, port6 } = ngx;
    assert.ok(port6 !== undefined);
    const endpoints: EndpointSpec[] = CASES.map((c) => {
      if (c.via === 'v6') return { host: c.host, address: '::1', port: port6 };
      if (c.via === 'tls13') return { host: c.host, address: '127.0.0.1', port: (ngx13 as NginxInstance).port };
      return { host: c.host, address: '127.0.0.1', port };
    });
    scan = await scanEndpoints({ dir, anchorsPem: pemBundle(root, rsaRoot), endpoints });
  });

  after(async () => {
    try {
      await Promise.all([ngx?.stop(), ngx13?.stop()]);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every configured endpoint was scanned, in inventory order', () => {
    assert.deepEqual(scan.outcomes.map((o) => o.report.host), CASES.map((c) => c.host));
  });

  for (const c of CASES) {
    const label = c.codes.length ? c.codes.join(', ') : 'no problem';
    test(`${c.host}: ${label} (${c.status})`, () => {
      const r = scan.get(c.host);
      assert.deepEqual(scan.codes(c.host), [...c.codes].sort(), describeReport(r));
      assert.equal(r.status, c.status, describeReport(r));
      assert.equal(r.crossCheck?.agrees, true, `OpenSSL disagrees: ${describeReport(r)}`);
      if (c.via !== 'tls13') {
        assert.equal(r.protocol, 'TLSv1.2', 'the probe reads the served chain under TLS 1.2');
        assert.equal(r.orderKnown, true);
      }
      c.check?.(r);
    });
  }

  // Node's own view of a TLS 1.3 chain appends the root from our trust store; the decrypted
  // Certificate message does not, so the root is not counted as served.
  test('tls13.test: the root from the trust store is not reported as served', () => {
    const r = scan.get('tls13.test');
    assert.equal(r.servedCount, 2, describeReport(r));
    const top = scan.outcomes.find((o) => o.report.host === 'tls13.test')?.path?.at(-1);
    assert.equal(top?.anchor, true);
    assert.equal(top?.source, 'trust-store');
  });
});
