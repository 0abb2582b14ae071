/**
 * The throwaway PKI of `certs demo` (issue 13): a root, an intermediate and as many leaves as the
 * demo world plants, made in memory at run time with dates relative to `now`, so the demo shows
 * the same thing on any day. Keys are ECDSA P-256 (a key pair takes well under a millisecond) and
 * never leave the process: the demo's TLS servers get them as PEM strings, nothing is written.
 *
 * @peculiar/x509 does the certificate encoding and signing (WebCrypto). It needs a Reflect metadata
 * polyfill at load time (through tsyringe), which is not a dependency: tsyringe only calls the
 * three functions below, so a WeakMap-backed version is enough. It is installed only when absent,
 * and only when the demo runs (this module is imported by `certs demo` alone).
 */
import { X509Certificate, webcrypto } from 'node:crypto';
import type * as X509Lib from '@peculiar/x509';

const DAY_MS = 86_400_000;

let lib: Promise<typeof X509Lib> | null = null;

/** @peculiar/x509, loaded once, after the Reflect polyfill it checks for at load time. */
function x509(): Promise<typeof X509Lib> {
  lib ??= (async () => {
    installReflectMetadata();
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  })();
  return lib;
}

function installReflectMetadata(): void {
  type MetadataReflect = typeof Reflect & {
    getMetadata?: (key: unknown, target: object) => unknown;
    getOwnMetadata?: (key: unknown, target: object) => unknown;
    defineMetadata?: (key: unknown, value: unknown, target: object) => void;
  };
  const R = Reflect as MetadataReflect;
  if (typeof R.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  R.getOwnMetadata = (key, target) => store.get(target)?.get(key);
  R.defineMetadata = (key, value, target) => {
    const map = store.get(target) ?? new Map<unknown, unknown>();
    map.set(key, value);
    store.set(target, map);
  };
  R.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const map = store.get(t);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
}

/** One certificate of the demo PKI with its key. */
export interface DemoCert {
  /** The certificate, PEM. */
  pem: string;
  /** Its private key, PKCS#8 PEM (held in memory only). */
  keyPem: string;
  /** The subject DN as written ("CN=certs demo root"), the issuer name of what it signs. */
  subject: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint as the store keeps it (uppercase hex pairs joined by ':'). */
  fingerprint256: string;
  /** The DNS names of a leaf (none for a CA). */
  dnsNames: string[];
  /** Internal: the WebCrypto key pair, for signing what this CA issues. */
  keys: CryptoKeyPair;
}

export interface LeafSpec {
  dns: string[];
  /** Days from `now`: negative is in the past. */
  fromDays: number;
  toDays: number;
}

export interface DemoPki {
  root: DemoCert;
  intermediate: DemoCert;
  /** A server certificate issued by the intermediate. */
  leaf(spec: LeafSpec): Promise<DemoCert>;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

function newKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\n`;
}

/** 16 random bytes, positive and without a leading zero byte (RFC 5280 §4.1.2.2). */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

interface IssueSpec {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** The signer; absent: self-signed. */
  issuer?: DemoCert;
  ca: boolean;
  dns?: string[];
}

async function issue(spec: IssueSpec): Promise<DemoCert> {
  const m = await x509();
  const keys = await newKeys();
  const signer = spec.issuer?.keys ?? keys;
  const usage = spec.ca
    ? m.KeyUsageFlags.keyCertSign | m.KeyUsageFlags.cRLSign | m.KeyUsageFlags.digitalSignature
    : m.KeyUsageFlags.digitalSignature;
  const extensions: X509Lib.Extension[] = [
    new m.BasicConstraintsExtension(spec.ca, spec.ca && spec.issuer ? 0 : undefined, true),
    new m.KeyUsagesExtension(usage, true),
    await m.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await m.AuthorityKeyIdentifierExtension.create(signer.publicKey),
  ];
  if (!spec.ca) {
    extensions.push(new m.ExtendedKeyUsageExtension([m.ExtendedKeyUsage.serverAuth]));
    extensions.push(new m.SubjectAlternativeNameExtension((spec.dns ?? []).map((value) => ({ type: 'dns' as const, value }))));
  }
  const serial = randomSerial();
  const generated = await m.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: spec.subject,
    issuer: spec.issuer?.subject ?? spec.subject,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: SIGN,
    extensions,
  });
  const cert = new X509Certificate(Buffer.from(generated.rawData));
  return {
    pem: cert.toString(),
    keyPem: await pkcs8Pem(keys.privateKey),
    subject: spec.subject,
    serial,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    fingerprint256: cert.fingerprint256,
    dnsNames: spec.dns ?? [],
    keys,
  };
}

/**
 * A root valid from a year ago for ten years, an intermediate under it for five, and leaves from
 * the intermediate. X.509 times have whole seconds: dates are rounded down to one, so what a
 * leaf says is exactly what `notAfter` here says.
 */
export async function createDemoPki(now: Date): Promise<DemoPki> {
  const at = (days: number): Date => new Date(Math.floor((now.getTime() + days * DAY_MS) / 1000) * 1000);
  const root = await issue({ subject: 'CN=certs demo root, O=certs demo', notBefore: at(-365), notAfter: at(3650), ca: true });
  const intermediate = await issue({ subject: 'CN=certs demo intermediate, O=certs demo', notBefore: at(-365), notAfter: at(1825), issuer: root, ca: true });
  return {
    root,
    intermediate,
    leaf: (spec) => issue({ subject: `CN=${spec.dns[0] ?? 'leaf'}`, notBefore: at(spec.fromDays), notAfter: at(spec.toDays), issuer: intermediate, ca: false, dns: spec.dns }),
  };
}
