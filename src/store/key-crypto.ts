/**
 * Private keys at rest in a shared store (issue 15): AES-256-GCM under a key-encryption key
 * (KEK) that lives outside the database (`store.keyEncryptionKey`, from the environment or a
 * file; `CERTS_KEY_ENCRYPTION_KEY` for `certs store migrate`).
 *
 * A sealed key records the format version and the ID of the KEK that sealed it, so a store can
 * hold keys under an old and a new KEK while `certs store rotate-key` re-seals them, and a wrong
 * KEK is named as such rather than reported as corruption. The additional authenticated data
 * binds a ciphertext to the row it belongs to (lineage and version): a sealed key copied onto
 * another certificate's row does not open.
 *
 * Layout (bytes): version (1) | KEK ID (8) | IV (12) | GCM tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import { StoreError } from '../core/errors.js';
import type { Kek } from '../lib/kek.js';

const FORMAT = 1;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

export { parseKek, type Kek } from '../lib/kek.js';

/** What a sealed key belongs to: bound into the ciphertext (GCM additional data). */
export interface SealedFor {
  lineage: string;
  version: number;
}

function aad(to: SealedFor): Buffer {
  return Buffer.from(`certs private key\u0000${to.lineage}\u0000${to.version}`, 'utf8');
}

/** Seals a private key (PEM) for one issued version. */
export function sealKey(kek: Kek, keyPem: string, to: SealedFor): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv);
  cipher.setAAD(aad(to));
  const ciphertext = Buffer.concat([cipher.update(keyPem, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), Buffer.from(kek.id, 'hex'), iv, cipher.getAuthTag(), ciphertext]);
}

/** The ID of the KEK that sealed `sealed` (for rotation: which keys still need re-sealing). */
export function sealedWith(sealed: Buffer): string {
  if (sealed.length < HEADER || sealed[0] !== FORMAT) throw notSealed(sealed);
  return sealed.subarray(1, 1 + KEY_ID_BYTES).toString('hex');
}

/**
 * Opens a sealed key with the first of `keks` that sealed it. A key sealed under none of them,
 * a damaged ciphertext, or one sealed for another row, is a StoreError that says which; no
 * part of the key is returned then.
 */
export function openKey(keks: readonly Kek[], sealed: Buffer, to: SealedFor): string {
  const id = sealedWith(sealed);
  const idBytes = Buffer.from(id, 'hex');
  const kek = keks.find((k) => timingSafeEqual(Buffer.from(k.id, 'hex'), idBytes));
  const what = `the private key of ${to.lineage} version ${to.version}`;
  if (!kek) {
    throw new StoreError('invalid-argument', `${what} was sealed with key-encryption key ${id}, but the configured key is ${keks.map((k) => k.id).join(', ') || 'none'}`, {
      hint: 'set store.keyEncryptionKey to the key the store was written with (certs store rotate-key moves keys to a new one)',
    });
  }
  const iv = sealed.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
  const tag = sealed.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER);
  const decipher = createDecipheriv('aes-256-gcm', kek.key, iv);
  decipher.setAAD(aad(to));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(HEADER)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new StoreError('corrupt', `${what} does not decrypt under key-encryption key ${id}: the stored ciphertext is damaged or belongs to another certificate`, { cause: err });
  }
}

function notSealed(sealed: Buffer): StoreError {
  return new StoreError('corrupt', `a stored private key is not in a format this certs reads (${sealed.length} bytes, format byte ${sealed[0] ?? 'none'})`);
}
