/** Private keys for accounts and certificates (node:crypto; PEM PKCS#8). */
import { createPrivateKey, generateKeyPair } from 'node:crypto';
import type { AcmeKeyType } from '../config/types.js';

const PEM = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;

/** Generated off the main thread (libuv pool): an RSA 4096 key takes seconds. */
export function generateKey(type: AcmeKeyType): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: string, priv: string): void => (err ? reject(err) : resolve(priv));
    switch (type) {
      case 'ecdsa-p256': return generateKeyPair('ec', { namedCurve: 'P-256', ...PEM }, done);
      case 'ecdsa-p384': return generateKeyPair('ec', { namedCurve: 'P-384', ...PEM }, done);
      case 'rsa2048': return generateKeyPair('rsa', { modulusLength: 2048, ...PEM }, done);
      case 'rsa3072': return generateKeyPair('rsa', { modulusLength: 3072, ...PEM }, done);
      case 'rsa4096': return generateKeyPair('rsa', { modulusLength: 4096, ...PEM }, done);
    }
  });
}

/** The key type of a PEM private key in our vocabulary, or null when it is none of ours. */
export function keyTypeOf(pem: string): AcmeKeyType | null {
  const key = createPrivateKey(pem);
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return d.namedCurve === 'prime256v1' ? 'ecdsa-p256' : d.namedCurve === 'secp384r1' ? 'ecdsa-p384' : null;
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength;
    return bits === 2048 ? 'rsa2048' : bits === 3072 ? 'rsa3072' : bits === 4096 ? 'rsa4096' : null;
  }
  return null;
}
