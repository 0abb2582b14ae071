/**
 * Certificate files on disk (what nginx is configured with): a PEM bundle, leaf first, and
 * optionally its private key. Errors name the file and what was expected; they never quote the
 * contents of either file, since a misplaced key could end up in a log that way.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { IoError, ValidationError, errorMessage } from '../core/errors.js';
import { parsePemBundle, toX509 } from '../core/x509.js';

export interface CertFiles {
  cert: string;
  key?: string;
}

export interface CertFilesResult {
  /** The certificates of the bundle in file order (leaf first, as nginx expects). */
  chain: X509Certificate[];
  /** Whether the key belongs to the leaf; null when no key file was given. */
  keyMatches: boolean | null;
}

/**
 * PEM files are small; anything beyond this is the wrong file (a log, a disk image, /dev/zero)
 * and reading it whole would only waste memory.
 */
export const MAX_PEM_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Reads a text file that should hold PEM, with errors that say which file and why. `what` is the
 * role of the file in messages, e.g. 'certificate file' or 'CA file'.
 */
export function readPemText(path: string, what: string): string {
  const label = `${what} "${path}"`;
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new IoError('not-a-file', `${label}: is a directory, expected a PEM file`);
    if (!st.isFile()) throw new IoError('not-a-file', `${label}: is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof IoError) throw err;
    throw ioError(label, err);
  }
  if (size > MAX_PEM_FILE_BYTES) {
    throw new IoError('too-large', `${label}: ${size} bytes is far too large for a PEM file (limit ${MAX_PEM_FILE_BYTES / (1024 * 1024)} MiB)`);
  }
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw ioError(label, err);
  }
  if (buf.toString('latin1').trim().length === 0) {
    throw new ValidationError(`${label}: the file is empty, expected PEM ("-----BEGIN ...-----" blocks)`);
  }
  // A DER certificate or key starts with a SEQUENCE tag and is not text at all.
  if (buf[0] === 0x30 && buf.includes(0)) {
    throw new ValidationError(`${label}: looks like binary DER, expected PEM`, {
      hint: `convert it: openssl x509 -inform der -in ${path} -out ${path}.pem (for a key: openssl pkey -inform der ...)`,
    });
  }
  return buf.toString('utf8');
}

function ioError(label: string, err: unknown): IoError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return new IoError('not-found', `${label}: no such file`, { cause: err });
    case 'EACCES':
    case 'EPERM': return new IoError('unreadable', `${label}: permission denied (${code})`, { cause: err });
    case 'ENOTDIR': return new IoError('not-found', `${label}: a component of the path is not a directory`, { cause: err });
    case 'EISDIR': return new IoError('not-a-file', `${label}: is a directory, expected a PEM file`, { cause: err });
    default: return new IoError('unreadable', `${label}: cannot be read (${code ?? errorMessage(err)})`, { cause: err });
  }
}

/** Every CERTIFICATE block of a PEM file as X509Certificate, in file order. */
export function readCertificateBundle(path: string, what = 'certificate file'): X509Certificate[] {
  const { label, ders } = readCertificateDers(path, what);
  return ders.map((der, i) => toX509(der, `${label} certificate ${i + 1}`));
}

/**
 * Every CERTIFICATE block of a PEM file as DER, in file order, unparsed (the trust store skips
 * the system bundle's copies of Node's roots before paying for X.509 parsing); `label` names the
 * file as readCertificateBundle's errors do, for the caller's toX509.
 */
export function readCertificateDers(path: string, what = 'certificate file'): { label: string; ders: Buffer[] } {
  const label = `${what} "${path}"`;
  const text = readPemText(path, what);
  let ders: Buffer[];
  try {
    ders = parsePemBundle(text, label);
  } catch (err) {
    if (err instanceof ValidationError && /PRIVATE KEY-----/.test(text) && !text.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ValidationError(`${label}: holds a private key, not a certificate`, {
        hint: 'the certificate and key paths may be swapped',
      });
    }
    throw err;
  }
  return { label, ders };
}

const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED |OPENSSH )?PRIVATE KEY)-----([\s\S]*?)(?:-----END \1-----|$)/;

/** A private key from a PEM file (PKCS#8, PKCS#1 or SEC1). Never puts key bytes in an error. */
export function readPrivateKey(path: string): KeyObject {
  const label = `key file "${path}"`;
  const text = readPemText(path, 'key file');
  const match = KEY_BLOCK.exec(text);
  if (!match) {
    const found = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
    throw new ValidationError(
      found ? `${label}: no private key found (the file holds a ${found} block)` : `${label}: no PEM private key found`,
      { hint: 'expected a "-----BEGIN PRIVATE KEY-----", "RSA PRIVATE KEY" or "EC PRIVATE KEY" block' },
    );
  }
  const [block, kind = '', body = ''] = match;
  if (!block.includes('-----END ')) {
    throw new ValidationError(`${label}: the ${kind} block is truncated (no END line)`, {
      hint: 'the file was probably cut short while copying',
    });
  }
  if (kind === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,\s*ENCRYPTED/m.test(body)) {
    throw new ValidationError(`${label}: the private key is encrypted with a passphrase`, {
      hint: `nginx needs it unencrypted too (or ssl_password_file); decrypt a copy with: openssl pkey -in ${path} -out ${path}.plain`,
    });
  }
  if (kind === 'OPENSSH PRIVATE KEY') {
    throw new ValidationError(`${label}: is an OpenSSH key, not a TLS private key (PKCS#8, PKCS#1 or SEC1 PEM)`);
  }
  // Parse only the key block: a combined cert+key file (as some servers use) works as well.
  const pem = text.slice(match.index, match.index + block.length);
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    // Only the code: OpenSSL messages do not quote input today, but nothing from a key file is echoed.
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';
    throw new ValidationError(`${label}: the ${kind} block cannot be parsed (${code})`, {
      hint: 'the key is corrupt or truncated; export it again from where it was generated',
    });
  }
}

/** The certificate bundle (leaf first) and, when given, whether the key matches the leaf. */
export function readCertFiles(files: CertFiles): CertFilesResult {
  const chain = readCertificateBundle(files.cert);
  if (files.key === undefined) return { chain, keyMatches: null };
  const key = readPrivateKey(files.key);
  const leaf = chain[0];
  if (!leaf) return { chain, keyMatches: null }; // unreachable: readCertificateBundle returns ≥ 1 cert
  let keyMatches: boolean;
  try {
    keyMatches = leaf.checkPrivateKey(key);
  } catch {
    // Key types OpenSSL cannot compare (an unsupported algorithm) cannot be this leaf's key either.
    keyMatches = false;
  }
  return { chain, keyMatches };
}
