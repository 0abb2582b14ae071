import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, webcrypto } from 'node:crypto';
import { ValidationError } from '../../../src/core/errors.js';
import {
  ARI_RETRY_DEFAULT_MS, ariCertId, ariRenewalTime, ariRetryAt, parseRenewalInfo, parseRetryAfter, parseRfc3339,
} from '../../../src/core/ari.js';
import { createCA, createLeaf, daysFrom } from '../../helpers/pki.js';

// pki.js installs the Reflect metadata polyfill and the crypto provider @peculiar/x509 needs.
const x509 = await import('@peculiar/x509');

const NOW = new Date('2030-06-01T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

/** A certificate with an exact AKI keyIdentifier (hex) and serial (hex, as DER should encode it). */
async function certWith(opts: { aki?: string | 'issuer-only'; serial: string }): Promise<Buffer> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const extensions: InstanceType<typeof x509.Extension>[] = [];
  if (opts.aki === 'issuer-only') {
    // AuthorityKeyIdentifier ::= SEQUENCE { authorityCertSerialNumber [2] 01 }, no keyIdentifier
    extensions.push(new x509.Extension('2.5.29.35', false, new Uint8Array([0x30, 0x03, 0x82, 0x01, 0x01])));
  } else if (opts.aki) {
    extensions.push(new x509.AuthorityKeyIdentifierExtension(opts.aki));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serial,
    subject: 'CN=example.com',
    issuer: 'CN=Example CA',
    notBefore: daysFrom(NOW, -1),
    notAfter: daysFrom(NOW, 89),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  return Buffer.from(cert.rawData);
}

// RFC 9773 §4.1 / Appendix A: AKI 69:88:5B:…:D4 and serial 00:87:65:43:21.
const RFC_AKI = '69885b6b87464041e1b37b847ba0ae2cde01c8d4';
const RFC_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

/** The RFC's own example certificate (validity in year 1, signature by an example key). */
const RFC_EXAMPLE_PEM = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
`;

describe('ariCertId', () => {
  it('gives the RFC 9773 example ID for a certificate with its AKI and serial', async () => {
    const der = await certWith({ aki: RFC_AKI, serial: '0087654321' });
    assert.ok(der.includes(Buffer.from('02050087654321', 'hex')), 'serial is DER-encoded with its leading 0x00');
    assert.equal(ariCertId(der), RFC_ID);
    assert.equal(ariCertId(new X509Certificate(der)), RFC_ID);
  });

  it('gives the RFC 9773 example ID for the RFC\'s own example certificate', () => {
    assert.equal(ariCertId(new X509Certificate(RFC_EXAMPLE_PEM)), RFC_ID);
  });

  it('uses the issuer\'s key identifier and the serial bytes of a normally issued leaf', async () => {
    const ca = await createCA({ cn: 'ARI Test CA', notBefore: daysFrom(NOW, -10), notAfter: daysFrom(NOW, 100) });
    const leaf = await createLeaf({ dns: ['a.example'], issuer: ca, serialNumber: '7f0102', notBefore: NOW, notAfter: daysFrom(NOW, 90) });
    const ski = new x509.X509Certificate(new Uint8Array(ca.der)).getExtension(x509.SubjectKeyIdentifierExtension);
    assert.ok(ski);
    assert.equal(ariCertId(leaf.der), `${Buffer.from(ski.keyId, 'hex').toString('base64url')}.fwEC`);
  });

  const bad: Array<{ name: string; make: () => Promise<Buffer>; match: RegExp }> = [
    { name: 'no AKI extension', make: () => certWith({ serial: '01' }), match: /serial 01 has no Authority Key Identifier extension, so it has no ARI certificate ID/ },
    { name: 'AKI without keyIdentifier', make: () => certWith({ aki: 'issuer-only', serial: '02' }), match: /without a keyIdentifier/ },
    { name: 'not a certificate', make: async () => Buffer.from('300302010a', 'hex'), match: /certificate DER: expected the TBSCertificate SEQUENCE/ },
    { name: 'truncated DER', make: async () => (await certWith({ aki: RFC_AKI, serial: '01' })).subarray(0, 40), match: /certificate DER: .*runs past the end/ },
  ];
  for (const c of bad) {
    it(`refuses a certificate with ${c.name}`, async () => {
      const der = await c.make();
      assert.throws(() => ariCertId(der), (err: unknown) => err instanceof ValidationError && c.match.test(err.message));
    });
  }
});

describe('parseRetryAfter', () => {
  const cases: Array<{ name: string; header: string | undefined; want: string | undefined }> = [
    { name: 'delta-seconds', header: '3600', want: '2030-06-01T01:00:00.000Z' },
    { name: 'delta-seconds with spaces', header: ' 120 ', want: '2030-06-01T00:02:00.000Z' },
    { name: 'IMF-fixdate', header: 'Sat, 01 Jun 2030 03:30:00 GMT', want: '2030-06-01T03:30:00.000Z' },
    { name: 'RFC 850 date', header: 'Saturday, 01-Jun-30 03:30:00 GMT', want: '2030-06-01T03:30:00.000Z' },
    { name: 'RFC 850 date, two-digit year > 50 years ahead', header: 'Sunday, 06-Nov-94 08:49:37 GMT', want: '1994-11-06T08:49:37.000Z' },
    { name: 'asctime date', header: 'Sat Jun  1 03:30:00 2030', want: '2030-06-01T03:30:00.000Z' },
    { name: 'missing', header: undefined, want: undefined },
    { name: 'empty', header: '', want: undefined },
    { name: 'negative', header: '-5', want: undefined },
    { name: 'fractional', header: '1.5', want: undefined },
    { name: 'garbage', header: 'soon', want: undefined },
    { name: 'a date Date.parse would take', header: 'hello 2020', want: undefined },
    { name: 'an impossible date', header: 'Sat, 31 Jun 2030 03:30:00 GMT', want: undefined },
    { name: 'an ISO date (not an HTTP-date)', header: '2030-06-01T03:30:00Z', want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(parseRetryAfter(c.header, NOW)?.toISOString(), c.want));
  }
});

describe('parseRfc3339', () => {
  const cases: Array<[string, string | undefined]> = [
    ['2030-06-01T04:00:00Z', '2030-06-01T04:00:00.000Z'],
    ['2030-06-01t04:00:00z', '2030-06-01T04:00:00.000Z'],
    ['2030-06-01T04:00:00.123456789Z', '2030-06-01T04:00:00.123Z'],
    ['2030-06-01T04:00:00+02:00', '2030-06-01T02:00:00.000Z'],
    ['2030-06-01T04:00:00-05:30', '2030-06-01T09:30:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2030-02-29T00:00:00Z', undefined],
    ['2030-06-01T24:00:00Z', undefined],
    ['2030-06-01T04:00:00', undefined],
    ['2030-06-01 04:00:00Z', undefined],
    ['2030-06-01', undefined],
    ['next tuesday', undefined],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} → ${want ?? 'rejected'}`, () => assert.equal(parseRfc3339(text)?.toISOString(), want));
  }
});

describe('parseRenewalInfo', () => {
  const body = (start: unknown, end: unknown, extra: Record<string, unknown> = {}): unknown => ({ suggestedWindow: { start, end }, ...extra });
  const good = body('2030-07-01T00:00:00Z', '2030-07-03T00:00:00Z');

  it('reads the window and the explanation URL', () => {
    const info = parseRenewalInfo(body('2030-07-01T00:00:00Z', '2030-07-03T00:00:00Z', { explanationURL: 'https://ca.example/ari' }), '21600', NOW);
    assert.deepEqual(info, {
      start: new Date('2030-07-01T00:00:00Z'),
      end: new Date('2030-07-03T00:00:00Z'),
      explanationURL: 'https://ca.example/ari',
      retryAfter: new Date('2030-06-01T06:00:00Z'),
    });
  });

  const retry: Array<{ name: string; header: string | undefined; wait: number }> = [
    { name: 'seconds', header: '7200', wait: 2 * HOUR },
    { name: 'an HTTP-date', header: 'Sat, 01 Jun 2030 03:00:00 GMT', wait: 3 * HOUR },
    { name: 'missing: 6 hours', header: undefined, wait: ARI_RETRY_DEFAULT_MS },
    { name: 'garbage: 6 hours', header: 'tomorrow-ish', wait: 6 * HOUR },
    { name: 'negative: 6 hours (not valid delta-seconds)', header: '-30', wait: 6 * HOUR },
    { name: 'zero: raised to 1 minute', header: '0', wait: MIN },
    { name: '10 seconds: raised to 1 minute', header: '10', wait: MIN },
    { name: 'an HTTP-date in the past: raised to 1 minute', header: 'Fri, 31 May 2030 00:00:00 GMT', wait: MIN },
    { name: '3 days: lowered to 1 day', header: String(3 * 86_400), wait: 24 * HOUR },
    { name: 'absurdly large: lowered to 1 day', header: '99999999999999999999999', wait: 24 * HOUR },
  ];
  for (const c of retry) {
    it(`Retry-After ${c.name}`, () => {
      assert.equal(parseRenewalInfo(good, c.header, NOW).retryAfter.getTime() - NOW.getTime(), c.wait);
      assert.equal(ariRetryAt(c.header, NOW).getTime() - NOW.getTime(), c.wait);
    });
  }

  const bad: Array<{ name: string; body: unknown; match: RegExp }> = [
    { name: 'null', body: null, match: /expected a JSON object, got null/ },
    { name: 'an array', body: [good], match: /expected a JSON object, got an array/ },
    { name: 'a string', body: '{"suggestedWindow":{}}', match: /expected a JSON object, got the string/ },
    { name: 'no window', body: {}, match: /suggestedWindow must be an object with start and end, got nothing/ },
    { name: 'no start', body: { suggestedWindow: { end: '2030-07-03T00:00:00Z' } }, match: /suggestedWindow\.start must be an RFC 3339 timestamp string, got nothing/ },
    { name: 'numeric end', body: body('2030-07-01T00:00:00Z', 1893456000), match: /suggestedWindow\.end must be an RFC 3339 timestamp string, got a number/ },
    { name: 'unparsable start', body: body('July 1st', '2030-07-03T00:00:00Z'), match: /suggestedWindow\.start "July 1st" is not an RFC 3339 timestamp/ },
    { name: 'impossible date', body: body('2030-02-30T00:00:00Z', '2030-07-03T00:00:00Z'), match: /suggestedWindow\.start "2030-02-30T00:00:00Z" is not/ },
    { name: 'end before start', body: body('2030-07-03T00:00:00Z', '2030-07-01T00:00:00Z'), match: /suggestedWindow\.end 2030-07-01T00:00:00\.000Z is not after suggestedWindow\.start 2030-07-03T00:00:00\.000Z/ },
    { name: 'end equal to start', body: body('2030-07-01T00:00:00Z', '2030-07-01T02:00:00+02:00'), match: /is not after/ },
    { name: 'explanationURL not a string', body: body('2030-07-01T00:00:00Z', '2030-07-03T00:00:00Z', { explanationURL: 42 }), match: /explanationURL must be an http\(s\) URL, got a number/ },
    { name: 'explanationURL not a URL', body: body('2030-07-01T00:00:00Z', '2030-07-03T00:00:00Z', { explanationURL: 'see docs' }), match: /explanationURL must be an http\(s\) URL, got the string "see docs"/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => {
      assert.throws(() => parseRenewalInfo(c.body, '60', NOW), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.match(err.message, /^renewalInfo response: /);
        assert.match(err.message, c.match);
        return true;
      });
    });
  }
});

describe('ariRenewalTime', () => {
  const at = (iso: string): Date => new Date(iso);
  const cases: Array<{ name: string; start: string; end: string; random: number; want: string }> = [
    { name: 'future window, random 0: the start', start: '2030-07-01T00:00:00Z', end: '2030-07-03T00:00:00Z', random: 0, want: '2030-07-01T00:00:00.000Z' },
    { name: 'future window, random 0.5: the middle', start: '2030-07-01T00:00:00Z', end: '2030-07-03T00:00:00Z', random: 0.5, want: '2030-07-02T00:00:00.000Z' },
    { name: 'future window, random just under 1: just before the end', start: '2030-07-01T00:00:00Z', end: '2030-07-03T00:00:00Z', random: 0.9999999999, want: '2030-07-02T23:59:59.999Z' },
    { name: 'open window, pick after now', start: '2030-05-31T00:00:00Z', end: '2030-06-02T00:00:00Z', random: 0.75, want: '2030-06-01T12:00:00.000Z' },
    { name: 'open window, pick before now: now', start: '2030-05-31T00:00:00Z', end: '2030-06-02T00:00:00Z', random: 0.25, want: '2030-06-01T00:00:00.000Z' },
    { name: 'past window: now', start: '2030-05-01T00:00:00Z', end: '2030-05-03T00:00:00Z', random: 0.9, want: '2030-06-01T00:00:00.000Z' },
    { name: 'random out of range is clamped', start: '2030-07-01T00:00:00Z', end: '2030-07-03T00:00:00Z', random: 7, want: '2030-07-03T00:00:00.000Z' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(ariRenewalTime({ start: at(c.start), end: at(c.end) }, NOW, () => c.random).toISOString(), c.want);
    });
  }

  it('stays inside the window for many random values', () => {
    const window = { start: at('2030-07-01T00:00:00Z'), end: at('2030-07-03T00:00:00Z') };
    let seed = 42;
    const lcg = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 1000; i++) {
      const t = ariRenewalTime(window, NOW, lcg);
      assert.ok(t >= window.start && t < window.end, t.toISOString());
    }
  });
});
