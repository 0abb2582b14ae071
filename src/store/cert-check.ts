/**
 * The check every certificate set passes before `current` may point at it: each certificate of
 * the chain signed the one below it, the fullchain starts with the leaf, and the private key
 * belongs to the leaf. nginx -t catches a key mismatch but not a chain whose intermediate does
 * not belong to the leaf (it would serve it, and clients would fail), so this is ours to check.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { certLabel } from '../core/chain.js';
import { DeployError, errorMessage } from '../core/errors.js';
import type { CertPems } from './archive.js';
import { versionPaths } from './archive.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseAll(pem: string, what: string, where: string, domain: string | undefined): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new DeployError('chain-invalid', `${where}: ${what} holds no certificate; refusing to switch current`, { domain });
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new DeployError('chain-invalid', `${where}: certificate ${i + 1} of ${what} cannot be parsed (${errorMessage(err)}); refusing to switch current`, { cause: err, domain });
    }
  });
}

/**
 * Throws DeployError `chain-invalid` or `key-mismatch` naming `where` and the certificates
 * involved. `where` is e.g. `domain "a.test": version 3`; `domain`, when `where` starts with it,
 * marks the errors as already naming their domain (see inDomain).
 */
export function assertCertificateSet(pems: CertPems, where: string, domain?: string): void {
  const full = parseAll(pems.fullchain, 'fullchain.pem', where, domain);
  const [leaf] = parseAll(pems.cert, 'cert.pem', where, domain);
  if (leaf!.fingerprint256 !== full[0]!.fingerprint256) {
    throw new DeployError('chain-invalid', `${where}: fullchain.pem starts with ${certLabel(full[0]!)}, not with the leaf in cert.pem (${certLabel(leaf!)}); refusing to switch current`, { domain });
  }
  const chain = (pems.chain.match(PEM_CERT) ?? []).length === 0 ? [] : parseAll(pems.chain, 'chain.pem', where, domain);
  if (chain.length !== full.length - 1 || chain.some((c, i) => c.fingerprint256 !== full[i + 1]!.fingerprint256)) {
    throw new DeployError('chain-invalid', `${where}: chain.pem (${chain.length} certificates) is not fullchain.pem without its leaf (${full.length - 1}); refusing to switch current`, { domain });
  }
  for (let i = 0; i + 1 < full.length; i++) {
    const child = full[i]!;
    const parent = full[i + 1]!;
    // checkIssued compares names (and key identifiers); verify proves the signature.
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new DeployError('chain-invalid', `${where}: certificate ${i + 2} of the chain (${certLabel(parent)}) did not sign certificate ${i + 1} (${certLabel(child)}); the CA's chain does not belong to this certificate, refusing to switch current`, { domain });
    }
  }
  let matches: boolean;
  try {
    matches = leaf!.checkPrivateKey(createPrivateKey(pems.privkey));
  } catch (err) {
    throw new DeployError('key-mismatch', `${where}: privkey.pem cannot be read as a private key (${errorMessage(err)}); refusing to switch current`, { cause: err, domain });
  }
  if (!matches) throw new DeployError('key-mismatch', `${where}: privkey.pem is not the key of the certificate ${certLabel(leaf!)}; refusing to switch current`, { domain });
}

/** Reads an archive version and checks it (see assertCertificateSet). */
export function assertVersionUsable(dataDir: string, lineage: string, version: number): void {
  const where = `domain "${lineage}": version ${version}`;
  const p = versionPaths(dataDir, lineage, version);
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new DeployError('archive-missing', `${where}: cannot read ${file}: ${errorMessage(err)}; refusing to switch current`, { cause: err, domain: lineage });
    }
  };
  assertCertificateSet({ cert: read(p.cert), chain: read(p.chain), fullchain: read(p.fullchain), privkey: read(p.privkey) }, where, lineage);
}
