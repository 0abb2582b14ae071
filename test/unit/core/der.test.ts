import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import { DerReader, type DerOptions } from '../../../src/core/der.js';
import { ariCertId } from '../../../src/core/ari.js';
import { certificateExtension, certificateReader, extensionCritical, signatureAlgorithmOf } from '../../../src/core/x509.js';
import { createCA, createLeaf, daysFrom } from '../../helpers/pki.js';

// pki.js installs the Reflect metadata polyfill and the crypto provider @peculiar/x509 needs.
const x509 = await import('@peculiar/x509');

const NOW = new Date('2030-06-01T00:00:00Z');
const nb = daysFrom(NOW, -30);
const na = daysFrom(NOW, 60);
const ca = await createCA({ cn: 'DER Test CA', notBefore: nb, notAfter: na });
const leaf = await createLeaf({ dns: ['der.example', 'www.der.example'], issuer: ca, notBefore: nb, notAfter: na, aiaIssuerUrl: 'http://ca.test/der.der' });
const emptySubject = await createLeaf({ dns: ['empty.example'], emptySubject: true, issuer: ca, notBefore: nb, notAfter: na });

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');

function refused(fn: () => unknown, pattern: RegExp): ValidationError {
  let caught: unknown;
  assert.throws(fn, (err: unknown) => {
    caught = err;
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
  return caught as ValidationError;
}

describe('DerReader.read', () => {
  const der = (h: string, opts: Partial<DerOptions> = {}): DerReader => new DerReader(hex(h), { context: 'test DER', ...opts });

  test('short and long definite lengths: content bounds and the next element', () => {
    assert.deepEqual(der('0403 616263 05').read(0, 5), { tag: 4, start: 2, end: 5, next: 5 });
    const long = Buffer.concat([hex('04 82 0100'), Buffer.alloc(256)]);
    assert.deepEqual(new DerReader(long, { context: 'x' }).read(0, long.length), { tag: 4, start: 4, end: 260, next: 260 });
  });

  test('an indefinite length, where allowed, ends at the end-of-contents octets among the children', () => {
    const r = der('30 80 0401aa 3080 0000 0000 ff', { indefinite: true });
    assert.deepEqual(r.read(0, 12), { tag: 0x30, start: 2, end: 9, next: 11 });
  });

  const bad: Array<[string, string, Partial<DerOptions>, RegExp]> = [
    ['an empty input', '', {}, /^test DER: truncated header at offset 0$/],
    ['one byte', '30', {}, /truncated header at offset 0/],
    ['a multi-byte tag', '1f8101', {}, /multi-byte tag at offset 0/],
    ['a length of 5 bytes', '3085ffffffffff', {}, /length of 5 bytes at offset 0/],
    ['a length cut short', '308201', {}, /truncated length at offset 0/],
    ['a length past the end', '3003 0201', {}, /length 3 runs past the end at offset 0/],
    ['an indefinite length where DER is required', '30800000', {}, /indefinite \(BER\) length where DER is required at offset 0/],
    ['an indefinite length on a primitive', '04800000', { indefinite: true }, /indefinite length on a primitive element at offset 0/],
    ['an indefinite length without end-of-contents', '3080 0401aa', { indefinite: true }, /indefinite length without end-of-contents at offset 0/],
    ['nesting past the cap', '3080'.repeat(6) + '0000'.repeat(6), { indefinite: true, maxDepth: 4 }, /nested deeper than 4 levels at offset 10/],
    ['more elements than the cap', '3080' + '0500'.repeat(10) + '0000', { indefinite: true, maxElements: 5 }, /more than 5 elements at offset 10/],
  ];
  for (const [name, input, opts, pattern] of bad) {
    test(`refuses ${name}, naming the context and the offset`, () => {
      const buf = hex(input);
      refused(() => new DerReader(buf, { context: 'test DER', ...opts }).read(0, buf.length), pattern);
    });
  }

  test('a limit inside the buffer bounds the element (a child may not run past its parent)', () => {
    refused(() => der('3004 0403 616263').read(2, 6), /length 3 runs past the end at offset 2/);
  });

  test('errors carry the hint given', () => {
    const err = refused(() => der('', { hint: 'export it again' }).read(0, 0), /truncated header/);
    assert.equal(err.hint, 'export it again');
  });

  test('expect names what it wanted and what it found', () => {
    refused(() => der('0400').expect(0, 2, 0x30, 'the Thing SEQUENCE'), /^test DER: expected the Thing SEQUENCE \(tag 0x30\), found tag 0x4 at offset 0$/);
  });

  test('header does not check that the content fits (sniffing a truncated input)', () => {
    assert.deepEqual(der('3082ffff06').header(0, 5), { tag: 0x30, start: 4, length: 0xffff });
  });
});

describe('DerReader OIDs', () => {
  const oids = ['1.2.840.113549.1.1.11', '2.5.29.17', '0.9.2342.19200300.100.1.25', '1.3.6.1.4.1.11129.2.4.2', '2.999.3', '2.16.840.1.101.3.4.3.17', '1.2.4294967296.5'];
  for (const oid of oids) {
    test(`${oid}: decodes as written and matches by bytes`, () => {
      // Encode with the independent ASN.1 library to check both directions against it.
      const enc = Buffer.from(new x509.Extension(oid, false, new Uint8Array(0)).rawData).subarray(2); // SEQUENCE { OID, OCTET STRING }
      const r = new DerReader(enc, { context: 'oid' });
      const t = r.read(0, enc.length);
      assert.equal(r.oid(t), oid);
      assert.equal(r.isOid(t, oid), true);
      assert.equal(r.isOid(t, `${oid}.1`), false);
      assert.equal(r.isOid(t, '1.2.3'), false);
    });
  }

  test('isOid is false for another tag with the same content', () => {
    const r = new DerReader(hex('0403 551d11'), { context: 'oid' });
    assert.equal(r.isOid(r.read(0, 5), '2.5.29.17'), false);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an empty OID', '0600', /expected an OBJECT IDENTIFIER at offset 2/],
    ['another tag', '0403551d11', /expected an OBJECT IDENTIFIER/],
    ['an OID cut mid-arc', '0602 2a86', /OID ends mid-arc at offset 2/],
    ['an arc beyond 2^53', '060b 2a ffffffffffffffffff 7f', /OID arc too large at offset \d+/],
  ];
  for (const [name, input, pattern] of bad) {
    test(`refuses ${name}`, () => {
      const buf = hex(input);
      const r = new DerReader(buf, { context: 'oid' });
      refused(() => r.oid(r.read(0, buf.length)), pattern);
    });
  }
});

describe('certificateExtension', () => {
  test('agrees with @peculiar/x509 on every extension of real certificates: critical flag and extnValue', () => {
    for (const issued of [ca, leaf, emptySubject]) {
      const peculiar = new x509.X509Certificate(new Uint8Array(issued.der));
      assert.ok(peculiar.extensions.length >= 3);
      for (const ext of peculiar.extensions) {
        const r = certificateReader(issued.der);
        const found = certificateExtension(r, ext.type);
        assert.ok(found, `${ext.type} found`);
        assert.equal(found.critical, ext.critical, `${ext.type} critical`);
        assert.deepEqual(issued.der.subarray(found.value.start, found.value.end), Buffer.from(ext.value), `${ext.type} value`);
      }
    }
  });

  test('null for an extension the certificate does not have', () => {
    assert.equal(certificateExtension(certificateReader(leaf.der), '1.2.3.4'), null);
    assert.equal(extensionCritical(leaf.der, '1.2.3.4'), null);
  });
});

describe('certificate walkers on malformed DER', () => {
  // Built from a real leaf: each case breaks one element the walkers pass through.
  const tbsAt = leaf.der[1] === 0x82 ? 4 : 3;
  const withByte = (at: number, value: number): Buffer => { const b = Buffer.from(leaf.der); b[at] = value; return b; };
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /truncated header at offset 0/],
    ['not a SEQUENCE', hex('040100'), /expected the Certificate SEQUENCE \(tag 0x30\), found tag 0x4 at offset 0/],
    ['a TBS that is not a SEQUENCE', withByte(tbsAt, 0x04), new RegExp(`expected the TBSCertificate SEQUENCE .* at offset ${tbsAt}`)],
    ['an indefinite (BER) length', hex('30800000'), /indefinite \(BER\) length where DER is required at offset 0/],
    ['truncated', leaf.der.subarray(0, leaf.der.length - 80), /runs past the end at offset 0/],
  ];
  const walkers: Array<[string, (der: Buffer) => unknown]> = [
    ['signatureAlgorithmOf', signatureAlgorithmOf],
    ['extensionCritical', (der) => extensionCritical(der)],
    ['ariCertId', ariCertId],
  ];
  for (const [name, der, pattern] of cases) {
    for (const [walker, fn] of walkers) {
      test(`${walker}: ${name} is refused as "certificate DER: … at offset n"`, () => {
        refused(() => fn(der), /^certificate DER: /);
        refused(() => fn(der), pattern);
      });
    }
  }

  test('an OID cut mid-arc in the signature algorithm names its offset', () => {
    refused(() => signatureAlgorithmOf(hex('3007 3000 3003 060186')), /^certificate DER: OID ends mid-arc at offset 8$/);
  });

  test('random corruptions either parse or are refused with a ValidationError, never anything else', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    let refusedCount = 0;
    for (let i = 0; i < 2000; i++) {
      const bad = Buffer.from(leaf.der);
      for (let k = 0; k < 1 + (i % 3); k++) bad[rand() % bad.length] = rand() & 0xff;
      for (const [walker, fn] of walkers) {
        try {
          fn(bad);
        } catch (err) {
          refusedCount++;
          assert.ok(err instanceof ValidationError, `iteration ${i}, ${walker}: ${String(err)}`);
        }
      }
    }
    assert.ok(refusedCount > 100, `some corruptions must be refused (${refusedCount})`);
  });
});
