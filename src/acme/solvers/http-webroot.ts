/**
 * http-01 through a web server that is already running: write the key authorization to
 * `<webroot>/.well-known/acme-challenge/<token>`, which the web server serves on port 80
 * (nginx: templates/nginx/acme-challenge.conf). The file is public by design (0644), the two
 * folders are created 0755 when missing and left in place afterwards (the web server config
 * points at them).
 */
import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { AcmeError, CertsError, errorMessage } from '../../core/errors.js';
import type { PreflightConfig } from '../../config/types.js';
import type { ChallengeSolver, ChallengeTask } from '../types.js';
import { TOKEN_PATTERN, assertValidToken, preflightHttp01 } from './http-preflight.js';

export interface WebrootSolverOptions {
  /** Absolute path of the folder the web server serves /.well-known/acme-challenge/ from. */
  webroot: string;
  preflight: PreflightConfig;
}

const WHO = 'http-01 webroot';

/** `<webroot>/.well-known/acme-challenge/<token>` (token checked first: it can never leave the folder). */
export function challengeFilePath(webroot: string, task: ChallengeTask): string {
  assertValidToken(task, WHO);
  return join(webroot, '.well-known', 'acme-challenge', task.token);
}

/**
 * The synchronous core of present(): exported so tests can run it as another user. Throws
 * AcmeError('challenge') naming the domain, the path and what the errno means.
 */
export function writeChallengeFile(webroot: string, task: ChallengeTask): string {
  const file = challengeFilePath(webroot, task);
  let st;
  try {
    st = statSync(webroot);
  } catch (err) {
    throw fsError(task, `webroot ${webroot}`, err, 'cannot use');
  }
  if (!st.isDirectory()) {
    throw new AcmeError('challenge', `domain "${task.domain}": ${WHO}: ${webroot} is not a directory`, { domain: task.domain }, { hint: HINT });
  }
  const wellKnown = join(webroot, '.well-known');
  const challengeDir = join(wellKnown, 'acme-challenge');
  for (const dir of [wellKnown, challengeDir]) ensureDir(task, dir);
  try {
    writeFileAtomic(file, task.keyAuthorization, 0o644);
  } catch (err) {
    throw fsError(task, file, causeOf(err), 'cannot write');
  }
  return file;
}

/** Removes the token file; a missing file (nothing presented) is fine. */
export function removeChallengeFile(webroot: string, task: ChallengeTask): void {
  // A malformed token was refused by present(), so nothing was written for it.
  if (typeof task.token !== 'string' || !TOKEN_PATTERN.test(task.token)) return;
  const file = challengeFilePath(webroot, task);
  try {
    unlinkSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw fsError(task, file, err, 'cannot remove');
  }
}

export function createWebrootSolver(opts: WebrootSolverOptions): ChallengeSolver {
  const { webroot, preflight } = opts;
  return {
    type: 'http-01',
    describe: `${WHO} ${webroot}`,
    async present(task, signal) {
      signal?.throwIfAborted();
      writeChallengeFile(webroot, task);
    },
    async preflight(task: ChallengeTask, signal?: AbortSignal) {
      await preflightHttp01(task, preflight, signal);
    },
    async cleanup(task) {
      removeChallengeFile(webroot, task);
    },
  };
}

const HINT = 'acme.challenge.webroot must be an existing folder that certs can write and that the web server serves /.well-known/acme-challenge/ from';

function ensureDir(task: ChallengeTask, dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw fsError(task, dir, err, 'cannot create');
  }
  // mkdir's mode is reduced by the umask; the web server must be able to read it.
  try {
    chmodSync(dir, 0o755);
  } catch (err) {
    throw fsError(task, dir, err, 'cannot chmod 0755');
  }
}

/** writeFileAtomic wraps the errno error in an IoError; the errno is in its cause. */
function causeOf(err: unknown): unknown {
  return err instanceof CertsError && err.cause !== undefined ? err.cause : err;
}

function fsError(task: ChallengeTask, what: string, err: unknown, action: string): AcmeError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new AcmeError('challenge', `domain "${task.domain}": ${WHO}: ${action} ${what}: ${errnoMeaning(code, err)}`, { domain: task.domain }, { hint: HINT, cause: err });
}

function errnoMeaning(code: string | undefined, err: unknown): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied: not writable by uid ${process.getuid?.() ?? '?'} (${code})`;
    case 'ENOENT':
      return 'does not exist (ENOENT)';
    case 'ENOTDIR':
      return 'a part of the path is not a directory (ENOTDIR)';
    case 'EROFS':
      return 'read-only file system (EROFS)';
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)';
    case 'EDQUOT':
      return 'disk quota exceeded (EDQUOT)';
    default:
      return code ? `${errorMessage(err)} (${code})` : errorMessage(err);
  }
}
