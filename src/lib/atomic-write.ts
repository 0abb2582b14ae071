/**
 * Replace a file so readers see either the old or the new content, never a mix, even after a
 * crash: temp file in the same folder, fsync, rename, fsync the folder (ARCHITECTURE §4).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IoError, errorMessage } from '../core/errors.js';

export interface AtomicWriteOptions {
  /** Default true. False: fail with IoError code "exists" if the target exists, without a check-then-write race. */
  overwrite?: boolean;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writing through a symlink keeps the link (configs kept in dotfile repos are often linked). */
function resolveTarget(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch (err) {
    if (errno(err) === 'ENOENT') return path;
    throw err;
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    // Some filesystems cannot fsync a directory; the rename itself has still happened.
    if (errno(err) !== 'EINVAL' && errno(err) !== 'ENOTSUP') throw err;
  } finally {
    closeSync(fd);
  }
}

export function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Atomically write `data` to `path`. The mode is `mode` when given (exactly, ignoring the umask),
 * else the existing file's mode, else 0666 minus the umask. Root keeps the existing owner.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number, opts: AtomicWriteOptions = {}): void {
  const overwrite = opts.overwrite ?? true;
  const target = resolveTarget(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let created = false;
  try {
    const existing = overwrite ? statOrUndefined(target) : undefined;
    const finalMode = mode ?? (existing ? existing.mode & 0o7777 : undefined);
    // Start private so a secret is never readable by others, even for a moment.
    const fd = openSync(tmp, 'wx', finalMode === undefined ? 0o666 : 0o600);
    created = true;
    try {
      writeAll(fd, bytes);
      if (finalMode !== undefined) fchmodSync(fd, finalMode);
      if (existing && process.getuid?.() === 0) fchownSync(fd, existing.uid, existing.gid);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (overwrite) {
      renameSync(tmp, target);
    } else {
      linkSync(tmp, target); // fails with EEXIST instead of replacing
      unlinkSync(tmp);
    }
    created = false;
    fsyncDir(dir);
  } catch (err) {
    if (created) unlinkQuietly(tmp);
    if (errno(err) === 'EEXIST' && !overwrite) throw new IoError('exists', `${path} already exists`, { cause: err });
    throw new IoError('write-failed', `cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    // The temp file may already be gone; any other failure leaves only a stray dot-file behind.
    if (errno(err) !== 'ENOENT') process.emitWarning(`could not remove temp file ${path}: ${errorMessage(err)}`);
  }
}
