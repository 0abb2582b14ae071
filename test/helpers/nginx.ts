// Runs the real nginx binary under a throw-away prefix on loopback ports, so scan and deploy tests
// see exactly what nginx serves (it sends ssl_certificate's file as-is: wrong order, extra certs
// and missing intermediates can all be staged by choosing certPem).
//
// Usage — always stop in finally (or t.after), even when the test throws:
//   const ngx = await startNginx({ sites: [{ serverNames: ['a.test'], certPem, keyPem }] });
//   try { ... tls.connect({ host: '127.0.0.1', port: ngx.port, servername: 'a.test' }) ... }
//   finally { await ngx.stop(); }
//
// Process model: nginx runs in the foreground (`daemon off;`) with a master and worker processes,
// as in production, so reload behaves as it does for users. The master is our direct child and
// takes its workers down with it on SIGTERM; stop() escalates to SIGKILL of the master and its
// children after a bounded wait. A process 'exit' hook SIGTERMs masters whose stop() was never
// called. A Ctrl-C in a terminal reaches nginx too (same process group), which shuts it down.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxSite {
  /** server_name values; the first connection without a matching SNI goes to the default site. */
  serverNames: string[];
  /**
   * The full served chain, sent byte-for-byte in this order. Leave both out when `extra` brings
   * its own ssl_certificate, ssl_certificate_key and ssl_protocols (an `include` of a certs
   * snippet): the site then writes none of the three.
   */
  certPem?: string;
  keyPem?: string;
  /**
   * ssl_protocols value; default "TLSv1.2 TLSv1.3". nginx 1.22 negotiates the version with the
   * default server's setting before SNI picks a site, so all sites on one address must agree
   * (startNginx throws otherwise): stage a TLS 1.3-only endpoint in an nginx of its own.
   */
  protocols?: string;
  /** Which loopback address(es) this site listens on; default 'v4'. */
  listen?: 'v4' | 'v6' | 'both';
  /** Mark as default_server for its listen addresses (else nginx's default is the first site). */
  default?: boolean;
  /** Extra directives inside this server block (@PREFIX@ is replaced by the prefix). */
  extra?: string;
}

export interface NginxOptions {
  sites: NginxSite[];
  /**
   * Raw directives appended inside http {}. `@PREFIX@` is replaced by the prefix; if `@HTTP_PORT@`
   * appears, a free 127.0.0.1 port is substituted (returned as httpPort) and awaited at start —
   * e.g. `server { listen 127.0.0.1:@HTTP_PORT@; root @PREFIX@/www; }`.
   */
  extraHttp?: string;
  /** Default 1. */
  workerProcesses?: number;
  /** Default 1024. */
  workerConnections?: number;
  /** Budget for nginx -t plus the ports accepting; default 10000 ms. */
  startTimeoutMs?: number;
  /** The IPv4 loopback address the 'v4' sites listen on (e.g. 127.0.0.3); default 127.0.0.1. */
  address?: string;
  /** The IPv4 TLS port, e.g. one port shared by instances on different addresses; default a free one. */
  port?: number;
}

export interface NginxInstance {
  /** The 127.0.0.1 TLS port (0 when no site listens on IPv4). */
  port: number;
  /** The [::1] TLS port, when a site listens on IPv6. */
  port6?: number;
  /** The port substituted for @HTTP_PORT@ in extraHttp. */
  httpPort?: number;
  prefix: string;
  confPath: string;
  pidFile: string;
  /** The master's pid. */
  pid: number;
  /** `-p PREFIX -c CONF -e LOG`: append `-t` or `-s reload` to drive this instance as deploy code would. */
  nginxArgs: string[];
  /**
   * Reloads (SIGHUP) and resolves once every worker runs the new configuration (the old workers
   * have exited). With `next`, rewrites the config first (ports are kept). Throws with nginx's
   * message if `nginx -t` rejects the config.
   */
  reload(next?: Pick<NginxOptions, 'sites' | 'extraHttp'>): Promise<void>;
  /** Stops nginx (SIGTERM, then SIGKILL after 5 s), awaits its exit, removes the prefix. Idempotent. */
  stop(): Promise<void>;
  /** The error log (notice level); still available after stop(). */
  errorLog(): string;
}

interface Ports {
  port: number;
  port6?: number;
  httpPort?: number;
}

const live = new Set<{ child: ChildProcess; prefix: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort for a forgotten stop(): only synchronous work is possible here.
  process.on('exit', () => {
    for (const { child, prefix } of live) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      rmSync(prefix, { recursive: true, force: true });
    }
  });
}

export async function startNginx(opts: NginxOptions): Promise<NginxInstance> {
  if (opts.sites.length === 0) throw new Error('startNginx: at least one site is needed');
  // freePort() can race with other processes; a bind failure gets fresh ports.
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt < attempts && err instanceof BindError) continue;
      throw err;
    }
  }
}

class BindError extends Error {}

async function startOnce(opts: NginxOptions): Promise<NginxInstance> {
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const prefix = mkdtempSync(join(os.tmpdir(), 'certs-nginx-'));
  const confPath = join(prefix, 'nginx.conf');
  const pidFile = join(prefix, 'nginx.pid');
  const logPath = join(prefix, 'error.log');
  const nginxArgs = ['-p', prefix, '-c', confPath, '-e', logPath];
  let lastLog = '';
  const readLog = (): string => {
    try {
      lastLog = readFileSync(logPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return lastLog;
  };

  let started: { proc: ChildProcess; exited: Promise<void> } | undefined;
  try {
    const needs = siteNeeds(opts.sites);
    const ports: Ports = { port: needs.v4 ? (opts.port ?? (await freePort(opts.address ?? '127.0.0.1'))) : 0 };
    if (needs.v6) ports.port6 = await freePort('::1');
    if (opts.extraHttp?.includes('@HTTP_PORT@')) ports.httpPort = await freePort('127.0.0.1');
    await mkdir(join(prefix, 'tmp'));
    await writeConfig(prefix, ports, opts, opts);
    await nginxTest(nginxArgs);

    const proc = spawn(NGINX_BIN, nginxArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let spawnError: Error | undefined;
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // 'exit' never comes when the binary could not be spawned; 'error' does instead.
    const exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.on('error', (err) => {
        spawnError ??= err;
        if (proc.pid === undefined) resolve();
      });
    });
    const early = new AbortController();
    void exited.then(() => early.abort(spawnError ?? new Error('nginx exited during start')));
    if (proc.pid !== undefined) started = { proc, exited };
    const entry = { child: proc, prefix };
    live.add(entry);
    installExitHook();

    try {
      const left = (): number => Math.max(1, deadline - Date.now());
      const waits: Array<Promise<void>> = [];
      if (ports.port) waits.push(waitForPort(opts.address ?? '127.0.0.1', ports.port, left(), { signal: early.signal }));
      if (ports.port6) waits.push(waitForPort('::1', ports.port6, left(), { signal: early.signal }));
      if (ports.httpPort) waits.push(waitForPort('127.0.0.1', ports.httpPort, left(), { signal: early.signal }));
      await Promise.all(waits);
      // The master binds the ports before it forks its workers: a listening port does not yet
      // mean a worker exists (a test counting workers right after start saw none).
      await workersUp(proc, opts.workerProcesses ?? 1, left(), early.signal);
    } catch (err) {
      live.delete(entry);
      const detail = `${stderr}${readLog()}`.trim();
      if (/Address already in use/i.test(detail)) throw new BindError(`nginx could not bind its ports: ${detail}`);
      throw new Error(`nginx did not start (${NGINX_BIN}): ${(err as Error).message}\n${detail}`, { cause: err });
    }

    let stopping: Promise<void> | undefined;
    const inst: NginxInstance = {
      ...ports,
      prefix,
      confPath,
      pidFile,
      pid: proc.pid as number,
      nginxArgs,
      errorLog: readLog,
      async reload(next) {
        if (stopping) throw new Error('nginx reload after stop()');
        if (next) {
          const n = siteNeeds(next.sites);
          if (n.v6 && !ports.port6) throw new Error('reload: a site now listens on IPv6 but the instance was started without an IPv6 site');
          if (n.v4 && !ports.port) throw new Error('reload: a site now listens on IPv4 but the instance was started without an IPv4 site');
          if (next.extraHttp?.includes('@HTTP_PORT@') && !ports.httpPort) throw new Error('reload: extraHttp uses @HTTP_PORT@ but the instance was started without it');
          await writeConfig(prefix, ports, next, opts);
        }
        await nginxTest(nginxArgs);
        await reloadAndWait(proc, logPath, opts.workerProcesses ?? 1);
      },
      stop() {
        stopping ??= (async () => {
          try {
            await terminate(proc, exited);
          } finally {
            readLog();
            live.delete(entry);
            await rm(prefix, { recursive: true, force: true });
          }
        })();
        return stopping;
      },
    };
    return inst;
  } catch (err) {
    if (started) await terminate(started.proc, started.exited);
    await rm(prefix, { recursive: true, force: true });
    throw err;
  }
}

function siteNeeds(sites: NginxSite[]): { v4: boolean; v6: boolean } {
  for (const family of ['v4', 'v6'] as const) {
    const onIt = sites.filter((s) => (s.listen ?? 'v4') === family || s.listen === 'both');
    const protocols = new Set(onIt.map((s) => normaliseProtocols(s.protocols)));
    if (protocols.size > 1) {
      throw new Error(`startNginx: sites listening on ${family} ask for different protocols (${[...protocols].join(' / ')}); nginx would apply only the default server's, so start one nginx per protocol set`);
    }
  }
  const modes = sites.map((s) => s.listen ?? 'v4');
  return { v4: modes.some((m) => m !== 'v6'), v6: modes.some((m) => m !== 'v4') };
}

function normaliseProtocols(p: string | undefined): string {
  return (p ?? DEFAULT_PROTOCOLS).split(/\s+/).filter(Boolean).sort().join(' ');
}

const DEFAULT_PROTOCOLS = 'TLSv1.2 TLSv1.3';

async function writeConfig(prefix: string, ports: Ports, next: Pick<NginxOptions, 'sites' | 'extraHttp'>, base: NginxOptions): Promise<void> {
  const p = (s: string): string => s.replaceAll('@PREFIX@', prefix).replaceAll('@HTTP_PORT@', String(ports.httpPort ?? ''));
  const servers: string[] = [];
  for (const [i, site] of next.sites.entries()) {
    const certFile = join(prefix, `site-${i}.crt`);
    const keyFile = join(prefix, `site-${i}.key`);
    const ownCert = site.certPem !== undefined && site.keyPem !== undefined;
    if (ownCert) {
      await writeFile(certFile, site.certPem!);
      await writeFile(keyFile, site.keyPem!, { mode: 0o600 });
    }
    const mode = site.listen ?? 'v4';
    const flags = `ssl${site.default ? ' default_server' : ''}`;
    const listens: string[] = [];
    if (mode !== 'v6') listens.push(`    listen ${base.address ?? '127.0.0.1'}:${ports.port} ${flags};`);
    if (mode !== 'v4') listens.push(`    listen [::1]:${ports.port6} ${flags};`);
    servers.push(
      [
        '  server {',
        ...listens,
        `    server_name ${site.serverNames.map(quote).join(' ')};`,
        ...(ownCert ? [`    ssl_certificate ${certFile};`, `    ssl_certificate_key ${keyFile};`, `    ssl_protocols ${site.protocols ?? DEFAULT_PROTOCOLS};`] : []),
        `    location / { return 200 "site ${i}\\n"; }`,
        site.extra ? p(site.extra) : '',
        '  }',
      ].join('\n'),
    );
  }
  const t = join(prefix, 'tmp');
  const conf = [
    '# generated by test/helpers/nginx.ts',
    // As root, nginx would switch workers to nobody, who cannot enter the 0700 prefix.
    process.getuid?.() === 0 ? 'user root;' : '',
    'daemon off;',
    'master_process on;',
    `worker_processes ${base.workerProcesses ?? 1};`,
    `pid ${join(prefix, 'nginx.pid')};`,
    `lock_file ${join(prefix, 'nginx.lock')};`,
    `error_log ${join(prefix, 'error.log')} notice;`,
    `events { worker_connections ${base.workerConnections ?? 1024}; }`,
    'http {',
    '  access_log off;',
    '  default_type text/plain;',
    `  client_body_temp_path ${t}/body;`,
    `  proxy_temp_path ${t}/proxy;`,
    `  fastcgi_temp_path ${t}/fastcgi;`,
    `  uwsgi_temp_path ${t}/uwsgi;`,
    `  scgi_temp_path ${t}/scgi;`,
    ...servers,
    next.extraHttp ? p(next.extraHttp) : '',
    '}',
    '',
  ].join('\n');
  await writeFile(join(prefix, 'nginx.conf'), conf);
}

// server_name does not expand variables, so only quotes and backslashes need escaping.
function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function nginxTest(nginxArgs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(NGINX_BIN, [...nginxArgs, '-t', '-q'], (err, _stdout, stderr) => {
      if (err) reject(new Error(`nginx -t failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

/** Direct children of `pid`, from /proc (Linux). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch (err) {
      // Processes come and go while we list them.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw err;
    }
    // Field 2 (comm) may contain spaces and parentheses; ppid is the 2nd field after its last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(name));
  }
  return out;
}

async function workersUp(proc: ChildProcess, workers: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const now = childPids(proc.pid as number);
    if (now.length >= workers) return;
    if (Date.now() > deadline) throw new Error(`nginx started ${now.length} of ${workers} workers within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function reloadAndWait(proc: ChildProcess, logPath: string, workers: number, timeoutMs = 10_000): Promise<void> {
  const pid = proc.pid as number;
  const before = new Set(childPids(pid));
  const logOffset = safeSize(logPath);
  proc.kill('SIGHUP');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`nginx exited during reload:\n${tail(logPath, logOffset)}`);
    const newLog = tail(logPath, logOffset);
    // nginx keeps the old workers when the new configuration fails to apply at runtime.
    const emerg = newLog.split('\n').find((l) => /\[(emerg|alert)\]/.test(l));
    if (emerg) throw new Error(`nginx reload failed: ${emerg}`);
    const now = childPids(pid);
    if (now.length >= workers && now.every((c) => !before.has(c))) return;
    if (Date.now() > deadline) throw new Error(`nginx reload did not finish within ${timeoutMs} ms (workers before ${[...before].join(',')}, now ${now.join(',')}):\n${newLog}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readIfExists(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
}

function safeSize(path: string): number {
  return readIfExists(path).length;
}

function tail(path: string, offset: number): string {
  return readIfExists(path).subarray(offset).toString('utf8');
}

async function terminate(proc: ChildProcess, exited: Promise<void>, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  // SIGTERM is nginx's fast shutdown: SIGQUIT would wait for clients a test left connected.
  proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (!timedOut) return;
  const pid = proc.pid as number;
  const orphans = childPids(pid);
  proc.kill('SIGKILL');
  for (const c of orphans) {
    try {
      process.kill(c, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  await exited;
}
