/**
 * This machine's copy of an issued version (issue 15): nginx reads `<dataDir>/certs/<name>/
 * archive/<n>/` and `current`, which stay local files whatever the engine. With a shared store
 * (postgres) a version another node issued exists only in the database until a node that
 * deploys it writes it here — all four files into a temp directory, renamed to its number in one
 * step (archive.ts), so a reader never sees half a version. A key that does not open (a wrong or
 * corrupted key-encryption key) throws before anything is written.
 */
import { existsSync } from 'node:fs';
import { versionPaths, writeArchiveVersion } from './archive.js';
import type { IssuedStore } from './contract.js';

export type Materialised = 'present' | 'written' | 'absent';

/** Makes archive version `version` of `lineage` present locally: 'absent' when the store does not hold it either. */
export async function materialiseVersion(dataDir: string, issued: Pick<IssuedStore, 'pems'>, lineage: string, version: number): Promise<Materialised> {
  // A numbered directory is always complete (archive.ts writes it in one rename).
  if (existsSync(versionPaths(dataDir, lineage, version).dir)) return 'present';
  const pems = await issued.pems(lineage, version);
  if (!pems) return 'absent';
  writeArchiveVersion(dataDir, lineage, pems, { minVersion: version, exact: true });
  return 'written';
}
