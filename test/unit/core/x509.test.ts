import { test, describe } from 'node:test';
import type { X509Certificate } from 'node:crypto';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import {
  describeCert, isWeakSignature, parseNameList, parsePemBundle, signatureAlgorithmOf, toX509, weakKeyReason,
} from '../../../src/core/x509.js';
import { createCA, createLeaf, daysFrom, generateKey } from '../../helpers/pki.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const nb = daysFrom(NOW, -30);
const na = daysFrom(NOW, 60);

const rsaKey = generateKey('rsa-2048');
const rootEc = await createCA({ cn: 'X509 Test Root', org: 'O=certs tests', notBefore: nb, notAfter: na });
const rootP384 = await createCA({ cn: 'X509 P-384 Root', keySpec: 'ec-p384', notBefore: nb, notAfter: na });
const rootRsa = await createCA({ cn: 'X509 RSA Root', key: rsaKey, notBefore: nb, notAfter: na });
const leaf = await createLeaf({
  dns: ['example.com', 'a,b.example.com', 'xn--bcher-kva.example'],
  ips: ['192.0.2.1', '2001:db8::1'],
  issuer: rootEc,
  notBefore: nb,
  notAfter: na,
  aiaIssuerUrl: 'http://ca.test/root.der',
});

/** Rewrites the last byte of the outer signature OID (the last occurrence in the DER). */
function patchSignatureOid(der: Buffer, from: string, lastByte: number): Buffer {
  const out = Buffer.from(der);
  const oid = Buffer.from(from, 'hex');
  const at = out.lastIndexOf(oid);
  assert.ok(at > 0, 'signature OID not found');
  out[at + oid.length - 1] = lastByte;
  return out;
}
const SHA256_RSA = '06092a864886f70d01010b';

describe('parsePemBundle', () => {
  test('reads every certificate block in order, ignoring keys and text around them', () => {
    const text = `subject=whatever\r\n${leaf.pem.replace(/\n/g, '\r\n')}${leaf.keyPem}\n# comment\n${rootEc.pem}`;
    const ders = parsePemBundle(text, 'fullchain.pem');
    assert.equal(ders.length, 2);
    assert.deepEqual(ders[0], leaf.der);
    assert.deepEqual(ders[1], rootEc.der);
  });

  const bad: Array<{ name: string; text: string; match: RegExp }> = [
    { name: 'truncated block', text: leaf.pem.slice(0, 200), match: /fullchain\.pem: certificate 1 is truncated/ },
    { name: 'BEGIN inside a block', text: leaf.pem.slice(0, 200) + rootEc.pem, match: /certificate 1 is truncated/ },
    { name: 'second block truncated', text: leaf.pem + rootEc.pem.slice(0, 100), match: /certificate 2 is truncated/ },
    { name: 'bad base64', text: '-----BEGIN CERTIFICATE-----\nMII$$$not*base64\n-----END CERTIFICATE-----\n', match: /certificate 1 is not valid base64/ },
    { name: 'empty block', text: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', match: /not valid base64/ },
    { name: 'no certificate', text: leaf.keyPem, match: /fullchain\.pem: no certificate found/ },
    { name: 'empty input', text: '', match: /fullchain\.pem: no certificate found/ },
  ];
  for (const c of bad) {
    test(`rejects ${c.name}`, () => {
      assert.throws(() => parsePemBundle(c.text, 'fullchain.pem'), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.match(err.message, c.match);
        return true;
      });
    });
  }
});

describe('toX509', () => {
  test('parses DER', () => {
    assert.equal(toX509(leaf.der).fingerprint256, leaf.cert.fingerprint256);
  });
  test('names the input when the DER is corrupt', () => {
    const corrupt = Buffer.from(leaf.der.subarray(0, 100));
    assert.throws(() => toX509(corrupt, '/etc/ssl/site.pem'), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /^\/etc\/ssl\/site\.pem: not a valid X\.509 certificate/);
      return true;
    });
  });
});

describe('signatureAlgorithmOf', async () => {
  const cases: Array<{ name: string; der: () => Promise<Buffer> | Buffer; expected: string; weak: boolean }> = [
    { name: 'ECDSA P-256 issuer', der: () => leaf.der, expected: 'ecdsa-with-SHA256', weak: false },
    { name: 'ECDSA SHA-1', der: async () => (await createLeaf({ dns: ['a.test'], issuer: rootEc, hash: 'SHA-1', notBefore: nb, notAfter: na })).der, expected: 'ecdsa-with-SHA1', weak: true },
    { name: 'ECDSA P-384 SHA-384', der: async () => (await createLeaf({ dns: ['a.test'], issuer: rootP384, hash: 'SHA-384', notBefore: nb, notAfter: na })).der, expected: 'ecdsa-with-SHA384', weak: false },
    { name: 'RSA SHA-256', der: () => rootRsa.der, expected: 'sha256WithRSAEncryption', weak: false },
    { name: 'RSA SHA-1', der: async () => (await createLeaf({ dns: ['a.test'], issuer: rootRsa, hash: 'SHA-1', notBefore: nb, notAfter: na })).der, expected: 'sha1WithRSAEncryption', weak: true },
    { name: 'RSA SHA-512', der: async () => (await createLeaf({ dns: ['a.test'], issuer: rootRsa, hash: 'SHA-512', notBefore: nb, notAfter: na })).der, expected: 'sha512WithRSAEncryption', weak: false },
    { name: 'RSASSA-PSS SHA-256', der: async () => (await createLeaf({ dns: ['a.test'], issuer: rootRsa, pss: true, notBefore: nb, notAfter: na })).der, expected: 'rsassaPss(sha256)', weak: false },
    { name: 'RSASSA-PSS SHA-1', der: async () => (await createLeaf({ dns: ['a.test'], issuer: rootRsa, pss: true, hash: 'SHA-1', notBefore: nb, notAfter: na })).der, expected: 'rsassaPss(sha1)', weak: true },
    { name: 'Ed25519', der: async () => (await createLeaf({ dns: ['a.test'], keySpec: 'ed25519', notBefore: nb, notAfter: na })).der, expected: 'ED25519', weak: false },
    { name: 'MD5 (patched OID)', der: () => patchSignatureOid(rootRsa.der, SHA256_RSA, 0x04), expected: 'md5WithRSAEncryption', weak: true },
    { name: 'MD2 (patched OID)', der: () => patchSignatureOid(rootRsa.der, SHA256_RSA, 0x02), expected: 'md2WithRSAEncryption', weak: true },
    { name: 'unknown OID', der: () => patchSignatureOid(rootRsa.der, SHA256_RSA, 0x63), expected: '1.2.840.113549.1.1.99', weak: false },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const alg = signatureAlgorithmOf(await c.der());
      assert.equal(alg, c.expected);
      assert.equal(isWeakSignature(alg), c.weak);
    });
  }

  const malformed: Array<{ name: string; der: Buffer }> = [
    { name: 'empty', der: Buffer.alloc(0) },
    { name: 'truncated', der: leaf.der.subarray(0, leaf.der.length - 80) },
    { name: 'not a SEQUENCE', der: Buffer.from([0x04, 0x01, 0x00]) },
    { name: 'length past the end', der: Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]) },
    { name: 'indefinite length', der: Buffer.from([0x30, 0x80, 0x00, 0x00]) },
    { name: 'OID cut mid-arc', der: Buffer.from([0x30, 0x07, 0x30, 0x00, 0x30, 0x03, 0x06, 0x01, 0x86]) },
  ];
  for (const c of malformed) {
    test(`rejects malformed DER: ${c.name}`, () => {
      assert.throws(() => signatureAlgorithmOf(c.der), ValidationError);
    });
  }
});

describe('isWeakSignature and weakKeyReason', () => {
  const sigs: Array<[string, boolean]> = [
    ['sha1WithRSAEncryption', true], ['md5WithRSAEncryption', true], ['md2WithRSAEncryption', true],
    ['ecdsa-with-SHA1', true], ['dsaWithSHA1', true], ['sha256WithRSAEncryption', false],
    ['ecdsa-with-SHA384', false], ['ED25519', false], ['1.2.3.4', false],
  ];
  for (const [alg, weak] of sigs) test(`${alg} weak=${weak}`, () => assert.equal(isWeakSignature(alg), weak));

  const keys: Array<[string, number | null, RegExp | null]> = [
    ['rsa', 1024, /RSA key of 1024 bits/], ['rsa', 2048, null], ['rsa-pss', 1024, /RSA key of 1024/],
    ['ec', 224, /EC key of 224 bits/], ['ec', 256, null], ['ec', null, null],
    ['dsa', 2048, /DSA/], ['ed25519', 256, null],
  ];
  for (const [keyType, keyBits, match] of keys) {
    test(`${keyType} ${keyBits ?? '?'} bits`, () => {
      const why = weakKeyReason({ keyType, keyBits });
      if (match) assert.match(why ?? '', match);
      else assert.equal(why, null);
    });
  }
});

describe('parseNameList', () => {
  const cases: Array<{ text: string | undefined; sep?: ', ' | '\n'; expected: Array<[string, string]> }> = [
    { text: undefined, expected: [] },
    { text: 'DNS:a.test, DNS:b.test', expected: [['DNS', 'a.test'], ['DNS', 'b.test']] },
    { text: 'DNS:"a\\u002cb.test", IP Address:192.0.2.1', expected: [['DNS', 'a,b.test'], ['IP Address', '192.0.2.1']] },
    { text: 'DNS:"q\\"uote, x", DNS:c.test', expected: [['DNS', 'q"uote, x'], ['DNS', 'c.test']] },
    { text: 'OCSP - URI:http://o.test\nCA Issuers - URI:http://ca.test/x.der\n', sep: '\n', expected: [['OCSP - URI', 'http://o.test'], ['CA Issuers - URI', 'http://ca.test/x.der']] },
  ];
  for (const c of cases) {
    test(JSON.stringify(c.text), () => assert.deepEqual(parseNameList(c.text, c.sep), c.expected));
  }
});

describe('describeCert', () => {
  test('leaf fields', () => {
    const info = describeCert(leaf.cert);
    assert.equal(info.subject, 'CN=example.com');
    assert.equal(info.issuer, 'CN=X509 Test Root, O=certs tests');
    assert.equal(info.notBefore, '2030-05-02T00:00:00.000Z');
    assert.equal(info.notAfter, '2030-07-31T00:00:00.000Z');
    assert.equal(info.fingerprint256, leaf.cert.fingerprint256);
    assert.equal(info.serialNumber, leaf.cert.serialNumber);
    assert.equal(info.keyType, 'ec');
    assert.equal(info.keyBits, 256);
    assert.equal(info.curve, 'P-256');
    assert.equal(info.signatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(info.selfSigned, false);
    assert.equal(info.isCA, false);
    assert.deepEqual(info.dnsNames, ['example.com', 'a,b.example.com', 'xn--bcher-kva.example']);
    assert.deepEqual(info.ipAddresses, ['192.0.2.1', '2001:db8:0:0:0:0:0:1']);
    assert.deepEqual(info.aiaIssuers, ['http://ca.test/root.der']);
  });

  const keys: Array<{ name: string; cert: () => Promise<X509Certificate>; keyType: string; keyBits: number; curve?: string; selfSigned: boolean; isCA: boolean }> = [
    { name: 'EC root', cert: async () => rootEc.cert, keyType: 'ec', keyBits: 256, curve: 'P-256', selfSigned: true, isCA: true },
    { name: 'P-384 root', cert: async () => rootP384.cert, keyType: 'ec', keyBits: 384, curve: 'P-384', selfSigned: true, isCA: true },
    { name: 'RSA 2048 root', cert: async () => rootRsa.cert, keyType: 'rsa', keyBits: 2048, selfSigned: true, isCA: true },
    { name: 'RSA 1024 leaf', cert: async () => (await createLeaf({ dns: ['a.test'], keySpec: 'rsa-1024', issuer: rootEc, notBefore: nb, notAfter: na })).cert, keyType: 'rsa', keyBits: 1024, selfSigned: false, isCA: false },
    // A self-signed server cert without keyCertSign is still self-signed.
    { name: 'Ed25519 self-signed leaf', cert: async () => (await createLeaf({ dns: ['a.test'], keySpec: 'ed25519', notBefore: nb, notAfter: na })).cert, keyType: 'ed25519', keyBits: 256, selfSigned: true, isCA: false },
  ];
  for (const c of keys) {
    test(c.name, async () => {
      const info = describeCert(await c.cert());
      assert.equal(info.keyType, c.keyType);
      assert.equal(info.keyBits, c.keyBits);
      assert.equal(info.curve, c.curve);
      assert.equal(info.selfSigned, c.selfSigned);
      assert.equal(info.isCA, c.isCA);
    });
  }
});
