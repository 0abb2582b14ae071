/** store/key-crypto.ts: private keys sealed under a key-encryption key (issue 15). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { StoreError } from '../../../src/core/errors.js';
import { openKey, parseKek, sealedWith, sealKey } from '../../../src/store/key-crypto.js';

const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const b64 = (b: Buffer) => b.toString('base64');
const A = parseKek(b64(randomBytes(32)), 'A');
const B = parseKek(b64(randomBytes(32)), 'B');
const ROW = { lineage: 'example.com', version: 3 };

function thrown(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StoreError, String(err));
    return err;
  }
  assert.fail('expected a StoreError');
}

describe('sealed private keys', () => {
  it('open to the same PEM, under a fresh IV each time, naming the key that sealed them', () => {
    const one = sealKey(A, keyPem, ROW);
    const two = sealKey(A, keyPem, ROW);
    assert.notDeepEqual(one, two);
    assert.equal(openKey([A], one, ROW), keyPem);
    assert.equal(sealedWith(one), A.id);
    assert.ok(!one.includes(Buffer.from(keyPem.split('\n')[1]!)), 'no plaintext in the ciphertext');
  });

  it('under another key: an error naming both key IDs and how to fix it, never a key', () => {
    const err = thrown(() => openKey([B], sealKey(A, keyPem, ROW), ROW));
    assert.equal(err.code, 'invalid-argument');
    assert.match(err.message, new RegExp(`sealed with key-encryption key ${A.id}, but the configured key is ${B.id}`));
    assert.match(err.hint ?? '', /rotate-key/);
    assert.ok(!err.message.includes(b64(A.key)) && !err.message.includes(b64(B.key)));
  });

  it('during a rotation both keys open what each sealed', () => {
    assert.equal(openKey([B, A], sealKey(A, keyPem, ROW), ROW), keyPem);
    assert.equal(openKey([B, A], sealKey(B, keyPem, ROW), ROW), keyPem);
  });

  it('a damaged byte anywhere after the header, or a key copied onto another row, does not open', () => {
    const sealed = sealKey(A, keyPem, ROW);
    for (const at of [9, 9 + 11, 21, 21 + 15, 37, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      assert.equal(thrown(() => openKey([A], bad, ROW)).code, 'corrupt', `byte ${at}`);
    }
    assert.equal(thrown(() => openKey([A], sealed, { lineage: 'other.example', version: 3 })).code, 'corrupt');
    assert.equal(thrown(() => openKey([A], sealed, { lineage: 'example.com', version: 4 })).code, 'corrupt');
    assert.equal(thrown(() => openKey([A], sealed.subarray(0, 20), ROW)).code, 'corrupt');
    assert.equal(thrown(() => openKey([A], Buffer.concat([Buffer.from([2]), sealed.subarray(1)]), ROW)).code, 'corrupt');
  });
});

describe('parseKek', () => {
  it('takes 32 bytes of base64, standard or URL-safe, padded or not, with surrounding whitespace', () => {
    const raw = randomBytes(32);
    const id = parseKek(b64(raw), 'x').id;
    assert.equal(parseKek(`  ${b64(raw)}\n`, 'x').id, id);
    assert.equal(parseKek(raw.toString('base64url'), 'x').id, id);
    assert.match(id, /^[0-9a-f]{16}$/);
  });

  it('refuses other lengths and characters, naming where the key came from but never the text', () => {
    for (const text of [b64(randomBytes(16)), b64(randomBytes(33)), 'not base64 at all!', '']) {
      const err = thrown(() => parseKek(text, 'store.keyEncryptionKey (${file:/etc/certs/kek})'));
      assert.match(err.message, /^store\.keyEncryptionKey \(\$\{file:\/etc\/certs\/kek\}\): the key-encryption key must be 32 bytes in base64/);
      if (text.length > 8) assert.ok(!err.message.includes(text), 'the value is not echoed');
    }
  });

  it('shows its ID only, as a string and as JSON', () => {
    assert.equal(String(A), `key-encryption key ${A.id}`);
    assert.equal(JSON.stringify({ kek: A }), JSON.stringify({ kek: { id: A.id } }));
  });
});
