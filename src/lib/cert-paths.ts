/**
 * The certificate archive's layout (ARCHITECTURE §4), as paths only: the store writes it, deploy
 * points nginx at it, and neither needs the other for that.
 *
 *   <dataDir>/certs/<lineage>/archive/<n>/{cert,chain,fullchain,privkey}.pem
 *   <dataDir>/certs/<lineage>/current -> archive/<n>
 */
import { join } from 'node:path';
import { IoError } from '../core/errors.js';

export const CERT_FILES = ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'] as const;

export interface CertPaths {
  dir: string;
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

/**
 * The directory name of a lineage. A wildcard's "*" becomes "_": a safe file name that cannot
 * clash with a real host name, since "_" is not allowed in certificate host names.
 */
export function lineageDirName(lineage: string): string {
  const name = lineage.replace(/^\*\./, '_.');
  if (!/^[a-z0-9_][a-z0-9.:_-]*$/i.test(name) || name.includes('..') || name.length > 260) {
    throw new IoError('invalid-lineage', `certificate name ${JSON.stringify(lineage)} cannot be used as a directory name`);
  }
  return name.replace(/:/g, '-');
}

export function lineageDir(dataDir: string, lineage: string): string {
  return join(dataDir, 'certs', lineageDirName(lineage));
}

export function pathsIn(dir: string): CertPaths {
  return { dir, cert: join(dir, 'cert.pem'), chain: join(dir, 'chain.pem'), fullchain: join(dir, 'fullchain.pem'), privkey: join(dir, 'privkey.pem') };
}

/** The stable paths servers are configured with: <lineage>/current/*.pem. */
export function currentPaths(dataDir: string, lineage: string): CertPaths {
  return pathsIn(join(lineageDir(dataDir, lineage), 'current'));
}

export function versionPaths(dataDir: string, lineage: string, version: number): CertPaths {
  return pathsIn(join(lineageDir(dataDir, lineage), 'archive', String(version)));
}
