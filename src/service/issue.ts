/**
 * Obtaining one certificate for one lineage and making it current, in the order that makes a
 * crash at any point harmless (ARCHITECTURE §4):
 *
 *   key → order → archive/<n> written and fsynced → row in `issued` → `current` switched → hooks
 *
 * A crash before the row leaves an unreferenced archive directory (ignored; the next run orders
 * again). A crash after the row and before the switch is finished by the next run
 * (`reconcileCurrent`), which switches `current` to the newest recorded version.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { AcmeError, CertsError, errorMessage } from '../core/errors.js';
import { ariCertId } from '../core/ari.js';
import { dnOf, extensionCritical, oneLineName, parseNameList } from '../core/x509.js';
import type { AcmeKeyType, DomainConfig } from '../config/types.js';
import type { AcmeSession } from '../acme/client.js';
import { generateKey, keyTypeOf } from '../acme/keys.js';
import { obtainCertificate } from '../acme/order.js';
import type { ChallengeSolver } from '../acme/types.js';
import { currentPaths, currentVersion, switchCurrent, versionPaths, writeArchiveVersion, type ArchiveFs, type CertPaths } from '../store/archive.js';
import type { IssuedCert } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';
import { materialiseVersion } from '../store/materialise.js';
import type { Fence } from '../store/fence.js';
import { assertCertificateSet } from '../store/cert-check.js';

export interface Wanted {
  names: string[];
  keyType: AcmeKeyType;
  profile: string | null;
}

export function wantedOf(d: DomainConfig, acme: { keyType?: AcmeKeyType; profile?: string }): Wanted {
  return { names: [d.name, ...d.altNames], keyType: d.keyType ?? acme.keyType ?? 'ecdsa-p256', profile: d.profile ?? acme.profile ?? null };
}

export interface IssueInput {
  dataDir: string;
  store: AsyncStore;
  session: AcmeSession;
  domain: DomainConfig;
  wanted: Wanted;
  solver: ChallengeSolver;
  preflight: boolean;
  reuseKey: boolean;
  previous: IssuedCert | null;
  /** ARI certificate ID of the certificate being replaced, when the CA offers ARI. */
  replaces?: string;
  reason: string;
  now: () => Date;
  dryRun: boolean;
  onEvent?: (event: string) => void;
  archiveFs?: ArchiveFs;
  /** The `cert:<lineage>` lease's fence: the version is recorded only while it is still ours (issue 16). */
  fence?: Fence;
  /** The node ordering it, recorded with the version. */
  node?: string;
}

export interface IssueResult {
  issued: IssuedCert;
  paths: CertPaths;
}

/** The previous key when reuse is on and it has the wanted type; otherwise a new one. */
async function certificateKey(input: IssueInput): Promise<string> {
  if (input.reuseKey && input.previous) {
    const file = versionPaths(input.dataDir, input.domain.name, input.previous.version).privkey;
    if (existsSync(file)) {
      const pem = readFileSync(file, 'utf8');
      if (keyTypeOf(pem) === input.wanted.keyType) return pem;
    }
  }
  return generateKey(input.wanted.keyType);
}

function describe(certPem: string): Pick<IssuedCert, 'fingerprint256' | 'serial' | 'notBefore' | 'notAfter' | 'issuer'> & { x: X509Certificate } {
  const x = new X509Certificate(certPem);
  return { x, fingerprint256: x.fingerprint256, serial: x.serialNumber, notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString(), issuer: oneLineName(x.issuer) };
}

/** Checks that the CA's certificate is the one we asked for before anything is written. */
export function verifyIssued(input: IssueInput, x: X509Certificate, keyPem: string): void {
  const where = `domain "${input.domain.name}"`;
  if (!x.checkPrivateKey(createPrivateKey(keyPem))) throw new AcmeError('acme-protocol', `${where}: the CA returned a certificate that does not match our key`, { domain: input.domain.name });
  const sans = parseNameList(x.subjectAltName).filter(([t]) => t === 'DNS' || t === 'IP Address').map(([, v]) => v.toLowerCase());
  const missing = input.wanted.names.filter((n) => !sans.includes(n.toLowerCase()));
  if (missing.length > 0) throw new AcmeError('acme-protocol', `${where}: the CA returned a certificate without ${missing.join(', ')}`, { domain: input.domain.name });
  // An empty subject is normal (tlsserver/shortlived profiles), but only with a critical SAN
  // (RFC 5280 §4.2.1.6): without it, strict clients may treat the certificate as nameless.
  if (dnOf(x.subject) === '' && extensionCritical(x.raw) !== true) {
    throw new AcmeError('acme-protocol', `${where}: the CA returned a certificate with an empty subject whose subjectAltName extension is not critical (RFC 5280 §4.2.1.6 requires it critical)`, { domain: input.domain.name });
  }
}

export async function issueCertificate(input: IssueInput): Promise<IssueResult | null> {
  const { domain, store, dataDir } = input;
  const keyPem = await certificateKey(input);
  const result = await obtainCertificate(input.session, {
    domain: domain.name,
    names: input.wanted.names,
    keyPem,
    ...(input.wanted.profile ? { profile: input.wanted.profile } : {}),
    ...(input.replaces ? { replaces: input.replaces } : {}),
    solver: input.solver,
    preflight: input.preflight,
    ...(input.onEvent ? { onEvent: input.onEvent } : {}),
  });
  const d = describe(result.certPem);
  verifyIssued(input, d.x, keyPem);
  if (input.dryRun) return null;

  let certId: string | null = null;
  try {
    certId = ariCertId(d.x);
  } catch {
    // A CA certificate without an Authority Key Identifier has no ARI identity; nothing to store.
    certId = null;
  }
  // Every certificate of the CA's chain must have signed the one below it before anything is
  // stored: a version that is recorded must be one `current` may point at.
  assertCertificateSet({ cert: result.certPem, chain: result.chainPem, fullchain: result.fullchainPem, privkey: keyPem }, `domain "${domain.name}": the certificate the CA issued`, domain.name);
  const minVersion = (await store.issued.maxVersion(domain.name)) + 1;
  const pems = { cert: result.certPem, chain: result.chainPem, fullchain: result.fullchainPem, privkey: keyPem };
  const { version, paths } = writeArchiveVersion(dataDir, domain.name, pems, { minVersion, ...(input.archiveFs ? { fs: input.archiveFs } : {}) });
  const issued: IssuedCert = {
    lineage: domain.name,
    version,
    fingerprint256: d.fingerprint256,
    serial: d.serial,
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    issuer: d.issuer,
    names: input.wanted.names,
    keyType: input.wanted.keyType,
    directoryUrl: input.session.directoryUrl,
    profile: input.wanted.profile,
    ariCertId: certId,
    replacedId: result.replacesAccepted ? (input.replaces ?? null) : null,
    dir: paths.dir,
    issuedAt: input.now().toISOString(),
    reason: input.reason,
    revokedAt: null,
    revokeReason: null,
    ...(input.node !== undefined ? { node: input.node } : {}),
  };
  try {
    // The files before the row (a shared store: every node can then materialise what is recorded).
    await store.issued.putPems(domain.name, version, pems, input.fence);
    issued.id = await store.issued.record(issued, input.fence);
  } catch (err) {
    // Refused by the fence: another node took the lease over and records its own version. Ours
    // must not stay in this machine's archive, where it would shadow that one's number later.
    if (err instanceof CertsError && err.code === 'fenced') rmSync(paths.dir, { recursive: true, force: true });
    throw err;
  }
  switchCurrent(dataDir, domain.name, version);
  return { issued, paths: currentPaths(dataDir, domain.name) };
}

/**
 * Finishes what a crash interrupted: `current` must point at the newest recorded version.
 * Returns true when it had to switch.
 */
export async function reconcileCurrent(dataDir: string, store: AsyncStore, lineage: string): Promise<boolean> {
  const latest = await store.issued.latest(lineage);
  if (!latest) return false;
  const at = currentVersion(dataDir, lineage);
  if (at === latest.version) return false;
  await materialiseVersion(dataDir, store.issued, lineage, latest.version);
  const paths = versionPaths(dataDir, lineage, latest.version);
  if (!existsSync(paths.fullchain) || !existsSync(paths.privkey)) {
    throw new CertsError('io', 'archive-missing', `domain "${lineage}": version ${latest.version} is recorded but ${paths.dir} is incomplete; run certs renew ${lineage} --force to replace it`, { domain: lineage });
  }
  try {
    switchCurrent(dataDir, lineage, latest.version);
  } catch (err) {
    throw new CertsError('io', 'switch-failed', `domain "${lineage}": cannot switch current to version ${latest.version}: ${errorMessage(err)}`, { cause: err, domain: lineage });
  }
  return true;
}
