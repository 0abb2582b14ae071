/**
 * Runs a user's program (argv, never a shell) with a time limit: the DNS hook and the
 * per-domain pre/post/deploy hooks. It runs in its own process group so that a timeout also ends
 * whatever a script started; SIGTERM first, SIGKILL after a grace period.
 *
 * The program sees a minimal environment (hook-env.ts), not ours. The tail of its output is kept
 * in the error for diagnosis (renewal records, `/status`, logs), with credentials redacted.
 */
import { spawn } from 'node:child_process';
import { AcmeError, errorMessage } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { programEnv } from './hook-env.js';

export interface RunProgramOptions {
  /** Added to the minimal environment of hook-env.ts (PATH, HOME, LANG, TZ, CERTS_*, hooks.passEnv). */
  env: Record<string, string>;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL after a timeout; default 2000 ms. */
  killGraceMs?: number;
  signal?: AbortSignal;
  /** Start of every error message, e.g. `domain "a.test": deploy hook "/usr/bin/x"`. */
  what: string;
  domain?: string;
}

const TAIL_BYTES = 4096;

/** Resolves on exit 0; otherwise rejects with AcmeError('hook') carrying the output tail. */
export function runProgram(argv: readonly string[], opts: RunProgramOptions): Promise<void> {
  const [program, ...args] = argv as [string, ...string[]];
  const grace = opts.killGraceMs ?? 2000;
  const fail = (why: string, cause?: unknown, retryable = false): AcmeError =>
    new AcmeError('hook', `${opts.what} ${why}`, { ...(opts.domain ? { domain: opts.domain } : {}), retryable }, cause === undefined ? {} : { cause });
  return new Promise((resolve, reject) => {
    const signal = opts.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(program, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: programEnv(opts.env) });
    const stdout = new Tail(TAIL_BYTES);
    const stderr = new Tail(TAIL_BYTES);
    child.stdout?.on('data', (d: Buffer) => stdout.push(d));
    child.stderr?.on('data', (d: Buffer) => stderr.push(d));
    let killedBy: 'timeout' | 'abort' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const started = Date.now();
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch (err) {
        // ESRCH: the group is already gone, which is what we wanted.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    };
    const stop = (why: 'timeout' | 'abort'): void => {
      if (killedBy) return;
      killedBy = why;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), grace);
    };
    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
    const onAbort = (): void => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const output = (): string => {
      const e = redactSecrets(stderr.text()).trim();
      const o = redactSecrets(stdout.text()).trim();
      if (e) return `; stderr: ${e}`;
      return o ? `; stdout: ${o}` : '; no output';
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') settle(fail('cannot run: program not found (check the path and PATH)', err));
      else if (err.code === 'EACCES') settle(fail('cannot run: permission denied (is it executable?)', err));
      else settle(fail(`cannot run: ${errorMessage(err)}`, err));
    });
    // 'close' waits for the pipes so the output tail is complete; a daemon the program left
    // behind may hold them open for ever, so they get one second after the exit.
    let drainTimer: NodeJS.Timeout | undefined;
    child.once('exit', () => {
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 1000);
    });
    child.once('close', (code, sig) => {
      clearTimeout(drainTimer);
      if (killedBy === 'abort') return settle(signal?.reason);
      if (killedBy === 'timeout') return settle(fail(`was killed after ${opts.timeoutMs} ms (timeout; ${sig ?? 'exited'} after ${Date.now() - started} ms)${output()}`, undefined, true));
      if (code === 0) return settle();
      settle(fail(code === null ? `was killed by ${sig}${output()}` : `exited with code ${code}${output()}`));
    });
  });
}

/** Keeps the last `max` bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;
  constructor(private readonly max: number) {}

  push(d: Buffer): void {
    this.chunks.push(d);
    this.size += d.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.max && this.chunks.length > 1) {
      this.size -= (this.chunks.shift() as Buffer).length;
      this.dropped = true;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    const cut = all.length > this.max;
    const s = all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
    return cut || this.dropped ? `…${s}` : s;
  }
}
