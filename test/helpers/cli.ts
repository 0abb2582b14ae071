/**
 * Runs the BUILT certs CLI (dist/cli/main.js, so `npm run build` first) as a child process, the
 * way users and cron run it, and collects what it printed.
 *
 *   const r = await runCli(['scan', '--config', cfg, '--json']);
 *   r.code    // exit code (a signal death is reported as 128 + signal number)
 *   r.stdout  // everything written to stdout
 *   r.stderr  // everything written to stderr
 *
 * The environment is the test's own minus what would change the CLI's behaviour behind a test's
 * back (NO_COLOR, FORCE_COLOR, CERTS_CONFIG, CERTS_NO_CACHE, NODE_OPTIONS, the test runner's
 * context); `opts.env` adds or overrides variables (a value of undefined removes one).
 * CERTS_CACHE_DIR points at a fresh temp dir per run (removed afterwards) unless `opts.env` sets it.
 * A run that takes longer than `timeoutMs` (default 30 s) is killed and the promise rejects.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface RunCliOptions {
  /** Working directory of the child (default: the test process's cwd). */
  cwd?: string;
  /** Variables to add or override; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed (stdin is closed at once without it). */
  input?: string;
  /** Kill the child and reject after this many ms (default 30 000). */
  timeoutMs?: number;
  /** Extra node options placed before the script (e.g. ['--import', 'data:…']). */
  nodeArgs?: string[];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const SCRUBBED = ['NO_COLOR', 'FORCE_COLOR', 'CERTS_CONFIG', 'CERTS_NO_CACHE', 'CERTS_CACHE_DIR', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT'];
const DEFAULT_TIMEOUT_MS = 30_000;

export async function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of SCRUBBED) delete env[key];
  let cacheDir: string | undefined;
  if (opts.env?.['CERTS_CACHE_DIR'] === undefined) {
    cacheDir = await mkdtemp(join(tmpdir(), 'certs-e2e-cache-'));
    env['CERTS_CACHE_DIR'] = cacheDir;
  }
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  try {
    return await spawnCli(args, opts, env);
  } finally {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  }
}

function spawnCli(args: string[], opts: RunCliOptions, env: NodeJS.ProcessEnv): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI_PATH, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    // The child may exit without reading its input: that is its business, not an error here.
    child.stdin.on('error', () => child.stdin.destroy());
    child.stdin.end(opts.input ?? '');

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${CLI_PATH}: ${e.message}`, { cause: e }));
    });
    // 'close' (not 'exit'): all output has been read by then.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new Error(`certs ${args.join(' ')} did not finish within ${timeoutMs} ms and was killed\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`));
        return;
      }
      const signalNumber = signal ? (osConstants.signals as Record<string, number>)[signal] ?? 0 : 0;
      resolve({ code: code ?? 128 + signalNumber, stdout, stderr });
    });
  });
}

/** A readable dump of a result for assertion messages (long outputs shortened in the middle). */
export function describeRun(r: CliResult, max = 4000): string {
  const clip = (s: string): string =>
    s.length <= max ? s : `${s.slice(0, max / 2)}\n… (${s.length - max} characters left out) …\n${s.slice(-max / 2)}`;
  return `exit ${r.code}\n--- stdout:\n${clip(r.stdout)}\n--- stderr:\n${clip(r.stderr)}`;
}
