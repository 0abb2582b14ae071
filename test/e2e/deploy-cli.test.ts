/**
 * certs renew → snippet → nginx -t → reload → verify, against a real Pebble and a real nginx whose
 * server block includes the snippet certs writes; and the transaction's failure paths.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { runCli } from '../helpers/cli.js';

const run = promisify(execFile);

interface RenewJson { results: Array<{ domain: string; action: string }>; deploy?: Array<{ domain: string; action: string; detail: string }> }
interface WriteJson { results: Array<{ domain: string; action: string; detail: string }> }

/** The leaf nginx serves for `name`, as `openssl s_client` sees it. */
async function servedByOpenssl(port: number, name: string): Promise<{ fingerprint: string; verify: string }> {
  const { stdout } = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${port} -servername ${name} -CAfile "$CAFILE" </dev/null 2>/dev/null`], { env: { ...process.env, CAFILE: process.env['CERTS_TEST_CAFILE'] ?? '' }, timeout: 10_000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout)?.[0];
  assert.ok(pem, `openssl s_client printed a certificate:\n${stdout}`);
  return { fingerprint: new X509Certificate(pem).fingerprint256, verify: /Verify return code: (\d+ \([^)]*\))/.exec(stdout)?.[1] ?? '?' };
}

describe('renew deploys to nginx: snippet, nginx -t, reload, verify', () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let snippets: string;
  let configFile: string;
  let rootFile: string;

  const yaml = (extra = '', nginxExtra = ''): string => `${env.acmeYaml()}
trust: { caFile: ${rootFile} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
${nginxExtra}
domains:
  - { name: d.test, endpoints: [{ host: d.test, port: ${ngx.port}, address: 127.0.0.1 }] }
${extra}`;

  before(async () => {
    env = await startAcmeEnv();
    rootFile = join(env.dir, 'pebble-root.pem');
    writeFileSync(rootFile, await env.pebble.rootPem());
    process.env['CERTS_TEST_CAFILE'] = rootFile;
    snippets = join(env.dir, 'snippets');
    mkdirSync(snippets);
    // What an operator had before certs: a snippet with some other certificate.
    const ca = await createCA({ cn: 'old CA' });
    const old = await createLeaf({ dns: ['d.test'], issuer: ca });
    writeFileSync(join(env.dir, 'old.pem'), old.pem);
    writeFileSync(join(env.dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'd.test.conf'), `ssl_certificate ${join(env.dir, 'old.pem')};\nssl_certificate_key ${join(env.dir, 'old.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['d.test'], extra: `include ${snippets}/d.test.conf;` }] });
    ({ file: configFile } = env.writeConfig(yaml()));
  });
  after(async () => {
    delete process.env['CERTS_TEST_CAFILE'];
    await Promise.allSettled([env?.stop(), ngx?.stop()]);
  });

  it('issues, writes the snippet, tests and reloads nginx; openssl and certs scan see the new chain clean', async () => {
    const r = await runCli(['renew', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as RenewJson;
    assert.equal(doc.results[0]?.action, 'issued');
    assert.equal(doc.deploy?.[0]?.action, 'deployed', JSON.stringify(doc.deploy));
    assert.match(doc.deploy![0]!.detail, /clients now get the new certificate/);
    const snippet = readFileSync(join(snippets, 'd.test.conf'), 'utf8');
    assert.match(snippet, /current\/fullchain\.pem;/);
    assert.ok(existsSync(join(snippets, 'd.test.conf.prev')), 'the previous snippet is kept');
    const issued = new X509Certificate(readFileSync(join(env.dataDir, 'certs', 'd.test', 'current', 'cert.pem')));
    const s = await servedByOpenssl(ngx.port, 'd.test');
    assert.equal(s.fingerprint, issued.fingerprint256);
    assert.equal(s.verify, '0 (ok)');
    const scan = await runCli(['scan', '--config', configFile, '--json']);
    assert.equal(scan.code, 0, scan.stdout);
    const rep = JSON.parse(scan.stdout) as { endpoints: Array<{ fingerprint256: string; problems: unknown[] }> };
    assert.equal(rep.endpoints[0]?.fingerprint256, issued.fingerprint256);
    assert.deepEqual(rep.endpoints[0]?.problems, []);
  });

  it('a second run with nothing changed writes nothing and does not reload', async () => {
    const before = readFileSync(join(snippets, 'd.test.conf'));
    const w = await runCli(['nginx', 'write', '--config', configFile, '--json']);
    assert.equal(w.code, 0, w.stderr);
    const doc = JSON.parse(w.stdout) as WriteJson;
    assert.deepEqual(doc.results.map((x) => x.action), ['unchanged']);
    assert.doesNotMatch(w.stderr, /reloaded/);
    assert.deepEqual(readFileSync(join(snippets, 'd.test.conf')), before);
  });

  it('a renewed certificate is reloaded even though the snippet is unchanged; without a reload it is a stale deployment', async () => {
    // Renew behind nginx's back: the files change, nginx still serves the old certificate.
    const { file: noDeploy } = env.writeConfig(yaml().replace(/nginx:\n(?: {2}.*\n)+/, ''), 'no-nginx.yaml');
    const r = await runCli(['renew', 'd.test', '--force', '--config', noDeploy, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const status = await runCli(['scan', '--config', configFile, '--json']);
    const rep = JSON.parse(status.stdout) as { endpoints: Array<{ problems: Array<{ code: string; message: string }> }> };
    assert.deepEqual(rep.endpoints[0]?.problems.map((p) => p.code), ['stale-deployment'], status.stdout);
    assert.match(rep.endpoints[0]!.problems[0]!.message, /version 2/);
    const w = await runCli(['nginx', 'write', '--config', configFile, '--json']);
    assert.equal(w.code, 0, w.stdout + w.stderr);
    assert.deepEqual((JSON.parse(w.stdout) as WriteJson).results.map((x) => x.action), ['deployed']);
    const again = await runCli(['scan', '--config', configFile, '--json']);
    assert.deepEqual((JSON.parse(again.stdout) as { endpoints: Array<{ problems: unknown[] }> }).endpoints[0]?.problems, []);
  });

  it('a template nginx refuses: every previous file is back, nginx still serves the old certificate, nginx\'s message is shown', async () => {
    const tpl = join(env.dir, 'bad-templates');
    mkdirSync(tpl, { recursive: true });
    writeFileSync(join(tpl, 'ssl.conf'), 'ssl_certificate {{certificate}};\nssl_certificate_key {{certificateKey}};\nssl_bogus_directive on;\n');
    const { file } = env.writeConfig(yaml('', `  templateDir: ${tpl}`), 'bad.yaml');
    const before = readFileSync(join(snippets, 'd.test.conf'));
    const served = await servedByOpenssl(ngx.port, 'd.test');
    const w = await runCli(['nginx', 'write', '--config', file, '--json']);
    assert.equal(w.code, 1, w.stdout + w.stderr);
    const res = (JSON.parse(w.stdout) as WriteJson).results[0]!;
    assert.equal(res.action, 'failed');
    assert.match(res.detail, /nginx refused the new configuration.*previous snippets are back.*unknown directive "ssl_bogus_directive"/s);
    assert.deepEqual(readFileSync(join(snippets, 'd.test.conf')), before);
    assert.equal((await servedByOpenssl(ngx.port, 'd.test')).fingerprint, served.fingerprint);
  });

  it('a reload that fails puts the previous snippet back and exits 1', async () => {
    const { file } = env.writeConfig(yaml().replace(/reloadCommand: .*\n/, 'reloadCommand: [/bin/false]\n').replace('d.test, endpoints', 'd.test, altNames: [www.d.test], endpoints'), 'reload-fails.yaml');
    const before = readFileSync(join(snippets, 'd.test.conf'));
    const w = await runCli(['nginx', 'write', '--config', file, '--json']);
    assert.equal(w.code, 1);
    const res = (JSON.parse(w.stdout) as WriteJson).results[0]!;
    assert.equal(res.action, 'failed');
    assert.match(res.detail, /the reload failed/);
    assert.deepEqual(readFileSync(join(snippets, 'd.test.conf')), before);
  });

  it('refuses before writing anything: missing snippetDir, missing nginx binary, a path with metacharacters', async () => {
    const before = readFileSync(join(snippets, 'd.test.conf'));
    const cases: Array<[string, RegExp]> = [
      [yaml().replace(`snippetDir: ${snippets}`, `snippetDir: ${join(env.dir, 'nope')}`), /domain "d\.test": snippet directory .*nope does not exist.*nothing was written/],
      [yaml().replace(/testCommand: \[[^\]]+\]/, 'testCommand: [/usr/sbin/no-such-nginx, -t]'), /nginx\.testCommand: \/usr\/sbin\/no-such-nginx not found.*nothing was written/],
      [yaml().replace(`snippetDir: ${snippets}`, `snippetDir: "${snippets};x"`), /";" is not allowed/],
    ];
    for (const [text, re] of cases) {
      const { file } = env.writeConfig(text, 'refuse.yaml');
      const w = await runCli(['nginx', 'write', '--config', file, '--dry-run']);
      assert.notEqual(w.code, 0, text);
      assert.match(w.stderr, re);
    }
    assert.deepEqual(readFileSync(join(snippets, 'd.test.conf')), before);
  });

  it('nginx check reads nginx -T: the included snippet is OK, a missing one gets the exact include line', async () => {
    const ok = await runCli(['nginx', 'check', '--config', configFile]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /OK +d\.test/);
    const { file } = env.writeConfig(yaml('  - { name: e.test, endpoints: [{ host: e.test, port: 1, address: 127.0.0.1 }] }\n'), 'check.yaml');
    const missing = await runCli(['nginx', 'check', '--config', file, '--json']);
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    const doc = JSON.parse(missing.stdout) as { domains: Array<{ domain: string; included: boolean; fix?: string }> };
    assert.deepEqual(doc.domains.map((d) => [d.domain, d.included]), [['d.test', true], ['e.test', false]]);
    assert.ok(doc.domains[1]!.fix?.includes(`include ${snippets}/e.test.conf;`), doc.domains[1]!.fix);
  });

  it('a snippet no server block includes: a new one is written and reported with the include line; an existing one is refused untouched', async () => {
    // n.test gets a certificate but no server block includes its snippet.
    const { file } = env.writeConfig(yaml('  - { name: n.test, endpoints: [{ host: n.test, port: ' + String(ngx.port) + ', address: 127.0.0.1 }] }\n'), 'unincluded.yaml');
    const r = await runCli(['renew', 'n.test', '--config', file, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as RenewJson;
    assert.equal(doc.results[0]?.action, 'issued');
    assert.equal(doc.deploy?.[0]?.action, 'not-included', JSON.stringify(doc.deploy));
    assert.ok(doc.deploy![0]!.detail.includes(`add "include ${snippets}/n.test.conf;"`), doc.deploy![0]!.detail);
    const written = readFileSync(join(snippets, 'n.test.conf'));
    const again = await runCli(['nginx', 'write', 'n.test', '--force', '--config', file, '--json']);
    assert.equal(again.code, 1);
    const res = (JSON.parse(again.stdout) as WriteJson).results[0]!;
    assert.equal(res.action, 'failed');
    assert.match(res.detail, /is not included by any nginx server block.*nothing was written/);
    assert.deepEqual(readFileSync(join(snippets, 'n.test.conf')), written);
  });

  it('with a webroot, the http-01 location block is written as _acme-challenge.conf and printed by snippet --acme-challenge', async () => {
    const webroot = join(env.dir, 'webroot');
    mkdirSync(webroot, { recursive: true });
    const { file } = env.writeConfig(yaml().replace(/challenge: .*\n/, `challenge: { type: http-01, webroot: ${webroot} }\n`), 'webroot.yaml');
    const printed = await runCli(['nginx', 'snippet', '--acme-challenge', '--config', file]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`location \\^~ /\\.well-known/acme-challenge/ \\{[\\s\\S]*root ${webroot.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')};`));
    const w = await runCli(['nginx', 'write', '--config', file, '--json']);
    assert.equal(w.code, 0, w.stdout + w.stderr);
    assert.equal(readFileSync(join(snippets, '_acme-challenge.conf'), 'utf8'), printed.stdout);
    const again = await runCli(['nginx', 'write', '--config', file, '--json']);
    assert.deepEqual((JSON.parse(again.stdout) as WriteJson).results.map((x) => x.action), ['unchanged']);
  });

  it('--dry-run shows a diff and writes nothing; snippet prints the rendered snippet', async () => {
    const { file } = env.writeConfig(yaml('', '  hsts: true'), 'hsts.yaml');
    const before = readFileSync(join(snippets, 'd.test.conf'));
    const w = await runCli(['nginx', 'write', '--dry-run', '--config', file]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /^\+add_header Strict-Transport-Security "max-age=63072000" always;$/m);
    assert.deepEqual(readFileSync(join(snippets, 'd.test.conf')), before);
    const s = await runCli(['nginx', 'snippet', 'd.test', '--config', file]);
    assert.equal(s.code, 0);
    assert.match(s.stdout, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
    assert.match(s.stderr, /d\.test\.conf/);
  });
});
