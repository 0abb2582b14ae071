import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ValidationError } from '../../../src/core/errors.js';
import { crlDer, crlDistributionPoints, judgeCertificate, parseCrl, serialHexOf, verifyCrlSignature, type Crl } from '../../../src/core/crl.js';
import { makeCrlCa, type CrlCa, type CrlCaOptions } from '../../helpers/crl-pki.js';
import type { Pem } from '../../helpers/openssl-cli.js';

const URL_A = 'http://127.0.0.1:9/a.crl';

const dirs: string[] = [];
async function pki(opts: CrlCaOptions = {}, cn?: string): Promise<CrlCa> {
  const dir = await mkdtemp(join(tmpdir(), 'certs-crl-'));
  dirs.push(dir);
  return makeCrlCa(dir, cn, opts);
}
// An 'exit' listener cannot wait for an async rm: these were left in /tmp on every run.
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const der = (p: Pem): Buffer => new X509Certificate(p.certPem).raw;

describe('CRL parsing (openssl ca fixtures)', () => {
  let ca: CrlCa;
  let revokedLeaf: Pem;
  let goodLeaf: Pem;
  let noDp: Pem;
  let crl: Crl;
  let issuer: X509Certificate;

  before(async () => {
    ca = await pki();
    revokedLeaf = await ca.issue('revoked.test', { crlUrl: URL_A });
    goodLeaf = await ca.issue('good.test', { crlUrl: URL_A });
    noDp = await ca.issue('nodp.test');
    await ca.revoke(revokedLeaf, 'keyCompromise');
    crl = parseCrl(await ca.gencrl({ hours: 24 }));
    issuer = new X509Certificate(ca.ca.certPem);
  });

  test('distribution points: the URI of each DP; none without the extension', () => {
    assert.deepEqual(crlDistributionPoints(der(revokedLeaf)), [[URL_A]]);
    assert.deepEqual(crlDistributionPoints(der(noDp)), []);
  });

  test('serials match node:crypto', () => {
    const x = new X509Certificate(revokedLeaf.certPem);
    assert.equal(serialHexOf(x.raw), x.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ''));
  });

  test('the revoked entry carries its serial, date and reason; times and CRL number are read', () => {
    assert.equal(crl.revoked.size, 1);
    const entry = crl.revoked.get(serialHexOf(der(revokedLeaf)));
    assert.ok(entry, 'revoked leaf is listed');
    assert.equal(entry.reason, 'keyCompromise');
    assert.ok(Math.abs(entry.revocationDate.getTime() - Date.now()) < 120_000, 'revocation date is now');
    assert.ok(crl.nextUpdate);
    assert.ok(Math.abs(crl.nextUpdate.getTime() - crl.thisUpdate.getTime() - 24 * 3600_000) < 2000, 'nextUpdate = thisUpdate + 24 h');
    assert.equal(crl.crlNumber, '01');
    assert.equal(crl.delta, false);
  });

  test('verdicts: revoked, good, stale, not yet valid', () => {
    const sig = verifyCrlSignature(crl, issuer.publicKey);
    assert.equal(sig, true);
    const now = new Date();
    const r = judgeCertificate(der(revokedLeaf), issuer, crl, sig, now);
    assert.equal(r.status, 'revoked');
    assert.equal(r.status === 'revoked' && r.reason, 'keyCompromise');
    assert.deepEqual(judgeCertificate(der(goodLeaf), issuer, crl, sig, now), { status: 'good' });
    const stale = judgeCertificate(der(goodLeaf), issuer, crl, sig, new Date(now.getTime() + 25 * 3600_000));
    assert.equal(stale.status, 'unknown');
    assert.match(stale.status === 'unknown' ? stale.why : '', /stale: past its nextUpdate/);
    const early = judgeCertificate(der(goodLeaf), issuer, crl, sig, new Date(now.getTime() - 3600_000));
    assert.match(early.status === 'unknown' ? early.why : '', /not valid yet/);
    // A revoked certificate behind a bad signature is never "revoked".
    assert.equal(judgeCertificate(der(revokedLeaf), issuer, crl, false, now).status, 'unknown');
  });

  test('PEM and DER bodies give the same CRL', async () => {
    const body = await ca.gencrl();
    const pem = `-----BEGIN X509 CRL-----\n${body.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
    assert.deepEqual(crlDer(Buffer.from(pem)), body);
    assert.throws(() => crlDer(Buffer.from('<html>hello</html>')), (e: unknown) => e instanceof ValidationError && /neither \(not quoted\)/.test(e.message) && !e.message.includes('hello'));
  });

  test('a CRL signed by another key with the same name does not verify', async () => {
    const other = await pki({}, 'certs crl test root');
    const forged = parseCrl(await other.gencrl());
    assert.equal(Buffer.compare(forged.issuerDer, crl.issuerDer), 0, 'same issuer name');
    assert.equal(verifyCrlSignature(forged, issuer.publicKey), false);
  });

  test('corrupted input: every truncation and every flipped byte is a ValidationError or a clean parse', async () => {
    const body = await ca.gencrl();
    for (let n = 0; n < body.length; n++) {
      assert.throws(() => parseCrl(body.subarray(0, n)), (e: unknown) => e instanceof ValidationError && /^CRL DER: .* at offset \d+$/.test(e.message), `truncated to ${n}`);
    }
    for (let i = 0; i < body.length; i++) {
      for (const x of [0xff, 0x80, 0x01]) {
        const bad = Buffer.from(body);
        bad[i] = (bad[i] as number) ^ x;
        try {
          const c = parseCrl(bad);
          // Parsed: then the signature must not verify over changed signed bytes.
          if (i < c.tbs.length + 4) assert.equal(verifyCrlSignature(c, issuer.publicKey), false, `byte ${i} ^ ${x} still verifies`);
        } catch (e) {
          assert.ok(e instanceof ValidationError, `byte ${i} ^ ${x}: ${String(e)}`);
        }
      }
    }
    assert.throws(() => parseCrl(Buffer.concat([body, Buffer.from([0])])), /trailing bytes/);
  });
});

describe('CRL signature algorithms', () => {
  const cases: Array<[string, CrlCaOptions]> = [
    ['ECDSA P-256 SHA-256', { key: 'ec-p256' }],
    ['ECDSA P-384 SHA-384', { key: 'ec-p384', md: 'sha384' }],
    ['RSA PKCS#1 v1.5 SHA-256', { key: 'rsa' }],
    ['RSA PKCS#1 v1.5 SHA-512', { key: 'rsa', md: 'sha512' }],
    ['RSASSA-PSS SHA-256', { key: 'rsa', pss: true }],
  ];
  for (const [name, opts] of cases) {
    test(name, async () => {
      const ca = await pki(opts);
      const crl = parseCrl(await ca.gencrl());
      if (opts.pss) assert.equal(crl.signatureOid, '1.2.840.113549.1.1.10');
      const issuer = new X509Certificate(ca.ca.certPem);
      assert.equal(verifyCrlSignature(crl, issuer.publicKey), true);
      const other = new X509Certificate((await pki(opts)).ca.certPem);
      assert.equal(verifyCrlSignature(crl, other.publicKey), false);
    });
  }
});
