/**
 * Faults survived (issue #6): a cycle meets a dead CA, a dead nginx and a clock that jumps a week,
 * and the next cycles put everything right without a flood of mail.
 *
 * 1. Pebble down for a run (its process group killed): the renewal fails, the backoff is stored,
 *    `certs status` shows renewal-failing and one alert goes out; a run inside the backoff does
 *    not try again. Pebble comes back (restarted: it has forgotten every account), and a run
 *    after the backoff — the built CLI with its clock moved on an hour — renews, deploys and sends
 *    the recovery once.
 * 2. nginx down while a certificate is issued: the deploy fails, the cycle exits non-zero and the
 *    unreachable endpoint is alerted; nginx started again on the same configuration, the next
 *    `certs run` finishes the deploy (the issued-but-not-deployed certificate) and recovers.
 * 3. The clock jumps a week between two cycles (service level, injected clocks): the certificate
 *    whose renewal point fell inside the week renews once, the thresholds crossed during the jump
 *    send one message for the smallest, the backoff from before the jump is over, and locks left
 *    by a process killed before the jump do not block.
 *
 * Real Pebble + challtestsrv (test/helpers/acme-env.ts), real nginx (test/helpers/nginx.ts), a real
 * SMTP server process (test/helpers/smtp-server.ts), the built CLI (`npm run build` first).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf, daysFrom } from '../helpers/pki.js';
import { startSmtpServer, type SmtpServerHandle } from '../helpers/smtp-server.js';
import { waitForPort } from '../helpers/ports.js';
import { describeRun, runCli, type CliResult } from '../helpers/cli.js';
import { openStore, type Store } from '../../src/store/index.js';
import { switchCurrent, writeArchiveVersion } from '../../src/store/archive.js';
import { newOwnerId, waitLease } from '../../src/service/lease.js';
import { runCycle, type RunResult } from '../../src/service/run.js';
import { makeRescanner, withLifecycleProblems } from '../../src/cli/commands/scan.js';
import { channelsOf } from '../../src/cli/compose.js';
import type { Config } from '../../src/config/types.js';
import { a } from '../helpers/async-store.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CLI_TIMEOUT_MS = 30_000;
/** Each scenario (hooks included) takes about 10 s; the three together stay within two minutes. */
const SUITE_TIMEOUT_MS = 40_000;

interface RunJson {
  endpoints: Array<{ domain: string; port: number; fingerprint256: string | null; problems: Array<{ code: string }> }>;
  run: { outcome: string; exitCode: number };
  renew: Array<{ domain: string; action: string; reason: string; nextAttemptAt?: string }>;
  deploy: Array<{ domain: string; action: string; detail: string }>;
  notify: { events: number; delivered: number; pending: number } | null;
}

interface StatusJson {
  endpoints: Array<{ domain: string; status: string; problems: Array<{ code: string; message: string }> }>;
}

function parse<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(`not JSON on stdout: ${describeRun(r)}`, { cause: err });
  }
}

/** Polls `check` until it is true (each check awaited before the next); throws after `timeoutMs`. */
async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not the case within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when 127.0.0.1:port refuses a TCP connection (nothing listens any more). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/**
 * Node options that move the CLI's clock (Date and Date.now) `ms` ahead: the built CLI has no
 * clock option, and a run "after the backoff" must not wait minutes. Only the CLI's own process
 * is affected; Pebble, nginx and TLS validity checks by OpenSSL keep the real time.
 */
function clockAhead(ms: number): string[] {
  const code = `const shift = ${ms}; const Real = Date;
class Shifted extends Real { constructor(...a) { if (a.length === 0) super(Real.now() + shift); else super(...a); } static now() { return Real.now() + shift; } }
globalThis.Date = Shifted;`;
  return ['--import', `data:text/javascript,${encodeURIComponent(code)}`];
}

function fingerprintOf(dataDir: string, domain: string): string {
  return new X509Certificate(readFileSync(join(dataDir, 'certs', domain, 'current', 'cert.pem'))).fingerprint256;
}

function withStore<T>(dataDir: string, fn: (store: Store) => T): T {
  const store = openStore(dataDir);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

// ---------------------------------------------------------------------------------------------

describe('Pebble down for a run: backoff recorded, a later run succeeds', { timeout: SUITE_TIMEOUT_MS }, () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let smtp: SmtpServerHandle;
  let snippets: string;
  let trustFile: string;

  const yaml = (keyType: string): string => `${env.acmeYaml()}
trust: { caFile: ${trustFile} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: p.test, keyType: ${keyType}, endpoints: [{ host: p.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`;

  before(async () => {
    env = await startAcmeEnv();
    smtp = await startSmtpServer();
    trustFile = join(env.dir, 'pebble-roots.pem');
    writeFileSync(trustFile, await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: ['p.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'p.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['p.test'], extra: `include ${snippets}/p.test.conf;` }] });
  });
  after(async () => {
    await Promise.allSettled([env?.stop(), ngx?.stop(), smtp?.dispose()]);
  });

  it('fails with a backoff while the CA is down, holds back inside the backoff, and recovers once after it', async () => {
    const { file: ecdsa } = env.writeConfig(yaml('ecdsa-p256'), 'ecdsa.yaml');
    const first = await runCli(['run', '--config', ecdsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(first.code, 0, describeRun(first));
    assert.deepEqual(parse<RunJson>(first).renew.map((o) => o.action), ['issued']);
    const accountBefore = withStore(env.dataDir, (s) => s.accounts.get(env.pebble.directoryUrl)?.accountUrl);
    assert.ok(accountBefore, 'an account was registered');

    // The CA goes away: its whole process group killed (stop() would rule out the restart below).
    process.kill(-env.pebble.pid(), 'SIGKILL');
    await waitUntil('Pebble refuses connections', () => refused(env.pebble.port));

    // The key type changes, so p.test is due: the renewal meets the dead CA.
    const { file: rsa } = env.writeConfig(yaml('rsa2048'), 'rsa.yaml');
    const before = Date.now();
    const down = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.notEqual(down.code, 0, describeRun(down));
    const ddoc = parse<RunJson>(down);
    assert.deepEqual(ddoc.renew.map((o) => [o.domain, o.action]), [['p.test', 'failed']], describeRun(down));
    assert.match(ddoc.renew[0]!.reason, /cannot reach the CA|connection refused/, 'the failure says the CA is unreachable');
    assert.deepEqual(ddoc.deploy, [], 'nothing new to deploy');
    assert.deepEqual(ddoc.endpoints[0]?.problems.map((p) => p.code), ['renewal-failing']);
    const state = withStore(env.dataDir, (s) => s.renewals.get('p.test'));
    assert.equal(state?.failures, 1);
    const next = Date.parse(state?.nextAttemptAt ?? '');
    assert.ok(next > Date.now() && next >= before + 4 * MINUTE && next <= Date.now() + 6 * MINUTE, `backoff of about 5 minutes, got ${state?.nextAttemptAt}`);
    assert.equal(ddoc.renew[0]!.nextAttemptAt, state?.nextAttemptAt);

    const status = await runCli(['status', '--config', rsa, '--json']);
    assert.equal(status.code, 1, describeRun(status));
    const sdoc = parse<StatusJson>(status);
    assert.deepEqual(sdoc.endpoints.map((e) => [e.domain, e.status, e.problems.map((p) => p.code)]), [['p.test', 'warning', ['renewal-failing']]]);
    assert.match(sdoc.endpoints[0]!.problems[0]!.message, /cannot reach the CA|connection refused/);

    let mails = await smtp.messages();
    assert.equal(mails.length, 1, 'one alert');
    assert.match(mails[0]!.subject, /renewal-failing/);
    assert.match(mails[0]!.raw, /p\.test/);

    // Inside the backoff nothing is tried (the CA is still down), and nothing is sent again.
    const held = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.notEqual(held.code, 0, describeRun(held));
    assert.deepEqual(parse<RunJson>(held).renew.map((o) => o.action), ['backoff']);
    assert.equal(withStore(env.dataDir, (s) => s.renewals.get('p.test')?.failures), 1, 'no attempt, no new failure');
    assert.equal((await smtp.messages()).length, 1, 'no second alert for the same problem');

    // The CA is back — a new Pebble on the same ports that has forgotten every account — with a
    // new issuing root, which the scanner is told to trust.
    await env.pebble.restart();
    appendFileSync(trustFile, await env.pebble.rootPem());

    // A run after the backoff (the CLI's clock an hour on).
    const later = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS, nodeArgs: clockAhead(HOUR) });
    assert.equal(later.code, 0, describeRun(later));
    const ldoc = parse<RunJson>(later);
    assert.deepEqual(ldoc.renew.map((o) => [o.domain, o.action]), [['p.test', 'issued']], describeRun(later));
    assert.deepEqual(ldoc.deploy.map((o) => [o.domain, o.action]), [['p.test', 'deployed']]);
    const issued = fingerprintOf(env.dataDir, 'p.test');
    assert.equal(ldoc.endpoints[0]?.fingerprint256, issued, 'clients get the new certificate');
    assert.deepEqual(ldoc.endpoints[0]?.problems, []);
    assert.equal(new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'p.test', 'current', 'cert.pem'))).publicKey.asymmetricKeyType, 'rsa');
    const after1 = withStore(env.dataDir, (s) => ({ state: s.renewals.get('p.test'), account: s.accounts.get(env.pebble.directoryUrl)?.accountUrl }));
    assert.equal(after1.state?.failures, 0);
    assert.ok(after1.account && after1.account !== accountBefore, `a new account was registered with the restarted CA (was ${accountBefore}, now ${after1.account})`);

    mails = await smtp.messages();
    assert.equal(mails.length, 2, 'one recovery message');
    assert.match(mails[1]!.subject, /recovered/);
    assert.match(mails[1]!.raw, /renewal-failing/);

    const again = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS, nodeArgs: clockAhead(HOUR) });
    assert.equal(again.code, 0, describeRun(again));
    assert.deepEqual(parse<RunJson>(again).renew.map((o) => o.action), ['not-due']);
    assert.equal((await smtp.messages()).length, 2, 'the recovery went out once');
  });
});

// ---------------------------------------------------------------------------------------------

/** nginx started from an existing prefix (as an operator would: same configuration, same ports). */
async function startNginxAgain(ngx: NginxInstance): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(NGINX_BIN, ngx.nginxArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
    proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 5000)))]);
    clearTimeout(timer);
    if (late) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  try {
    const early = new AbortController();
    void exited.then(() => early.abort(new Error(`nginx exited: ${stderr}`)));
    await waitForPort('127.0.0.1', ngx.port, 10_000, { signal: early.signal });
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, stop };
}

describe('nginx down: deploy retried, alert sent', { timeout: SUITE_TIMEOUT_MS }, () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let again: { stop(): Promise<void> } | undefined;
  let smtp: SmtpServerHandle;
  let snippets: string;

  const yaml = (keyType: string): string => `${env.acmeYaml()}
trust: { caFile: ${join(env.dir, 'pebble-root.pem')} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: n.test, keyType: ${keyType}, endpoints: [{ host: n.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`;

  before(async () => {
    env = await startAcmeEnv();
    smtp = await startSmtpServer();
    writeFileSync(join(env.dir, 'pebble-root.pem'), await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    const ca = await createCA({ cn: 'placeholder CA' });
    const old = await createLeaf({ dns: ['n.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'n.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['n.test'], extra: `include ${snippets}/n.test.conf;` }] });
  });
  after(async () => {
    // The nginx started again first: ngx.stop() removes the prefix it runs from.
    await again?.stop();
    await Promise.allSettled([env?.stop(), ngx?.stop(), smtp?.dispose()]);
  });

  it('a certificate issued while nginx is down fails to deploy and alerts; the next run deploys it and recovers once', async () => {
    const { file: ecdsa } = env.writeConfig(yaml('ecdsa-p256'), 'ecdsa.yaml');
    const first = await runCli(['run', '--config', ecdsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(first.code, 0, describeRun(first));
    assert.deepEqual(parse<RunJson>(first).deploy.map((o) => o.action), ['deployed']);
    const v1 = fingerprintOf(env.dataDir, 'n.test');

    // nginx stops (its master gets SIGTERM and exits; the configuration stays where it was).
    process.kill(ngx.pid, 'SIGTERM');
    await waitUntil('nginx gone', async () => !existsSync(ngx.pidFile) && (await refused(ngx.port)));

    // A new key type makes n.test due: issued, but the reload cannot reach a running nginx.
    const { file: rsa } = env.writeConfig(yaml('rsa2048'), 'rsa.yaml');
    const down = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.notEqual(down.code, 0, describeRun(down));
    const ddoc = parse<RunJson>(down);
    assert.deepEqual(ddoc.renew.map((o) => [o.domain, o.action]), [['n.test', 'issued']], describeRun(down));
    assert.deepEqual(ddoc.deploy.map((o) => [o.domain, o.action]), [['n.test', 'failed']], describeRun(down));
    assert.match(ddoc.deploy[0]!.detail, /reload|nginx\.pid/i, 'the failure names the reload');
    assert.equal(ddoc.run.outcome, 'critical');
    const v2 = fingerprintOf(env.dataDir, 'n.test');
    assert.notEqual(v2, v1, 'the new certificate is current');
    const problems = ddoc.endpoints[0]!.problems.map((p) => p.code);
    assert.ok(problems.includes('unreachable'), `the endpoint is judged as clients see it: ${problems.join(', ')}`);
    const deployed = withStore(env.dataDir, (s) => s.deployments.get('n.test')?.fingerprint256);
    assert.equal(deployed, v1, 'the deployment record still names the old certificate');
    let mails = await smtp.messages();
    assert.equal(mails.length, 1, 'one alert');
    assert.match(mails[0]!.subject, /CRITICAL: unreachable on n\.test/);

    // nginx is started again (same configuration and port); the next run finishes the deploy.
    again = await startNginxAgain(ngx);
    const back = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(back.code, 0, describeRun(back));
    const bdoc = parse<RunJson>(back);
    assert.deepEqual(bdoc.renew.map((o) => o.action), ['not-due'], 'nothing renewed again');
    assert.deepEqual(bdoc.deploy.map((o) => [o.domain, o.action]), [['n.test', 'deployed']], describeRun(back));
    assert.equal(bdoc.endpoints[0]?.fingerprint256, v2, 'clients get the new certificate');
    assert.deepEqual(bdoc.endpoints[0]?.problems, []);
    assert.equal(withStore(env.dataDir, (s) => s.deployments.get('n.test')?.fingerprint256), v2);
    mails = await smtp.messages();
    assert.equal(mails.length, 2, 'one recovery message');
    assert.match(mails[1]!.subject, /recovered: n\.test/);
    assert.match(mails[1]!.raw, /unreachable/);

    const quiet = await runCli(['run', '--config', rsa, '--json'], { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(quiet.code, 0, describeRun(quiet));
    assert.deepEqual(parse<RunJson>(quiet).deploy, [], 'deployed once');
    assert.equal((await smtp.messages()).length, 2, 'nothing more to say');
  });
});

// ---------------------------------------------------------------------------------------------

describe('the system clock jumps a week forward between runs: policies act on it consistently', { timeout: SUITE_TIMEOUT_MS }, () => {
  const T0 = Date.now();
  /** The injected clock: real time moved by `offset` (0 before the jump, 7 days after). */
  let offset = 0;
  const now = (): Date => new Date(Date.now() + offset);
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let smtp: SmtpServerHandle;
  let store: Store;
  let config: Config;
  const log: string[] = [];

  /** One cycle as `certs run` wires it (cli/commands/run.ts cycle()), with the injected clock. */
  async function cycle(): Promise<RunResult> {
    const owner = newOwnerId();
    // waitMs 0: a lock that is held fails the cycle at once instead of waiting for it.
    const lease = await waitLease(a(store).locks, 'run', owner, 0);
    try {
      const scan = await makeRescanner(config, a(store), { stdout: process.stderr, stderr: process.stderr, now });
      return await runCycle(config, a(store), {
        scan,
        overlay: (reports) => withLifecycleProblems(config, reports),
        now,
        random: () => 0.5,
        channels: channelsOf(config),
        owner,
        log: (event, fields) => log.push(`${now().toISOString()} ${event} ${JSON.stringify(fields ?? {})}`),
      }, { renew: true, notify: true });
    } finally {
      lease.release();
    }
  }
  const actions = (r: RunResult): string[][] => r.renew.map((o) => [o.domain, o.action]).sort();
  const expiryKeys = (): string[] => [...store.notifications.sentKeys()].filter((k) => k.includes('|w.test|')).map((k) => k.slice(k.lastIndexOf(':') + 1)).sort((a, b) => Number(b) - Number(a));

  before(async () => {
    env = await startAcmeEnv();
    smtp = await startSmtpServer();
    const ca = await createCA({ cn: 'clock jump CA' });
    writeFileSync(join(env.dir, 'ca.pem'), ca.pem);
    // Monitored: 10½ days left at T, 3½ at T+7d (a 90-day certificate: every threshold counts).
    const watched = await createLeaf({ dns: ['w.test'], issuer: ca, notBefore: daysFrom(new Date(T0), -80), notAfter: new Date(T0 + 10 * DAY + 12 * HOUR) });
    ngx = await startNginx({ sites: [{ serverNames: ['w.test'], certPem: watched.pem, keyPem: watched.keyPem }] });
    ({ config } = env.writeConfig(`${env.acmeYaml()}
trust: { caFile: ${join(env.dir, 'ca.pem')} }
notify:
  email: { smtp: { host: 127.0.0.1, port: ${smtp.port}, requireTLS: false, timeoutMs: 5000 }, from: certs@example.com, to: [ops@example.com] }
domains:
  - { name: due.test, endpoints: [] }
  - { name: retry.test, endpoints: [] }
  - { name: w.test, managed: false, endpoints: [{ host: w.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`));
    store = openStore(env.dataDir, { clock: () => Date.now() + offset });
    // due.test holds a 90-day certificate (from an earlier CA) that renews at ⅓ left: T + 3 days.
    const held = await createLeaf({ dns: ['due.test'], issuer: ca, notBefore: daysFrom(new Date(T0), -57), notAfter: daysFrom(new Date(T0), 33) });
    const { version, paths } = writeArchiveVersion(env.dataDir, 'due.test', { cert: held.pem, chain: ca.pem, fullchain: held.pem + ca.pem, privkey: held.keyPem });
    store.issued.record({
      lineage: 'due.test', version, fingerprint256: held.cert.fingerprint256, serial: held.cert.serialNumber,
      notBefore: new Date(held.cert.validFrom).toISOString(), notAfter: new Date(held.cert.validTo).toISOString(), issuer: held.cert.issuer,
      names: ['due.test'], keyType: 'ecdsa-p256', directoryUrl: env.pebble.directoryUrl, profile: null, ariCertId: null, replacedId: null,
      dir: paths.dir, issuedAt: daysFrom(new Date(T0), -57).toISOString(), reason: 'seeded by the test', revokedAt: null, revokeReason: null,
    });
    switchCurrent(env.dataDir, 'due.test', version);
  });
  after(async () => {
    store?.close();
    await Promise.allSettled([env?.stop(), ngx?.stop(), smtp?.dispose()]);
  });

  it('renews once, sends one message for the smallest threshold crossed, ends the backoff and ignores stale locks', async () => {
    // T: retry.test cannot be validated (its DNS answers SERVFAIL): it fails and backs off.
    await env.dns.setServfail('retry.test');
    const atT = await cycle();
    assert.deepEqual(actions(atT), [['due.test', 'not-due'], ['retry.test', 'failed']], log.join('\n'));
    assert.match(atT.renew.find((o) => o.domain === 'due.test')!.reason, /^renews /);
    const backoff = store.renewals.get('retry.test');
    assert.equal(backoff?.failures, 1);
    const waitUntilMs = Date.parse(backoff!.nextAttemptAt!);
    assert.ok(waitUntilMs > T0 + 4 * MINUTE && waitUntilMs < T0 + 10 * MINUTE, `backoff of minutes: ${backoff!.nextAttemptAt}`);
    assert.deepEqual(atT.notify?.events.map((e) => [e.kind, e.domain, e.threshold]), [['expiry', 'w.test', 14]], 'one message at 10 days left: the 14-day one (30 is marked, not sent)');
    assert.deepEqual(expiryKeys(), ['30', '14']);
    assert.equal((await smtp.messages()).length, 1);

    // Still at T: a process takes the run lock and a certificate lock, and is killed with them.
    offset = MINUTE;
    assert.ok(store.locks.tryAcquire('run', 'dead-owner', 60_000));
    assert.ok(store.locks.tryAcquire('cert:due.test', 'dead-owner', 60_000));
    await assert.rejects(waitLease(a(store).locks, 'run', newOwnerId(), 0), /dead-owner/, 'while its lease runs, the lock holds');

    // The clock jumps a week; meanwhile the DNS was fixed.
    await env.dns.clearServfail('retry.test');
    offset = 7 * DAY;
    assert.ok(store.locks.holder('run') === null, 'the dead lease is over');
    const atWeek = await cycle();
    assert.deepEqual(actions(atWeek), [['due.test', 'issued'], ['retry.test', 'issued']], log.join('\n'));
    assert.match(atWeek.renew.find((o) => o.domain === 'due.test')!.reason, /^due since /);
    assert.equal(store.renewals.get('retry.test')?.failures, 0);
    const events = atWeek.notify?.events ?? [];
    assert.deepEqual(events.map((e) => [e.kind, e.domain, e.threshold, e.severity]), [['expiry', 'w.test', 3, 'critical']], 'one message, for the 3-day threshold only (7 crossed silently)');
    assert.deepEqual(expiryKeys(), ['30', '14', '7', '3']);
    const mails = await smtp.messages();
    assert.equal(mails.length, 2, 'one digest for the jump');
    assert.match(mails[1]!.subject, /w\.test/);
    assert.equal(store.locks.holder('run'), null, 'the run released its lock');

    // Another run a minute later: nothing is due (the new certificate is not renewed again), nothing to say.
    offset = 7 * DAY + MINUTE;
    const again = await cycle();
    assert.deepEqual(actions(again), [['due.test', 'not-due'], ['retry.test', 'not-due']], log.join('\n'));
    assert.deepEqual(again.notify?.events, []);
    assert.equal((await smtp.messages()).length, 2);
    assert.deepEqual(store.issued.list('due.test').map((c) => c.version), [2, 1], 'renewed once');
    assert.equal(store.issued.list('retry.test').length, 1);
    // What is left is what clients see: w.test's certificate 3½ days from expiry (critical, exit 2).
    assert.deepEqual(again.reports.map((r) => [r.domain, r.status, r.problems.map((p) => p.code)]), [['w.test', 'critical', ['expiring-soon']]]);
    assert.deepEqual(again.errors, []);
    assert.equal(again.run.exitCode, 2);
  });
});
