/**
 * Issue #10 §2: a deploy is one transaction, current/ included. Real Pebble renews, real nginx
 * refuses (a template it does not know), fails to reload, is not running, and the next run finishes:
 * - nginx -t refuses after a renewal: current/ returns to the version nginx accepted, the new one
 *   stays in the archive as issued, status shows deploy-failed; the next `certs run` deploys it;
 * - the reload fails after a renewal: the same, and the next `certs renew` (nothing due) deploys it;
 * - nginx is not running: the snippet nginx -t accepted stays (current/ too), exit 1 with
 *   "nginx is not running; the tested snippet is in place; start nginx"; after nginx starts, the
 *   next run verifies;
 * - a version whose chain the CA did not sign: refused before current/ moves.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { waitForPort } from '../helpers/ports.js';
import { createCA, createLeaf, pemBundle } from '../helpers/pki.js';
import { runCli, describeRun } from '../helpers/cli.js';
import { writeArchiveVersion } from '../../src/store/archive.js';

interface RenewJson { results: Array<{ domain: string; action: string; version?: number }>; deploy?: Array<{ domain: string; action: string; detail: string }> }
interface WriteJson { results: Array<{ domain: string; action: string; detail: string }> }
interface StatusJson { endpoints: Array<{ domain: string; fingerprint256: string | null; problems: Array<{ code: string; severity: string; message: string; hint?: string }> }> }

describe('a deploy is one transaction, current/ included', () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let restarted: ChildProcess | undefined;
  let snippets: string;
  let good: string;
  let rootFile: string;

  const current = (): string => readlinkSync(join(env.dataDir, 'certs', 'd.test', 'current'));
  const versionFp = (v: number): string => {
    const store = env.openStore();
    try {
      return store.issued.byVersion('d.test', v)!.fingerprint256;
    } finally {
      store.close();
    }
  };
  const yaml = (nginxExtra = '', reload?: string): string => `${env.acmeYaml()}
trust: { caFile: ${rootFile} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: ${reload ?? `[${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]`}
  verify: { timeoutMs: 5000, intervalMs: 50 }
${nginxExtra}
domains:
  - { name: d.test, endpoints: [{ host: d.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`;
  const served = async (file = good): Promise<StatusJson['endpoints'][number]> => {
    const scan = await runCli(['scan', '--config', file, '--json']);
    return (JSON.parse(scan.stdout) as StatusJson).endpoints[0]!;
  };
  const status = async (): Promise<StatusJson['endpoints'][number]> => {
    const s = await runCli(['status', '--config', good, '--json']);
    return (JSON.parse(s.stdout) as StatusJson).endpoints[0]!;
  };

  before(async () => {
    env = await startAcmeEnv();
    rootFile = join(env.dir, 'pebble-root.pem');
    writeFileSync(rootFile, await env.pebble.rootPem());
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    const ca = await createCA({ cn: 'old CA' });
    const old = await createLeaf({ dns: ['d.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'd.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['d.test'], extra: `include ${snippets}/d.test.conf;` }] });
    ({ file: good } = env.writeConfig(yaml()));
    const r = await runCli(['renew', '--config', good, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal((JSON.parse(r.stdout) as RenewJson).deploy?.[0]?.action, 'deployed');
    assert.equal(current(), 'archive/1');
  });
  after(async () => {
    restarted?.kill('SIGTERM');
    if (restarted && restarted.exitCode === null) await new Promise((r) => restarted!.once('exit', r));
    await Promise.allSettled([env?.stop(), ngx?.stop()]);
  });

  it('nginx -t refuses after a renewal: current/ returns to version 1, version 2 stays issued, deploy-failed; the next certs run deploys it', async () => {
    const tpl = join(env.dir, 'bad-templates');
    mkdirSync(tpl, { recursive: true });
    writeFileSync(join(tpl, 'ssl.conf'), 'ssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\nssl_bogus_directive on;\n');
    const { file: bad } = env.writeConfig(yaml(`  templateDir: ${tpl}`), 'bad.yaml');
    const r = await runCli(['renew', '--force', '--config', bad, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, describeRun(r));
    const doc = JSON.parse(r.stdout) as RenewJson;
    assert.equal(doc.results[0]?.action, 'issued');
    assert.equal(doc.deploy?.[0]?.action, 'failed');
    assert.equal(current(), 'archive/1', 'current/ must not stay on a version nginx never accepted');
    assert.match(doc.deploy![0]!.detail, /nginx refused the new configuration.*unknown directive "ssl_bogus_directive".*current\/ is back on version 1, the one nginx accepted; version 2 stays in the archive, not deployed; the next run retries it/s);
    assert.ok(existsSync(join(env.dataDir, 'certs', 'd.test', 'archive', '2', 'fullchain.pem')), 'version 2 stays in the archive');
    assert.equal((await served()).fingerprint256, versionFp(1), 'nginx still serves version 1');

    const st = await status();
    assert.deepEqual(st.problems.map((x) => x.code), ['deploy-failed'], 'deploy-failed explains the older certificate (no separate stale-deployment)');
    const p = st.problems.find((x) => x.code === 'deploy-failed');
    assert.ok(p, JSON.stringify(st.problems));
    assert.equal(p.severity, 'warning');
    assert.match(p.message, /^version 2 was issued but not deployed \(.*\): .*nginx refused the new configuration/);
    assert.match(p.hint ?? '', /certs nginx write d\.test/);
    const certs = await runCli(['certificates', '--config', good, '--json']);
    const lineage = (JSON.parse(certs.stdout) as { certificates: Array<{ current: number; deployedVersion: number | null; deployFailure: { version: number; code: string } | null; versions: Array<{ version: number }> }> }).certificates[0]!;
    assert.deepEqual([lineage.current, lineage.deployedVersion, lineage.deployFailure?.version, lineage.deployFailure?.code, lineage.versions.map((v) => v.version)], [1, 1, 2, 'nginx-test', [2, 1]], 'version 2 recorded as issued, not deployed');

    const run = await runCli(['run', '--config', good, '--json'], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, describeRun(run));
    assert.equal(current(), 'archive/2');
    assert.equal((await served()).fingerprint256, versionFp(2));
    assert.deepEqual((await status()).problems, []);
  });

  it('the reload fails after a renewal: current/ returns to version 2; the next certs renew (nothing due) deploys version 3', async () => {
    const { file: noReload } = env.writeConfig(yaml('', '[/bin/false]'), 'no-reload.yaml');
    const r = await runCli(['renew', '--force', '--config', noReload, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, describeRun(r));
    const doc = JSON.parse(r.stdout) as RenewJson;
    assert.equal(doc.deploy?.[0]?.action, 'failed');
    assert.equal(current(), 'archive/2');
    assert.match(doc.deploy![0]!.detail, /the reload failed.*current\/ is back on version 2/s);
    assert.ok((await status()).problems.some((x) => x.code === 'deploy-failed'));

    const again = await runCli(['renew', '--config', good, '--json'], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, describeRun(again));
    const d2 = JSON.parse(again.stdout) as RenewJson;
    assert.equal(d2.results[0]?.action, 'not-due');
    assert.equal(d2.deploy?.[0]?.action, 'deployed', again.stdout);
    assert.equal(current(), 'archive/3');
    assert.equal((await served()).fingerprint256, versionFp(3));
    assert.deepEqual((await status()).problems, []);
  });

  it('nginx not running: the snippet nginx -t accepted stays, exit 1 saying so; once nginx runs, the next run verifies', async () => {
    // Stop the master the way a crash or an operator would; nginx removes its pid file.
    process.kill(ngx.pid, 'SIGTERM');
    while (existsSync(ngx.pidFile)) await new Promise((r) => setTimeout(r, 20));
    const { file: hsts } = env.writeConfig(yaml('  hsts: true'), 'hsts.yaml');
    const before = readFileSync(join(snippets, 'd.test.conf'), 'utf8');
    const w = await runCli(['renew', '--force', '--config', hsts, '--json'], { timeoutMs: 60_000 });
    assert.equal(w.code, 1, describeRun(w));
    const doc = JSON.parse(w.stdout) as RenewJson;
    assert.equal(doc.deploy?.[0]?.action, 'failed');
    const now = readFileSync(join(snippets, 'd.test.conf'), 'utf8');
    assert.notEqual(now, before);
    assert.match(now, /Strict-Transport-Security/, 'the tested snippet was not rolled back');
    assert.match(doc.deploy![0]!.detail, /nginx is not running; the tested snippet is in place; start nginx/);
    assert.equal(current(), 'archive/4', 'current/ stays on the version nginx -t tested');
    const p = (await status()).problems.find((x) => x.code === 'deploy-failed');
    assert.match(p?.hint ?? '', /^start nginx/);

    restarted = spawn(NGINX_BIN, ngx.nginxArgs, { stdio: 'ignore' });
    await waitForPort('127.0.0.1', ngx.port, 10_000);
    const run = await runCli(['run', '--config', hsts, '--json'], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, describeRun(run));
    const ran = JSON.parse(run.stdout) as { deploy?: Array<{ action: string; detail: string }> };
    assert.equal(ran.deploy?.[0]?.action, 'deployed', run.stdout);
    assert.match(ran.deploy![0]!.detail, /clients now get the new certificate/);
    assert.equal((await served(hsts)).fingerprint256, versionFp(4));
    assert.deepEqual((await status()).problems, []);
  });

  it('a version whose chain does not belong to its leaf is refused before current/ moves', async () => {
    // Version 5: version 4's leaf and key with an intermediate that did not sign it.
    const v4 = join(env.dataDir, 'certs', 'd.test', 'archive', '4');
    const stranger = await createCA({ cn: 'Pebble Intermediate CA stranger', issuer: await createCA({ cn: 'stranger root' }) });
    const cert = readFileSync(join(v4, 'cert.pem'), 'utf8');
    const store = env.openStore();
    try {
      const { version, paths } = writeArchiveVersion(env.dataDir, 'd.test', { cert, chain: stranger.pem, fullchain: cert + pemBundle(stranger), privkey: readFileSync(join(v4, 'privkey.pem'), 'utf8') }, { minVersion: 5 });
      const { id: _id, ...row } = store.issued.byVersion('d.test', 4)!;
      store.issued.record({ ...row, version, dir: paths.dir, reason: 'test: a foreign chain' });
    } finally {
      store.close();
    }
    const { file: hsts } = env.writeConfig(yaml('  hsts: true'), 'hsts.yaml');
    const w = await runCli(['nginx', 'write', '--config', hsts, '--json']);
    assert.equal(w.code, 1, describeRun(w));
    const res = (JSON.parse(w.stdout) as WriteJson).results[0]!;
    assert.equal(res.action, 'failed');
    assert.match(res.detail, /domain "d\.test": version 5: certificate 2 of the chain \("Pebble Intermediate CA stranger" \(SHA-256 [0-9A-F:]+…\)\) did not sign certificate 1 .*refusing to switch current/);
    assert.equal(current(), 'archive/4');
    assert.equal((await served(hsts)).fingerprint256, versionFp(4));
    assert.ok((await status()).problems.some((x) => x.code === 'deploy-failed' && /did not sign/.test(x.message)));
  });
});
