// A private PostgreSQL 15 cluster for tests (Debian's postgresql package; binaries in
// /usr/lib/postgresql/15/bin): initdb as user postgres into a temp directory, then `postgres -D`
// in the foreground as a child of the test, listening on 127.0.0.1:<free port> only, its Unix
// socket in the data directory, with ssl = on and the given certificate file (leaf first, then
// the chain as it should be served). The system cluster is never touched. stop() sends SIGINT
// (fast shutdown) and awaits the exit.
//
//   const pg = await startPostgres({ certPem, keyPem });   // SSLRequest → 'S' on 127.0.0.1:pg.port
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './ports.js';
import { atExit, type CertFiles } from './mail-servers.js';

const run = promisify(execFile);
export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface Postgres {
  port: number;
  log(): string;
  stop(): Promise<void>;
  /**
   * Fast shutdown (SIGINT) keeping the data directory, then `whileDown` awaited (nothing listens
   * meanwhile), then the same server started again on the same port and data; resolves when it
   * takes logins again. Clients' connections are gone: they must reconnect.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

function postgresUser(): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) return null;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Why a cluster cannot run here, or null when it can. */
export function postgresUnavailable(): string | null {
  if (!existsSync(join(PG_BIN, 'postgres'))) return `${PG_BIN}/postgres is not installed`;
  if (userInfo().uid !== 0) return 'initdb must run as user postgres, which needs root to switch to';
  if (!postgresUser()) return 'no postgres user';
  return null;
}

export interface PostgresOptions {
  /**
   * The superuser's (postgres) password: TCP logins then need it (scram-sha-256), the Unix
   * socket in the temp dir stays trust. Without it every login is trusted.
   */
  password?: string;
  /** Default 40: store tests open several pools. */
  maxConnections?: number;
}

export async function startPostgres(files: CertFiles, opts: PostgresOptions = {}): Promise<Postgres> {
  const user = postgresUser();
  if (!user) throw new Error('no postgres user');
  const dir = mkdtempSync(join(tmpdir(), 'certs-pg-'));
  chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const as = { uid: user.uid, gid: user.gid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } };
  const auth = ['-A', 'trust'];
  if (opts.password !== undefined) {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
    chownSync(pwfile, user.uid, user.gid);
    auth.splice(0, 2, '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  }
  await run(join(PG_BIN, 'initdb'), ['-D', data, ...auth, '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { ...as, cwd: dir, timeout: 60_000 });
  if (opts.password !== undefined) rmSync(join(dir, 'pwfile'));
  const cert = join(data, 'server-chain.pem');
  const key = join(data, 'server.key');
  writeFileSync(cert, files.certPem);
  writeFileSync(key, files.keyPem, { mode: 0o600 });
  chownSync(cert, user.uid, user.gid);
  chownSync(key, user.uid, user.gid);
  const port = await freePort();
  const args = [
    '-D', data, '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `unix_socket_directories=${dir}`,
    '-c', 'ssl=on',
    '-c', `ssl_cert_file=${cert}`,
    '-c', `ssl_key_file=${key}`,
    '-c', 'fsync=off',
    '-c', `max_connections=${opts.maxConnections ?? 40}`,
    '-c', 'shared_buffers=8MB',
  ];
  let stderr = '';
  interface Launched { proc: ChildProcess; exited: Promise<void> }
  let current: Launched | undefined;
  const alive = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;
  /** Starts `postgres -D` on the data dir and port, resolving once it takes logins. */
  const launch = async (): Promise<void> => {
    const proc = spawn(join(PG_BIN, 'postgres'), args, { ...as, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    // The port opens before the server takes logins ("the database system is starting up"):
    // the log line that says it does is the signal — this process's line, not an earlier start's.
    let seen = '';
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    proc.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      seen += text;
      if (/database system is ready to accept connections/.test(seen)) markReady();
      if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
      if (seen.length > 100_000) seen = seen.slice(-50_000);
    });
    const exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', (err) => {
        stderr += String(err);
        resolve();
      });
    });
    current = { proc, exited };
    const early = new AbortController();
    void exited.then(() => early.abort(new Error('postgres exited during start')));
    await waitForPort('127.0.0.1', port, 20_000, { signal: early.signal });
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise((_, reject) => early.signal.addEventListener('abort', () => reject(early.signal.reason as Error), { once: true })),
      new Promise((_, reject) => (bound = setTimeout(() => reject(new Error('no "ready to accept connections" within 20 s')), 20_000))),
    ]).finally(() => clearTimeout(bound));
  };
  /** Fast shutdown (SIGINT) of the running server, awaited; the data dir stays. */
  const halt = async (): Promise<void> => {
    if (!current) return;
    if (alive(current.proc)) current.proc.kill('SIGINT');
    await current.exited;
  };
  const forget = atExit(() => {
    if (current && alive(current.proc)) current.proc.kill('SIGINT');
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await halt();
    forget();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (err) {
    const why = `postgres did not start: ${(err as Error).message}\n${stderr}`;
    await stop();
    throw new Error(why);
  }
  const restart = async (whileDown?: () => Promise<void>): Promise<void> => {
    if (stopped) throw new Error('postgres: restart() after stop()');
    await halt();
    await whileDown?.();
    try {
      await launch();
    } catch (err) {
      throw new Error(`postgres did not start again: ${(err as Error).message}\n${stderr.slice(-5_000)}`);
    }
  };
  return { port, log: () => stderr, stop, restart };
}
