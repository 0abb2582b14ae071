/**
 * The certificate file store (ARCHITECTURE §4):
 *
 *   <dataDir>/certs/<lineage>/archive/<n>/{cert,chain,fullchain,privkey}.pem
 *   <dataDir>/certs/<lineage>/current -> archive/<n>
 *
 * A version is written into a hidden temp directory, fsynced, then renamed to its number in one
 * step, so a numbered directory is always complete. `current` is a symlink replaced by one
 * rename, so a reader (nginx) sees either the old pair or the new pair, never a cert with the
 * other version's key. A crash leaves at most a hidden temp directory, removed on the next write.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { IoError, errorMessage } from '../core/errors.js';
import { fsyncDir, writeAll } from '../lib/atomic-write.js';
import { CERT_FILES, currentPaths, lineageDir, lineageDirName, versionPaths, type CertPaths } from '../lib/cert-paths.js';

export { CERT_FILES, currentPaths, lineageDir, lineageDirName, versionPaths, type CertPaths };

export interface CertPems {
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

/** Test seam: lets fault tests fail a write at a chosen file. */
export interface ArchiveFs {
  writeFile(fd: number, data: Uint8Array, name: string): void;
}

const defaultFs: ArchiveFs = { writeFile: (fd, data) => writeAll(fd, data) };

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The version `current` points at, or null when there is none yet. */
export function currentVersion(dataDir: string, lineage: string): number | null {
  try {
    const target = readlinkSync(join(lineageDir(dataDir, lineage), 'current'));
    const m = /^archive\/(\d+)$/.exec(target);
    return m ? Number(m[1]) : null;
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'EINVAL') return null;
    throw new IoError('read-failed', `cannot read ${join(lineageDir(dataDir, lineage), 'current')}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Numbered versions present in the archive, ascending. */
export function archiveVersions(dataDir: string, lineage: string): number[] {
  try {
    return readdirSync(join(lineageDir(dataDir, lineage), 'archive'))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw err;
  }
}

/** A version's four files, or null when the version is not (completely) in the archive. */
export function readArchivePems(dataDir: string, lineage: string, version: number): CertPems | null {
  const p = versionPaths(dataDir, lineage, version);
  try {
    return {
      cert: readFileSync(p.cert, 'utf8'),
      chain: readFileSync(p.chain, 'utf8'),
      fullchain: readFileSync(p.fullchain, 'utf8'),
      privkey: readFileSync(p.privkey, 'utf8'),
    };
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw new IoError('read-failed', `domain "${lineage}": cannot read archive version ${version}: ${errorMessage(err)}`, { cause: err, domain: lineage });
  }
}

function describeWriteError(path: string, err: unknown): string {
  const code = errno(err);
  if (code === 'ENOSPC') return `cannot write ${path}: the disk is full (ENOSPC)`;
  if (code === 'EDQUOT') return `cannot write ${path}: disk quota exceeded (EDQUOT)`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot write ${path}: permission denied`;
  if (code === 'EROFS') return `cannot write ${path}: read-only file system`;
  return `cannot write ${path}: ${errorMessage(err)}`;
}

/**
 * Writes a new archive version and returns its number (greater than every existing one and
 * than `minVersion`). Does not touch `current`. On failure nothing numbered is left behind.
 */
export function writeArchiveVersion(dataDir: string, lineage: string, pems: CertPems, opts: { minVersion?: number; exact?: boolean; fs?: ArchiveFs } = {}): { version: number; paths: CertPaths } {
  const fs = opts.fs ?? defaultFs;
  const base = lineageDir(dataDir, lineage);
  const archive = join(base, 'archive');
  let tmp: string | undefined;
  let where = archive;
  try {
    mkdirSync(archive, { recursive: true, mode: 0o700 });
    removeStaleTemps(archive);
    tmp = join(archive, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    mkdirSync(tmp, { mode: 0o700 });
    for (const [name, data, mode] of [
      ['privkey.pem', pems.privkey, 0o600],
      ['cert.pem', pems.cert, 0o644],
      ['chain.pem', pems.chain, 0o644],
      ['fullchain.pem', pems.fullchain, 0o644],
    ] as const) {
      where = join(tmp, name);
      const fd = openSync(where, 'wx', mode);
      try {
        fs.writeFile(fd, Buffer.from(data, 'utf8'), name);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    where = tmp;
    fsyncDir(tmp);
    // exact: this number or none (a copy of a version the store numbered, store/materialise.ts).
    let version = opts.exact ? (opts.minVersion ?? 1) : Math.max(opts.minVersion ?? 1, (archiveVersions(dataDir, lineage).at(-1) ?? 0) + 1);
    for (;;) {
      where = join(archive, String(version));
      try {
        renameSync(tmp, where);
        break;
      } catch (err) {
        // Someone else's directory with that number: take the next one, never overwrite.
        if (errno(err) !== 'EEXIST' && errno(err) !== 'ENOTEMPTY') throw err;
        if (opts.exact) {
          // Numbered directories are complete: another process wrote this version first.
          rmSync(tmp, { recursive: true, force: true });
          tmp = undefined;
          return { version, paths: versionPaths(dataDir, lineage, version) };
        }
        version += 1;
      }
    }
    tmp = undefined;
    fsyncDir(archive);
    return { version, paths: versionPaths(dataDir, lineage, version) };
  } catch (err) {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (err instanceof IoError) throw err;
    // The temp path is gone by now: name the archive the new version was going to.
    const shown = tmp !== undefined && where.startsWith(tmp) ? join(archive, '(new version)', where === tmp ? '' : basename(where)) : where;
    throw new IoError(errno(err) === 'ENOSPC' ? 'disk-full' : 'write-failed', `domain "${lineage}": ${describeWriteError(shown, err)}; the current certificate was not changed`, { cause: err, domain: lineage });
  }
}

function removeStaleTemps(archive: string): void {
  for (const name of readdirSync(archive)) {
    if (name.startsWith('.tmp-')) rmSync(join(archive, name), { recursive: true, force: true });
  }
}

/** Points `current` at an archive version in one rename. */
export function switchCurrent(dataDir: string, lineage: string, version: number): void {
  const base = lineageDir(dataDir, lineage);
  const link = join(base, `.current-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    symlinkSync(`archive/${version}`, link);
    renameSync(link, join(base, 'current'));
    fsyncDir(base);
  } catch (err) {
    try {
      unlinkSync(link);
    } catch (cleanupErr) {
      if (errno(cleanupErr) !== 'ENOENT') throw new IoError('write-failed', `domain "${lineage}": cannot remove ${link}: ${errorMessage(cleanupErr)}`, { cause: err, domain: lineage });
    }
    throw new IoError('write-failed', `domain "${lineage}": ${describeWriteError(join(base, 'current'), err)}; current still points at the previous version`, { cause: err, domain: lineage });
  }
}
