/**
 * Test PKI fixture generator: builds certificate hierarchies in memory, never from the internet.
 *
 *   const root = await createCA({ cn: 'Test Root', notBefore, notAfter });          // self-signed root
 *   const inter = await createCA({ cn: 'Test Int', issuer: root, notBefore, notAfter });
 *   const leaf = await createLeaf({ dns: ['example.com'], issuer: inter, notBefore, notAfter,
 *                                   aiaIssuerUrl: 'http://ca.test/int.der' });
 *   leaf.cert  // node:crypto X509Certificate      leaf.pem / leaf.der   // the certificate
 *   leaf.keyPem // PKCS#8 PEM private key, loadable by nginx and node:tls
 *
 * Options common to both: `key` (a KeyMaterial from generateKey(), to reuse a key: cross-signs,
 * re-issued roots), `keySpec` ('ec-p256' default, 'ec-p384', 'rsa-1024', 'rsa-2048', 'ed25519'),
 * `hash` (signature hash used by the issuer: 'SHA-256' default, 'SHA-1', 'SHA-384', 'SHA-512'),
 * `pss` (RSASSA-PSS signatures from an RSA issuer), `aiaIssuerUrl`, `serialNumber` (hex). Without `issuer` the certificate is self-signed.
 * `createLeaf({ emptySubject: true, dns: [...] })` makes a leaf with an empty subject DN and a critical SAN.
 * Dates default to [now − 1 day, now + 90 days] for integration tests; unit tests must pass fixed
 * dates so that results never depend on the day they run.
 *
 * Keys are generated with node:crypto (EC takes well under a millisecond; RSA takes tens of ms, so
 * generate RSA keys once per test file and pass them in), then imported into WebCrypto for the
 * signing @peculiar/x509 does: the hash is chosen at import time, which is how SHA-1 signatures
 * are produced for the weak-signature cases.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import type * as X509Lib from '@peculiar/x509';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

installReflectMetadata();
// Imported after the polyfill above: @peculiar/x509 (through tsyringe) checks for it at load time.
const x509: typeof X509Lib = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/**
 * @peculiar/x509 needs a Reflect metadata polyfill (reflect-metadata or similar), which is not a
 * dependency here; tsyringe only uses these three functions, so a WeakMap-backed version suffices.
 */
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

export type KeySpec = 'ec-p256' | 'ec-p384' | 'rsa-1024' | 'rsa-2048' | 'rsa-3072' | 'ed25519';
export type HashName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface KeyMaterial {
  spec: KeySpec;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM. */
  keyPem: string;
  spkiDer: Buffer;
}

export interface Issued {
  cert: X509Certificate;
  pem: string;
  der: Buffer;
  keyPem: string;
  key: KeyMaterial;
  /** The subject as given to the generator (e.g. "CN=Test Root"), used as the issuer name of children. */
  subject: string;
}

interface CommonOptions {
  notBefore?: Date;
  notAfter?: Date;
  issuer?: Issued;
  key?: KeyMaterial;
  keySpec?: KeySpec;
  hash?: HashName;
  aiaIssuerUrl?: string;
  serialNumber?: string;
  /** Sign with RSASSA-PSS instead of PKCS#1 v1.5 (RSA issuers only). */
  pss?: boolean;
}

export interface CAOptions extends CommonOptions {
  cn: string;
  /** Extra RDNs after CN, e.g. "O=certs tests". */
  org?: string;
  pathLength?: number;
}

export interface LeafOptions extends CommonOptions {
  cn?: string;
  dns: string[];
  ips?: string[];
  /**
   * An empty subject DN (no CN at all) with the subjectAltName extension marked critical, as
   * RFC 5280 §4.2.1.6 requires and Let's Encrypt's `tlsserver`/`shortlived` profiles issue.
   */
  emptySubject?: boolean;
  /** Mark the subjectAltName extension critical; default: only with emptySubject (false makes an RFC 5280 violation on purpose). */
  sanCritical?: boolean;
}

const DAY_MS = 86_400_000;

export function generateKey(spec: KeySpec = 'ec-p256'): KeyMaterial {
  const pair = (() => {
    switch (spec) {
      case 'ec-p256': return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      case 'ec-p384': return generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      case 'rsa-1024': return generateKeyPairSync('rsa', { modulusLength: 1024 });
      case 'rsa-2048': return generateKeyPairSync('rsa', { modulusLength: 2048 });
      case 'rsa-3072': return generateKeyPairSync('rsa', { modulusLength: 3072 });
      case 'ed25519': return generateKeyPairSync('ed25519');
    }
  })();
  return {
    spec,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spkiDer: pair.publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** Re-reads a PKCS#8 PEM (e.g. from a fixture file) as KeyMaterial. */
export function keyFromPem(keyPem: string): KeyMaterial {
  const privateKey = createPrivateKey(keyPem);
  const publicKey = createPublicKey(privateKey);
  const type = privateKey.asymmetricKeyType;
  const details = privateKey.asymmetricKeyDetails ?? {};
  const spec: KeySpec = type === 'ec'
    ? (details.namedCurve === 'secp384r1' ? 'ec-p384' : 'ec-p256')
    : type === 'ed25519' ? 'ed25519'
      : details.modulusLength === 1024 ? 'rsa-1024' : details.modulusLength === 3072 ? 'rsa-3072' : 'rsa-2048';
  return { spec, privateKey, publicKey, keyPem, spkiDer: publicKey.export({ type: 'spki', format: 'der' }) };
}

function signingParams(key: KeyMaterial, hash: HashName, pss: boolean): { importAlg: RsaHashedImportParams | EcKeyImportParams | Algorithm; signAlg: Algorithm | EcdsaParams } {
  switch (key.spec) {
    case 'ec-p256':
    case 'ec-p384': {
      const namedCurve = key.spec === 'ec-p256' ? 'P-256' : 'P-384';
      return { importAlg: { name: 'ECDSA', namedCurve }, signAlg: { name: 'ECDSA', hash } as EcdsaParams };
    }
    case 'ed25519':
      return { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } };
    default:
      if (pss) return { importAlg: { name: 'RSA-PSS', hash }, signAlg: { name: 'RSA-PSS', hash, saltLength: 32 } as Algorithm };
      return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash }, signAlg: { name: 'RSASSA-PKCS1-v1_5', hash } as Algorithm };
  }
}

async function importSigningKey(key: KeyMaterial, hash: HashName, pss: boolean): Promise<{ signingKey: CryptoKey; signAlg: Algorithm | EcdsaParams }> {
  const { importAlg, signAlg } = signingParams(key, hash, pss);
  const pkcs8 = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, importAlg, false, ['sign']) as CryptoKey;
  return { signingKey, signAlg };
}

/** WebCrypto types want bytes backed by a plain ArrayBuffer; a Buffer may sit on a shared pool. */
function copyBytes(buf: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buf);
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01; // positive and without a leading zero byte
  return bytes.toString('hex');
}

async function issue(
  subject: string,
  opts: CommonOptions,
  extensions: (key: KeyMaterial) => Promise<X509Lib.Extension[]>,
): Promise<Issued> {
  const key = opts.key ?? generateKey(opts.keySpec ?? 'ec-p256');
  const now = Date.now();
  const notBefore = opts.notBefore ?? new Date(now - DAY_MS);
  const notAfter = opts.notAfter ?? new Date(now + 90 * DAY_MS);
  const signer = opts.issuer?.key ?? key;
  const issuerName = opts.issuer?.subject ?? subject;
  const { signingKey, signAlg } = await importSigningKey(signer, opts.hash ?? 'SHA-256', opts.pss ?? false);

  const exts = await extensions(key);
  exts.push(await x509.SubjectKeyIdentifierExtension.create(copyBytes(key.spkiDer)));
  exts.push(await x509.AuthorityKeyIdentifierExtension.create(copyBytes(signer.spkiDer)));
  if (opts.aiaIssuerUrl) exts.push(new x509.AuthorityInfoAccessExtension({ caIssuers: opts.aiaIssuerUrl }));

  const generated = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serialNumber ?? randomSerial(),
    subject,
    issuer: issuerName,
    notBefore,
    notAfter,
    publicKey: copyBytes(key.spkiDer),
    signingKey,
    signingAlgorithm: signAlg,
    extensions: exts,
  });
  const der = Buffer.from(generated.rawData);
  const cert = new X509Certificate(der);
  return { cert, der, pem: cert.toString(), keyPem: key.keyPem, key, subject };
}

/** A CA certificate: self-signed root without `issuer`, intermediate (or cross-sign) with one. */
export function createCA(opts: CAOptions): Promise<Issued> {
  const subject = opts.org ? `CN=${opts.cn}, ${opts.org}` : `CN=${opts.cn}`;
  return issue(subject, opts, async () => [
    new x509.BasicConstraintsExtension(true, opts.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
  ]);
}

/** A TLS server certificate for the given DNS names and IPs (self-signed without `issuer`). */
export function createLeaf(opts: LeafOptions): Promise<Issued> {
  const cn = opts.cn ?? opts.dns[0] ?? opts.ips?.[0] ?? 'leaf';
  const names: X509Lib.JsonGeneralNames = [
    ...opts.dns.map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  return issue(opts.emptySubject ? '' : `CN=${cn}`, opts, async (key) => {
    const isRsa = key.spec.startsWith('rsa');
    const usage = x509.KeyUsageFlags.digitalSignature | (isRsa ? x509.KeyUsageFlags.keyEncipherment : 0);
    const exts: X509Lib.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ];
    if (names.length > 0) exts.push(new x509.SubjectAlternativeNameExtension(names, opts.sanCritical ?? opts.emptySubject === true));
    return exts;
  });
}

/** Concatenated PEM of the given certificates, as a fullchain.pem would hold them. */
export function pemBundle(...certs: Issued[]): string {
  return certs.map((c) => c.pem).join('');
}

/** Fixed dates relative to a reference instant, so tests read as "expires in 5 days". */
export function daysFrom(base: Date, days: number): Date {
  return new Date(base.getTime() + days * DAY_MS);
}

/**
 * The CLI tests' file-watched certificate: a root valid for ten years and a leaf for files.test
 * with 80 days left, written as `<dir>/root.pem` (trust it) and `<dir>/files.pem`.
 */
export async function writeFilesCertificate(dir: string, rootCn: string, now = new Date()): Promise<void> {
  const root = await createCA({ cn: rootCn, notBefore: daysFrom(now, -10), notAfter: daysFrom(now, 3650) });
  const leaf = await createLeaf({ dns: ['files.test'], issuer: root, notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 80) });
  writeFileSync(join(dir, 'root.pem'), root.pem);
  writeFileSync(join(dir, 'files.pem'), pemBundle(leaf));
}
