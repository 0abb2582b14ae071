import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TrustAnchors } from '../../../src/core/trust-anchors.js';
import { ValidationError } from '../../../src/core/errors.js';
import { createCA, createLeaf, daysFrom, pemBundle } from '../../helpers/pki.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const nb = daysFrom(NOW, -365);
const na = daysFrom(NOW, 3650);

const root = await createCA({ cn: 'Anchor Root', notBefore: nb, notAfter: na });
const other = await createCA({ cn: 'Other Root', notBefore: nb, notAfter: na });
// Same subject and key as `root`, signed by `other`: a cross-sign (Let's Encrypt's ISRG Root X1 by DST).
const rootCross = await createCA({ cn: 'Anchor Root', key: root.key, issuer: other, notBefore: nb, notAfter: daysFrom(NOW, -1) });
// Same subject, different key: an impostor.
const rootImpostor = await createCA({ cn: 'Anchor Root', notBefore: nb, notAfter: na });
const inter = await createCA({ cn: 'Anchor Int', issuer: root, notBefore: nb, notAfter: na });
const leaf = await createLeaf({ dns: ['a.test'], issuer: inter, notBefore: nb, notAfter: na });

describe('TrustAnchors', () => {
  const store = new TrustAnchors([root.cert, root.cert, inter.cert]);

  test('deduplicates by fingerprint', () => {
    assert.equal(store.size, 2);
    assert.equal(store.all().length, 2);
    assert.equal(store.bySubject(root.cert.subject).length, 1);
    assert.ok(store.has(root.cert.fingerprint256));
  });

  const anchorCases: Array<[string, () => boolean, boolean]> = [
    ['the anchor itself', () => store.isAnchor(root.cert), true],
    ['a cross-signed copy (same subject and key)', () => store.isAnchor(rootCross.cert), true],
    ['same subject, other key', () => store.isAnchor(rootImpostor.cert), false],
    ['an unrelated root', () => store.isAnchor(other.cert), false],
    ['a leaf', () => store.isAnchor(leaf.cert), false],
  ];
  for (const [name, fn, expected] of anchorCases) test(`isAnchor: ${name}`, () => assert.equal(fn(), expected));

  test('issuersOf finds the verifying issuer only', () => {
    assert.deepEqual(store.issuersOf(inter.cert).map((c) => c.fingerprint256), [root.cert.fingerprint256]);
    assert.deepEqual(store.issuersOf(leaf.cert).map((c) => c.fingerprint256), [inter.cert.fingerprint256]);
    assert.deepEqual(store.issuersOf(other.cert), []);
    // The impostor has the right name but its key did not sign `inter`.
    assert.deepEqual(new TrustAnchors([rootImpostor.cert]).issuersOf(inter.cert), []);
  });

  test('fromPem reads a bundle and names the file on errors', () => {
    assert.equal(TrustAnchors.fromPem(pemBundle(root, other, root), 'roots.pem').size, 2);
    assert.throws(() => TrustAnchors.fromPem('nothing here', 'roots.pem'), (err: unknown) => err instanceof ValidationError && /roots\.pem/.test(err.message));
  });
});
