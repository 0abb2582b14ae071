import { CertsError, type ErrorKind } from '../core/errors.js';

/**
 * The one place that turns errors into exit codes and messages (ARCHITECTURE §3 and §6).
 * `scan` and `status` are Nagios plugins: anything that stops them from judging is UNKNOWN (3).
 * Other commands: 2 for usage and config errors, 1 for everything else.
 */
export type CommandKind = 'nagios' | 'plain';

/**
 * Exit code of a plain command per error kind. A Record, so that a new kind does not compile
 * until it is placed here: 2 means "fix the command line or the config", 1 "it did not work".
 */
const PLAIN_EXIT: Record<ErrorKind, 1 | 2> = {
  usage: 2,
  config: 2,
  validation: 2,
  scan: 1,
  store: 1,
  io: 1,
  acme: 1,
  deploy: 1,
  notify: 1,
  busy: 1,
  internal: 1,
};

export function exitCodeFor(err: unknown, kind: CommandKind): number {
  if (kind === 'nagios') return 3;
  return err instanceof CertsError ? PLAIN_EXIT[err.kind] : 1;
}

export function formatFailure(err: unknown, debug: boolean): string {
  const lines: string[] = [];
  if (err instanceof CertsError) {
    lines.push(`certs: ${err.message}`);
    if (err.hint) lines.push(`hint: ${err.hint}`);
  } else if (err instanceof Error) {
    // Not one of ours: a bug or an unexpected system error. Say so plainly.
    lines.push(`certs: unexpected error: ${err.message}`);
    if (!debug) lines.push('hint: run again with --debug for details');
  } else {
    lines.push(`certs: unexpected error: ${String(err)}`);
  }
  if (debug && err instanceof Error) {
    lines.push(err.stack ?? '');
    let cause = err.cause;
    while (cause instanceof Error) {
      lines.push(`caused by: ${cause.stack ?? cause.message}`);
      cause = cause.cause;
    }
  }
  return lines.join('\n');
}
