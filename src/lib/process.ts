/**
 * The one way certs runs a program: hooks (dns-01, pre/post/deploy), nginx's test and reload, and
 * `nginx -T`. Always an argv, never a shell. The program sees the minimal environment of
 * lib/hook-env.ts, not ours. It runs in its own process group so that a timeout or an abort
 * also ends whatever it started: SIGTERM, then SIGKILL after a grace period.
 *
 * A failure is a ProcessError (kind io, code `process`) that says why (`reason`) and keeps what
 * the program printed; its message starts with the caller's `what` and carries the output tail
 * with credentials redacted, so it can be logged. Callers that need their own error kind wrap it
 * (acme/program.ts: AcmeError('hook'); deploy/nginx-check.ts: DeployError('nginx-dump')).
 */
import { spawn } from 'node:child_process';
import { errorMessage, IoError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { programEnv } from './hook-env.js';

export type ProcessFailure =
  /** argv[0] could not be started: ENOENT. */
  | 'not-found'
  /** EACCES: not executable. */
  | 'permission'
  /** Another spawn error. */
  | 'spawn'
  | 'timeout'
  /** Exited with a code other than 0. */
  | 'exit'
  /** Killed by a signal we did not send. */
  | 'signal'
  /** stdout went over `maxStdoutBytes`; the program was killed. */
  | 'too-large';

export interface RunProcessOptions {
  /** Added to the minimal environment (PATH, HOME, LANG, TZ, CERTS_*, hooks.passEnv); wins over it. */
  env?: Record<string, string>;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL after a timeout or abort; default 2000 ms; 0 sends SIGKILL at once. */
  killGraceMs?: number;
  /** Aborting kills the program and rejects with the signal's reason (not a ProcessError). */
  signal?: AbortSignal;
  /** Start of every error message, e.g. `domain "a.test": deploy hook "/usr/bin/x"`. */
  what: string;
  /**
   * Keep all of stdout, up to this many bytes (more kills the program: reason `too-large`).
   * Without it only the last 4 KiB are kept, for error messages.
   */
  maxStdoutBytes?: number;
  /**
   * Which part of stderr to keep: the last 4 KiB (default; a hook's last words say why it
   * failed) or the first 64 KiB (`head`; nginx says what went wrong first).
   */
  stderr?: 'tail' | 'head';
}

export interface ProcessOutput {
  stdout: string;
  stderr: string;
}

export interface ProcessErrorDetails {
  reason: ProcessFailure;
  argv: readonly string[];
  /** Exit code, when it exited. */
  exitCode?: number;
  /** The signal that ended it, when one did. */
  signal?: NodeJS.Signals;
  /** What was kept of stdout and stderr, unredacted (the message has the redacted form). */
  stdout: string;
  stderr: string;
  timeoutMs: number;
  /** The byte limit that `too-large` went over. */
  maxStdoutBytes?: number;
}

/** A program we ran failed; `reason` says how. Neutral: features wrap it in their own kind. */
export class ProcessError extends IoError {
  readonly reason: ProcessFailure;
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timeoutMs: number;
  readonly maxStdoutBytes: number | undefined;
  constructor(message: string, details: ProcessErrorDetails, cause?: unknown) {
    super('process', message, cause === undefined ? {} : { cause });
    this.reason = details.reason;
    this.argv = details.argv;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stdout = details.stdout;
    this.stderr = details.stderr;
    this.timeoutMs = details.timeoutMs;
    this.maxStdoutBytes = details.maxStdoutBytes;
  }

  /** A timeout may pass on a later try; a missing program or an exit code will not by itself. */
  get retryable(): boolean {
    return this.reason === 'timeout';
  }
}

const TAIL_BYTES = 4096;
const STDERR_HEAD_BYTES = 65536;

/** Resolves with the output on exit 0; otherwise rejects with a ProcessError (or the abort reason). */
export function runProcess(argv: readonly string[], opts: RunProcessOptions): Promise<ProcessOutput> {
  const [program, ...args] = argv;
  const grace = opts.killGraceMs ?? 2000;
  const stdout: Capture = opts.maxStdoutBytes === undefined ? new Tail(TAIL_BYTES) : new Whole(opts.maxStdoutBytes);
  const stderr: Capture = opts.stderr === 'head' ? new Head(STDERR_HEAD_BYTES) : new Tail(TAIL_BYTES);
  const fail = (reason: ProcessFailure, why: string, extra: { exitCode?: number; signal?: NodeJS.Signals; cause?: unknown } = {}): ProcessError =>
    new ProcessError(
      `${opts.what} ${why}`,
      {
        reason,
        argv,
        ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}),
        ...(extra.signal !== undefined ? { signal: extra.signal } : {}),
        stdout: stdout.text(),
        stderr: stderr.text(),
        timeoutMs: opts.timeoutMs,
        ...(opts.maxStdoutBytes !== undefined ? { maxStdoutBytes: opts.maxStdoutBytes } : {}),
      },
      extra.cause,
    );
  if (program === undefined || program === '') return Promise.reject(fail('not-found', 'cannot run: the command is empty'));
  return new Promise((resolve, reject) => {
    const signal = opts.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(program, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: programEnv(opts.env ?? {}) });
    let killedBy: 'timeout' | 'abort' | 'too-large' | undefined;
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
    const stop = (why: 'timeout' | 'abort' | 'too-large'): void => {
      if (killedBy) return;
      killedBy = why;
      if (grace <= 0) return killGroup('SIGKILL');
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), grace);
    };
    child.stdout?.on('data', (d: Buffer) => {
      if (!stdout.push(d)) stop('too-large');
    });
    child.stderr?.on('data', (d: Buffer) => stderr.push(d));
    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
    const onAbort = (): void => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (err: unknown, value?: ProcessOutput): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve(value as ProcessOutput);
      else reject(err);
    };
    const output = (): string => {
      const e = redactSecrets(stderr.text()).trim();
      const o = redactSecrets(stdout.tail(TAIL_BYTES)).trim();
      if (e) return `; stderr: ${e}`;
      return o ? `; stdout: ${o}` : '; no output';
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') settle(fail('not-found', 'cannot run: program not found (check the path and PATH)', { cause: err }));
      else if (err.code === 'EACCES') settle(fail('permission', 'cannot run: permission denied (is it executable?)', { cause: err }));
      else settle(fail('spawn', `cannot run: ${errorMessage(err)}`, { cause: err }));
    });
    // 'close' waits for the pipes so the output is complete; a daemon the program left behind
    // may hold them open for ever, so they get one second after the exit.
    let drainTimer: NodeJS.Timeout | undefined;
    child.once('exit', () => {
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 1000);
    });
    child.once('close', (code, sig) => {
      clearTimeout(drainTimer);
      const ended = { ...(code !== null ? { exitCode: code } : {}), ...(sig !== null ? { signal: sig } : {}) };
      if (killedBy === 'abort') return settle(signal?.reason);
      if (killedBy === 'timeout') return settle(fail('timeout', `was killed after ${opts.timeoutMs} ms (timeout; ${sig ?? 'exited'} after ${Date.now() - started} ms)${output()}`, ended));
      if (killedBy === 'too-large') return settle(fail('too-large', `printed more than ${opts.maxStdoutBytes} bytes; refusing to read more`, ended));
      if (code === 0) return settle(undefined, { stdout: stdout.text(), stderr: stderr.text() });
      settle(code === null ? fail('signal', `was killed by ${sig}${output()}`, ended) : fail('exit', `exited with code ${code}${output()}`, ended));
    });
  });
}

interface Capture {
  /** False when the data went over the limit (only Whole has one). */
  push(d: Buffer): boolean;
  text(): string;
  /** The last `max` bytes of what is kept, for messages. */
  tail(max: number): string;
}

/** Keeps the last `max` bytes of a stream; `…` marks that something was cut. */
class Tail implements Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;
  constructor(private readonly max: number) {}

  push(d: Buffer): boolean {
    this.chunks.push(d);
    this.size += d.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.max && this.chunks.length > 1) {
      this.size -= (this.chunks.shift() as Buffer).length;
      this.dropped = true;
    }
    return true;
  }

  text(): string {
    return this.tail(this.max);
  }

  tail(max: number): string {
    const all = Buffer.concat(this.chunks);
    const cut = all.length > max;
    const s = all.subarray(Math.max(0, all.length - max)).toString('utf8');
    return cut || this.dropped ? `…${s}` : s;
  }
}

/** Keeps the chunks that start within the first `max` bytes. */
class Head implements Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}

  push(d: Buffer): boolean {
    if (this.size < this.max) this.chunks.push(d);
    this.size += d.length;
    return true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  tail(max: number): string {
    return lastBytes(this.text(), max);
  }
}

/** Keeps everything up to `max` bytes; push says false past it. */
class Whole implements Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}

  push(d: Buffer): boolean {
    this.size += d.length;
    if (this.size > this.max) return false;
    this.chunks.push(d);
    return true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  tail(max: number): string {
    return lastBytes(this.text(), max);
  }
}

/** The last `max` bytes of a finished text, marked with `…` when cut. */
function lastBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length > max ? `…${b.subarray(b.length - max).toString('utf8')}` : s;
}
