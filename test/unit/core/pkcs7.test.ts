import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '../../../src/core/errors.js';
import { MAX_PKCS7_CERTS, hasPkcs7Pem, isPkcs7Der, pemPkcs7Certificates, pkcs7Certificates } from '../../../src/core/pkcs7.js';
import { createCA, createLeaf, daysFrom, pemBundle } from '../../helpers/pki.js';

const run = promisify(execFile);
const NOW = new Date('2030-06-01T00:00:00Z');
const nb = daysFrom(NOW, -30);
const na = daysFrom(NOW, 60);

const root = await createCA({ cn: 'P7 Test Root', notBefore: nb, notAfter: na });
const inter = await createCA({ cn: 'P7 Test Int', issuer: root, notBefore: nb, notAfter: na });
const leaf = await createLeaf({ dns: ['p7.example'], issuer: inter, notBefore: nb, notAfter: na });

const dir = await mkdtemp(join(tmpdir(), 'certs-pkcs7-'));
after(() => rm(dir, { recursive: true, force: true }));

/** `openssl crl2pkcs7 -nocrl` over the given PEM: the tool admins (and CAs) make .p7c files with. */
async function crl2pkcs7(pem: string, outform: 'DER' | 'PEM'): Promise<Buffer> {
  const id = Math.random().toString(36).slice(2);
  const inPath = join(dir, `${id}.pem`);
  const outPath = join(dir, `${id}.p7`);
  await writeFile(inPath, pem);
  await run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', inPath, '-outform', outform, '-out', outPath]);
  return readFile(outPath);
}

const derOne = await crl2pkcs7(inter.pem, 'DER');
const derTwo = await crl2pkcs7(pemBundle(inter, root), 'DER');
const pemTwo = (await crl2pkcs7(pemBundle(inter, root), 'PEM')).toString('utf8');

// ---- hand-made DER/BER, for the shapes openssl does not write ----

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
/** BER indefinite length: tag 0x80 content 00 00. */
const indef = (tag: number, ...content: Buffer[]): Buffer => Buffer.concat([Buffer.from([tag, 0x80]), ...content, Buffer.from([0, 0])]);
const OID_SIGNED_DATA = Buffer.from('06092a864886f70d010702', 'hex');
const OID_DATA = Buffer.from('06092a864886f70d010701', 'hex');
const VERSION_1 = Buffer.from('020101', 'hex');
const EMPTY_SET = Buffer.from('3100', 'hex');

function signedData(certField: Buffer | null, wrap: typeof tlv = tlv): Buffer {
  const sd = wrap(0x30, VERSION_1, EMPTY_SET, tlv(0x30, OID_DATA), ...(certField ? [certField] : []), EMPTY_SET);
  return wrap(0x30, OID_SIGNED_DATA, wrap(0xa0, sd));
}

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('pkcs7Certificates (DER)', () => {
  test('reads the one certificate of an openssl crl2pkcs7 -nocrl bundle', () => {
    const certs = pkcs7Certificates(derOne);
    assert.equal(certs.length, 1);
    assert.ok((certs[0] as Buffer).equals(inter.der));
  });

  test('reads several certificates in bundle order', () => {
    const certs = pkcs7Certificates(derTwo);
    assert.deepEqual(certs.map((c) => c.toString('hex')), [inter.der, root.der].map((c) => c.toString('hex')));
  });

  test('returns copies, not views into the (possibly large) input', () => {
    const certs = pkcs7Certificates(derOne);
    assert.notEqual((certs[0] as Buffer).buffer, derOne.buffer);
  });

  test('accepts a Uint8Array view at an offset', () => {
    const padded = Buffer.concat([Buffer.from('garbage'), derTwo]);
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 7, derTwo.length);
    assert.equal(pkcs7Certificates(view).length, 2);
  });

  test('accepts BER indefinite lengths on the wrappers (as some CAs and Windows tools write)', () => {
    const ber = signedData(indef(0xa0, inter.der, root.der), indef);
    const certs = pkcs7Certificates(ber);
    assert.equal(certs.length, 2);
    assert.ok((certs[1] as Buffer).equals(root.der));
    assert.ok(isPkcs7Der(ber));
  });

  test('skips CertificateChoices that are not X.509 certificates (attribute certificates)', () => {
    const attrCert = tlv(0xa1, Buffer.from('0500', 'hex'));
    const certs = pkcs7Certificates(signedData(tlv(0xa0, attrCert, inter.der)));
    assert.equal(certs.length, 1);
    assert.ok((certs[0] as Buffer).equals(inter.der));
  });

  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['empty input', () => Buffer.alloc(0), /truncated header at offset 0/],
    ['a certificate, not a bundle', () => inter.der, /expected contentType OBJECT IDENTIFIER/],
    ['another content type (data)', () => tlv(0x30, OID_DATA, tlv(0xa0, tlv(0x04, Buffer.from('hi')))), /content type is not signedData/],
    ['signedData without content', () => tlv(0x30, OID_SIGNED_DATA), /signedData without content/],
    ['no certificates field', () => signedData(null), /holds no certificate/],
    ['an empty certificates field', () => signedData(tlv(0xa0)), /holds no certificate/],
    ['trailing bytes', () => Buffer.concat([derOne, Buffer.from([0])]), /1 trailing bytes/],
    ['a length of 5 bytes', () => Buffer.from('3085ffffffffff', 'hex'), /length of 5 bytes/],
    ['a length past the end', () => Buffer.from('3084ffffffff00', 'hex'), /runs past the end/],
    ['indefinite length without end-of-contents', () => Buffer.concat([Buffer.from('3080', 'hex'), OID_SIGNED_DATA]), /without end-of-contents/],
    ['indefinite length on a primitive', () => Buffer.from('04800000', 'hex'), /indefinite length on a primitive/],
    ['a multi-byte tag', () => Buffer.from('1f8101', 'hex'), /multi-byte tag/],
    ['a certificate with a BER length', () => signedData(tlv(0xa0, indef(0x30, Buffer.from('020101', 'hex')))), /certificate with an indefinite/],
    ['nesting 5000 levels deep (no stack overflow)', () => Buffer.concat([Buffer.from('3080'.repeat(5000), 'hex'), Buffer.alloc(10000)]), /nested deeper than 16 levels/],
    [`more than ${MAX_PKCS7_CERTS} certificates`, () => signedData(tlv(0xa0, ...Array.from({ length: MAX_PKCS7_CERTS + 1 }, () => inter.der))), /more than 64 certificates/],
  ];
  for (const [name, input, pattern] of cases) {
    test(`refuses ${name}`, () => refused(() => pkcs7Certificates(input()), pattern));
  }

  test('names the input in errors', () => {
    refused(() => pkcs7Certificates(Buffer.from('3003', 'hex'), 'http://ca.test/int.p7c'), /^http:\/\/ca\.test\/int\.p7c: not a valid PKCS#7 bundle: length 3 runs past the end at offset 0/);
  });

  test('every truncation of a real bundle is refused with a ValidationError', () => {
    for (let n = 0; n < derTwo.length; n++) {
      assert.throws(() => pkcs7Certificates(derTwo.subarray(0, n)), ValidationError, `truncated to ${n} bytes`);
    }
  });

  test('corrupted bytes either parse or are refused with a ValidationError, never anything else', () => {
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      const bad = Buffer.from(derTwo);
      for (let k = 0; k < 1 + (i % 3); k++) bad[rand() % 80] = rand() & 0xff; // the headers live in the first bytes
      try {
        pkcs7Certificates(bad);
      } catch (err) {
        assert.ok(err instanceof ValidationError, `iteration ${i}: ${String(err)}`);
      }
    }
  });
});

describe('isPkcs7Der', () => {
  test('tells a bundle from a certificate and from junk', () => {
    assert.equal(isPkcs7Der(derOne), true);
    assert.equal(isPkcs7Der(derTwo), true);
    assert.equal(isPkcs7Der(inter.der), false);
    assert.equal(isPkcs7Der(leaf.der), false);
    assert.equal(isPkcs7Der(Buffer.alloc(0)), false);
    assert.equal(isPkcs7Der(Buffer.from('30', 'hex')), false);
    assert.equal(isPkcs7Der(Buffer.from(inter.pem)), false);
  });
});

describe('pemPkcs7Certificates', () => {
  test('reads an openssl -outform PEM bundle ("-----BEGIN PKCS7-----")', () => {
    assert.ok(pemTwo.startsWith('-----BEGIN PKCS7-----'));
    assert.ok(hasPkcs7Pem(pemTwo));
    const certs = pemPkcs7Certificates(pemTwo);
    assert.deepEqual(certs.map((c) => c.toString('hex')), [inter.der, root.der].map((c) => c.toString('hex')));
  });

  test('accepts the CMS and legacy "PKCS #7 SIGNED DATA" labels, CRLF, text around and several blocks', () => {
    const b64 = derOne.toString('base64').replace(/(.{64})/g, '$1\r\n');
    const text = `Bag Attributes\r\n-----BEGIN CMS-----\r\n${b64}\r\n-----END CMS-----\r\nnote\n` +
      `-----BEGIN PKCS #7 SIGNED DATA-----\n${derOne.toString('base64')}\n-----END PKCS #7 SIGNED DATA-----\n`;
    assert.equal(pemPkcs7Certificates(text).length, 2);
  });

  test('refuses a block without its END line', () => {
    refused(() => pemPkcs7Certificates(pemTwo.replace('-----END PKCS7-----', '')), /block 1 is truncated/);
  });

  test('refuses invalid base64', () => {
    refused(() => pemPkcs7Certificates('-----BEGIN PKCS7-----\nnot*base64\n-----END PKCS7-----\n'), /not valid base64/);
  });

  test('refuses a block whose content is cut short', () => {
    const cut = derTwo.subarray(0, 300).toString('base64');
    refused(() => pemPkcs7Certificates(`-----BEGIN PKCS7-----\n${cut}\n-----END PKCS7-----\n`), /not a valid PKCS#7 bundle/);
  });

  test('refuses text without a PKCS#7 block (a plain certificate PEM)', () => {
    assert.equal(hasPkcs7Pem(inter.pem), false);
    refused(() => pemPkcs7Certificates(inter.pem), /no PKCS#7 block found/);
  });
});
