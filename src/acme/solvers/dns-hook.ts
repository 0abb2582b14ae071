/**
 * dns-01 through a user's program (no shell): it publishes or removes the TXT record with
 * whatever DNS API the user has. What to do arrives in the environment:
 *   CERTS_ACTION=present|cleanup, CERTS_DOMAIN, CERTS_IDENTIFIER, CERTS_RECORD_NAME,
 *   CERTS_RECORD_VALUE, CERTS_TOKEN.
 */
import type { PropagationConfig } from '../../config/types.js';
import { AcmeError } from '../../core/errors.js';
import { runProgram } from '../program.js';
import { waitForTxt, type WaitForTxtOptions } from '../dns/propagation.js';
import type { ChallengeSolver, ChallengeTask } from '../types.js';

export interface HookSolverOptions {
  timeoutMs: number;
  propagation: PropagationConfig;
  /** Between SIGTERM and SIGKILL after a timeout; default 2000 ms. */
  killGraceMs?: number;
  /** How NS discovery works when propagation.servers is empty (see waitForTxt). */
  discovery?: WaitForTxtOptions['discovery'];
}

export function createHookSolver(argv: string[], opts: HookSolverOptions): ChallengeSolver {
  if (argv.length === 0 || !argv[0]) throw new AcmeError('hook', 'dns-01 hook: the command is empty');
  const program = argv[0];
  return {
    type: 'dns-01',
    describe: `dns-01 hook ${program}`,
    present: (task, signal) => runHook(argv, 'present', task, opts, signal),
    preflight: (task, signal) =>
      waitForTxt({
        domain: task.domain,
        name: task.recordName,
        value: task.recordValue,
        servers: opts.propagation.servers,
        timeoutMs: opts.propagation.timeoutMs,
        intervalMs: opts.propagation.intervalMs,
        discovery: opts.discovery,
        signal,
      }),
    /**
     * Throws AcmeError code 'hook' when the cleanup hook fails (exit code, timeout, missing
     * program), like present does: the order flow calls cleanup in `finally`, must catch this
     * and log it as a warning (the TXT value may still be published) without letting it
     * replace the order's own outcome. Nothing is swallowed here.
     */
    cleanup: (task) => runHook(argv, 'cleanup', task, opts),
  };
}

/** Runs the hook once; resolves on exit 0, else throws AcmeError('hook') with the output tail. */
export function runHook(argv: string[], action: 'present' | 'cleanup', task: ChallengeTask, opts: HookSolverOptions, signal?: AbortSignal): Promise<void> {
  return runProgram(argv, {
    env: {
      CERTS_ACTION: action,
      CERTS_DOMAIN: task.domain,
      CERTS_IDENTIFIER: task.identifier,
      CERTS_RECORD_NAME: task.recordName,
      CERTS_RECORD_VALUE: task.recordValue,
      CERTS_TOKEN: task.token,
    },
    timeoutMs: opts.timeoutMs,
    ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
    ...(signal ? { signal } : {}),
    what: `domain "${task.domain}": dns-01 ${action} hook "${argv[0]}" for ${task.recordName}`,
    domain: task.domain,
  });
}
