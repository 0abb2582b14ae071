/**
 * The key-encryption key of a shared store (issue 15; store/key-crypto.ts seals with it). Here,
 * not in store/, because config checks store.keyEncryptionKey at load time.
 */
import { createHash } from 'node:crypto';
import { StoreError } from '../core/errors.js';

const KEY_ID_BYTES = 8;

/** A key-encryption key and its ID (the first 8 bytes of its SHA-256, shown in hex). */
export interface Kek {
  readonly id: string;
  /** 32 bytes. Never logged: `toString`/`toJSON` of a Kek show the ID only. */
  readonly key: Buffer;
}

/**
 * The KEK from its configured text: 32 bytes in base64 (standard or URL-safe, padding optional;
 * surrounding whitespace, e.g. a file's final newline, is ignored). `from` names where it came
 * from in the error (never the value).
 */
export function parseKek(text: string, from: string): Kek {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new StoreError('invalid-argument', `${from}: the key-encryption key must be 32 bytes in base64 (e.g. from \`openssl rand -base64 32\`); it holds characters base64 does not use`);
  }
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) {
    throw new StoreError('invalid-argument', `${from}: the key-encryption key must be 32 bytes in base64 (e.g. from \`openssl rand -base64 32\`); it decodes to ${key.length} bytes`);
  }
  return kekOf(key);
}

function kekOf(key: Buffer): Kek {
  const id = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES).toString('hex');
  return Object.freeze({
    id,
    key,
    toString: () => `key-encryption key ${id}`,
    toJSON: () => ({ id }),
  });
}

