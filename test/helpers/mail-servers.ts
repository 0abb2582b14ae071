// Real Postfix and Dovecot from Debian (packages postfix, dovecot-imapd, dovecot-pop3d), each a
// private instance on loopback with its own config, queue and state under a temp directory:
// never the system services (/etc/postfix has no main.cf; nothing under /etc/dovecot is read).
//
//   const pf = await startPostfix({ certPem, keyPem });   // SMTP with STARTTLS on 127.0.0.1:pf.port
//   const dv = await startDovecot({ certPem, keyPem });   // IMAP (STARTTLS) and POP3 (STLS)
//   await pf.stop(); await dv.stop();
//
// `certPem` is served as written (leaf first, then whatever chain the test wants), which is how
// both servers read their certificate file. Postfix runs as its own daemon (`postfix -c DIR
// start`, master as root, smtpd as user postfix); stop() runs `postfix -c DIR stop` and waits
// until the master's pid has gone. Dovecot runs in the foreground (`dovecot -F -c FILE`) as a
// child of the test; stop() sends SIGTERM and awaits its exit. Both need root (to bind as the
// master and switch users), which the CI machine has.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './ports.js';

const run = promisify(execFile);

/**
 * Instances whose stop() has not run, cleaned up when the test process exits anyway (a crash, a
 * cancelled hook): the Postfix master is a daemon, not our child, and would outlive it.
 */
const leftovers = new Set<() => void>();
let exitHook = false;
export function atExit(cleanup: () => void): () => void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of leftovers) c();
    });
  }
  leftovers.add(cleanup);
  return () => leftovers.delete(cleanup);
}

export interface CertFiles {
  /** Leaf first, then the chain as it should be served. */
  certPem: string;
  keyPem: string;
}

export interface Postfix {
  port: number;
  /** The instance's log (maillog_file), for assertion messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface Dovecot {
  imapPort: number;
  pop3Port: number;
  log(): string;
  stop(): Promise<void>;
}

export const POSTFIX_BIN = '/usr/sbin/postfix';
export const DOVECOT_BIN = '/usr/sbin/dovecot';

/** Why these servers cannot run here, or null when they can. */
export function mailServersUnavailable(): string | null {
  if (userInfo().uid !== 0) return 'Postfix and Dovecot instances need root';
  for (const bin of [POSTFIX_BIN, DOVECOT_BIN]) if (!existsSync(bin)) return `${bin} is not installed`;
  return null;
}

function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user} (is the package installed?)`);
  return Number(line.split(':')[2]);
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
}

async function untilGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    // Polling a foreign daemon's exit (it is not our child): the only way to see it.
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startPostfix(files: CertFiles): Promise<Postfix> {
  const dir = mkdtempSync(join(tmpdir(), 'certs-postfix-'));
  // Its daemons run as user postfix and must reach their directories below.
  chmodSync(dir, 0o755);
  const conf = join(dir, 'conf');
  const queue = join(dir, 'queue');
  const data = join(dir, 'data');
  for (const d of [conf, queue, data]) mkdirSync(d, { recursive: true });
  chownSync(data, uidOf('postfix'), 0);
  const cert = join(conf, 'chain.pem');
  const key = join(conf, 'key.pem');
  writeFileSync(cert, files.certPem);
  writeFileSync(key, files.keyPem, { mode: 0o600 });
  const maillog = join(dir, 'maillog');
  const port = await freePort();
  writeFileSync(join(conf, 'main.cf'), [
    'compatibility_level = 3.7',
    `queue_directory = ${queue}`,
    `data_directory = ${data}`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'myhostname = mail.test',
    'mydestination =',
    'local_recipient_maps =',
    `maillog_file = ${maillog}`,
    `maillog_file_prefixes = ${dir}`,
    'smtpd_tls_security_level = may',
    // The key, then the certificate and chain, as the file is written.
    `smtpd_tls_chain_files = ${key}, ${cert}`,
    '',
  ].join('\n'));
  writeFileSync(join(conf, 'master.cf'), [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'anvil unix - - n - 1 anvil',
    'tlsmgr unix - - n 1000? 1 tlsmgr',
    'proxymap unix - - n - - proxymap',
    'postlog unix-dgram n - n - 1 postlogd',
    '',
  ].join('\n'));
  const stopPostfix = async (): Promise<void> => {
    const pidFile = join(queue, 'pid', 'master.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    await run(POSTFIX_BIN, ['-c', conf, 'stop']).catch(() => undefined);
    if (pid > 0) await untilGone(pid, 5000);
  };
  const forget = atExit(() => {
    try {
      execFileSync(POSTFIX_BIN, ['-c', conf, 'abort'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // Not running: nothing to stop.
    }
  });
  try {
    await run(POSTFIX_BIN, ['-c', conf, 'start'], { timeout: 20_000 });
    await waitForPort('127.0.0.1', port, 10_000);
  } catch (err) {
    await stopPostfix();
    forget();
    const log = readLog(maillog);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postfix did not start: ${(err as Error).message}\n${log}`);
  }
  let stopped = false;
  return {
    port,
    log: () => readLog(maillog),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopPostfix();
      forget();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startDovecot(files: CertFiles): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'certs-dovecot-'));
  // Its login processes run as dovenull, its internal ones as dovecot.
  chmodSync(dir, 0o755);
  const cert = join(dir, 'chain.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, files.certPem);
  writeFileSync(key, files.keyPem, { mode: 0o600 });
  const log = join(dir, 'dovecot.log');
  const imapPort = await freePort();
  const pop3Port = await freePort();
  const confFile = join(dir, 'dovecot.conf');
  writeFileSync(confFile, `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${log}
instance_name = certs-test-${process.pid}
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <${cert}
ssl_key = <${key}
mail_location = maildir:${dir}/mail
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/home
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
}
`);
  const proc: ChildProcess = spawn(DOVECOT_BIN, ['-F', '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', (err) => {
      stderr += String(err);
      resolve();
    });
  });
  const early = new AbortController();
  void exited.then(() => early.abort(new Error('dovecot exited during start')));
  const forget = atExit(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    forget();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort('127.0.0.1', imapPort, 10_000, { signal: early.signal });
    await waitForPort('127.0.0.1', pop3Port, 10_000, { signal: early.signal });
  } catch (err) {
    const why = `dovecot did not start: ${(err as Error).message}\n${stderr}\n${readLog(log)}`;
    await stop();
    throw new Error(why);
  }
  return { imapPort, pop3Port, log: () => readLog(log), stop };
}
