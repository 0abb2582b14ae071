// The check before `current` may move (issue #10 §2): every certificate of the chain signed the
// one below it, the fullchain starts with the leaf, chain.pem is the rest, the key is the leaf's.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CertsError } from '../../../src/core/errors.js';
import { assertCertificateSet } from '../../../src/store/cert-check.js';
import { createCA, createLeaf, pemBundle, type Issued } from '../../helpers/pki.js';

const refused = (code: string, re: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof CertsError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, re);
  return true;
};

describe('assertCertificateSet', () => {
  let root: Issued;
  let inter: Issued;
  let leaf: Issued;
  let impostor: Issued;
  let other: Issued;
  let emptySubject: Issued;
  before(async () => {
    root = await createCA({ cn: 'Check Root' });
    inter = await createCA({ cn: 'Check Intermediate', issuer: root });
    leaf = await createLeaf({ dns: ['c.test'], issuer: inter });
    // The same name as the intermediate, another key: names match, the signature does not.
    impostor = await createCA({ cn: 'Check Intermediate', issuer: await createCA({ cn: 'Other Root' }) });
    other = await createLeaf({ dns: ['c.test'], issuer: inter });
    emptySubject = await createLeaf({ dns: ['e.test'], issuer: inter, emptySubject: true });
  });
  const set = (l: Issued, chain: Issued[], key = l.keyPem) => ({ cert: l.pem, chain: pemBundle(...chain), fullchain: pemBundle(l, ...chain), privkey: key });

  it('accepts leaf + intermediate (+ root) with the leaf\'s key, an empty-subject leaf too', () => {
    assertCertificateSet(set(leaf, [inter]), 'v1');
    assertCertificateSet(set(leaf, [inter, root]), 'v1');
    assertCertificateSet(set(leaf, []), 'v1');
    assertCertificateSet(set(emptySubject, [inter]), 'v1');
  });

  it('refuses an intermediate with the right name but another key', () => {
    assert.throws(() => assertCertificateSet(set(leaf, [impostor]), 'domain "c.test": version 2'),
      refused('chain-invalid', /^domain "c\.test": version 2: certificate 2 of the chain \("Check Intermediate" \(SHA-256 [0-9A-F:]+…\)\) did not sign certificate 1 \("c\.test" \(SHA-256 [0-9A-F:]+…\)\)/));
  });

  it('refuses a chain whose second link is broken (root does not sign the impostor)', () => {
    assert.throws(() => assertCertificateSet(set(leaf, [inter, impostor]), 'v'), refused('chain-invalid', /certificate 3 of the chain .* did not sign certificate 2/));
  });

  it('refuses a fullchain that does not start with cert.pem, and a chain.pem that is not the rest', () => {
    assert.throws(() => assertCertificateSet({ ...set(leaf, [inter]), cert: other.pem }, 'v'), refused('chain-invalid', /fullchain\.pem starts with "c\.test" \(SHA-256 [0-9A-F:]+…\), not with the leaf in cert\.pem \("c\.test" \(SHA-256/));
    assert.throws(() => assertCertificateSet({ ...set(leaf, [inter]), chain: root.pem }, 'v'), refused('chain-invalid', /chain\.pem .* is not fullchain\.pem without its leaf/));
  });

  it('refuses another certificate\'s key, and a key file that is no key, naming an empty subject by its SAN', () => {
    assert.throws(() => assertCertificateSet(set(leaf, [inter], other.keyPem), 'v'), refused('key-mismatch', /privkey\.pem is not the key of the certificate "c\.test"/));
    assert.throws(() => assertCertificateSet(set(emptySubject, [inter], other.keyPem), 'v'), refused('key-mismatch', /\(empty subject\) e\.test/));
    assert.throws(() => assertCertificateSet(set(leaf, [inter], 'not a key'), 'v'), refused('key-mismatch', /cannot be read as a private key/));
    assert.throws(() => assertCertificateSet({ ...set(leaf, [inter]), fullchain: '' }, 'v'), refused('chain-invalid', /fullchain\.pem holds no certificate/));
  });
});
