/**
 * Runs a user's hook program (the DNS hook and the per-domain pre/post/deploy hooks) through the
 * one process runner (lib/process.ts: argv, no shell, minimal environment, own process group,
 * time limit) and reports a failure as AcmeError('hook'): a hook is part of obtaining the
 * certificate, and renewal records, `/status` and the backoff read AcmeError's domain and
 * `retryable`. The message (with the redacted output tail) is the runner's, unchanged.
 */
import { AcmeError } from '../core/errors.js';
import { ProcessError, runProcess, type RunProcessOptions } from '../lib/process.js';

export interface RunProgramOptions extends Pick<RunProcessOptions, 'timeoutMs' | 'killGraceMs' | 'signal' | 'what'> {
  /** Added to the minimal environment of lib/hook-env.ts (PATH, HOME, LANG, TZ, CERTS_*, hooks.passEnv). */
  env: Record<string, string>;
  domain?: string;
}

/** Resolves on exit 0; otherwise rejects with AcmeError('hook') carrying the output tail (an abort: its reason). */
export async function runProgram(argv: readonly string[], opts: RunProgramOptions): Promise<void> {
  const { domain, ...run } = opts;
  try {
    await runProcess(argv, run);
  } catch (err) {
    if (!(err instanceof ProcessError)) throw err;
    // A spawn failure keeps the errno error as the cause, as before; otherwise the ProcessError.
    throw new AcmeError('hook', err.message, { ...(domain ? { domain } : {}), retryable: err.retryable }, { cause: err.cause ?? err });
  }
}
