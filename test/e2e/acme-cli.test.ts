/**
 * The built CLI against a real Pebble and a real nginx: http-01 through nginx's webroot, the
 * issued chain served by nginx and scanned clean, certificates listing, renewal-failing in status,
 * revocation seen by the CA, and two renew processes started together ordering each certificate once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { runCli } from '../helpers/cli.js';

interface RenewJson { results: Array<{ domain: string; action: string; reason: string; version?: number }> }
interface CertsJson { certificates: Array<{ domain: string; current: number | null; nextRenewal: string; versions: Array<{ version: number; serial: string; revokedAt: string | null; daysLeft: number }> }> }

const HTTP_SITE = 'server { listen 127.0.0.1:@HTTP_PORT@; location ^~ /.well-known/acme-challenge/ { root @PREFIX@/www; default_type text/plain; } location / { return 404; } }';

describe('certs renew / certificates / revoke / status through the CLI (Pebble + nginx)', () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let webroot: string;
  let configFile: string;

  const config = (domains: string): string => `${env.acmeYaml()
    .replace(/challenge: .*\n/, `challenge: { type: http-01, webroot: ${webroot} }\n`)}
trust: { caFile: ${join(env.dir, 'pebble-root.pem')} }
domains:
${domains}`;

  before(async () => {
    const ca = await createCA({ cn: 'placeholder CA' });
    const leaf = await createLeaf({ dns: ['e.test'], issuer: ca });
    ngx = await startNginx({
      sites: [{ serverNames: ['e.test'], certPem: leaf.pem, keyPem: leaf.keyPem }],
      extraHttp: HTTP_SITE,
    });
    webroot = join(ngx.prefix, 'www');
    mkdirSync(webroot, { recursive: true });
    env = await startAcmeEnv({ httpPort: ngx.httpPort! });
    writeFileSync(join(env.dir, 'pebble-root.pem'), await env.pebble.rootPem());
  });
  after(async () => {
    await Promise.allSettled([env?.stop(), ngx?.stop()]);
  });

  it('renew issues through nginx\'s webroot; the chain nginx then serves scans clean', async () => {
    ({ file: configFile } = env.writeConfig(config(`  - { name: e.test, endpoints: [{ host: e.test, port: ${ngx.port}, address: 127.0.0.1 }] }\n`)));
    const r = await runCli(['renew', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as RenewJson;
    assert.deepEqual(doc.results.map((x) => [x.domain, x.action, x.version]), [['e.test', 'issued', 1]]);
    const current = join(env.dataDir, 'certs', 'e.test', 'current');
    await ngx.reload({ sites: [{ serverNames: ['e.test'], certPem: readFileSync(join(current, 'fullchain.pem'), 'utf8'), keyPem: readFileSync(join(current, 'privkey.pem'), 'utf8') }], extraHttp: HTTP_SITE });
    const scan = await runCli(['scan', '--config', configFile, '--json']);
    assert.equal(scan.code, 0, scan.stdout + scan.stderr);
    const report = JSON.parse(scan.stdout) as { endpoints: Array<{ status: string; problems: unknown[]; daysLeft: number }> };
    assert.equal(report.endpoints[0]?.status, 'ok');
    assert.deepEqual(report.endpoints[0]?.problems, []);
    const again = await runCli(['renew', '--config', configFile]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /e\.test\s+NOT-DUE/);
  });

  it('--dry-run orders a test certificate with a throwaway account and changes nothing', async () => {
    const link = join(env.dataDir, 'certs', 'e.test', 'current');
    const before = readlinkSync(link);
    const r = await runCli(['renew', 'e.test', '--dry-run', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as RenewJson;
    assert.equal(doc.results[0]?.action, 'dry-run');
    assert.match(doc.results[0]!.reason, /nothing was stored or replaced/);
    assert.equal(readlinkSync(link), before);
    const certs = JSON.parse((await runCli(['certificates', 'e.test', '--config', configFile, '--json'])).stdout) as CertsJson;
    assert.equal(certs.certificates[0]?.versions.length, 1);
  });

  it('refuses what it cannot renew: no acme section, a monitor-only domain, an unknown name', async () => {
    const noAcme = join(env.dir, 'no-acme.yaml');
    writeFileSync(noAcme, `dataDir: ${env.dataDir}\ndomains: [{name: e.test}]\n`);
    const a = await runCli(['renew', '--config', noAcme]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /no acme section/);
    const { file } = env.writeConfig(config('  - { name: m.test, managed: false }\n'), 'monitor.yaml');
    const m = await runCli(['renew', 'm.test', '--config', file]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /"m\.test" is monitor-only/);
    const u = await runCli(['issue', 'nope.test', '--config', configFile]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /not in the inventory/);
  });

  it('certificates lists versions, files, days left and the next renewal', async () => {
    const r = await runCli(['certificates', '--config', configFile, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as CertsJson;
    const e = doc.certificates[0]!;
    assert.equal(e.current, 1);
    assert.equal(e.versions.length, 1);
    assert.ok(e.versions[0]!.daysLeft > 1000, 'Pebble issues 5-year certificates by default');
    assert.match(e.nextRenewal, /^renews \d{4}-\d\d-\d\d/);
    const text = await runCli(['certificates', '--config', configFile]);
    assert.match(text.stdout, /\* v1 /);
    assert.match(text.stdout, /current\/fullchain\.pem/);
  });

  it('a failing renewal exits 1 and shows as renewal-failing in status', async () => {
    ({ file: configFile } = env.writeConfig(config(`  - { name: e.test, endpoints: [{ host: e.test, port: ${ngx.port}, address: 127.0.0.1 }] }
  - { name: f.test, endpoints: [{ host: f.test, port: ${ngx.port}, address: 127.0.0.1 }], challenge: { type: http-01, webroot: ${join(env.dir, 'not-served')} } }
`)));
    mkdirSync(join(env.dir, 'not-served'), { recursive: true });
    const r = await runCli(['renew', '--config', configFile]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /f\.test\s+FAILED\s+-\s+domain "f\.test": .*HTTP 404/);
    const status = await runCli(['status', '--config', configFile, '--json']);
    const doc = JSON.parse(status.stdout) as { endpoints: Array<{ domain: string; problems: Array<{ code: string; severity: string }> }> };
    const f = doc.endpoints.find((x) => x.domain === 'f.test')!;
    assert.deepEqual(f.problems.map((p) => p.code), ['renewal-failing']);
    assert.equal(doc.endpoints.find((x) => x.domain === 'e.test')!.problems.length, 0);
  });

  it('revoke is seen by the CA; the next renew replaces the revoked certificate', async () => {
    const before = JSON.parse((await runCli(['certificates', 'e.test', '--config', configFile, '--json'])).stdout) as CertsJson;
    const serial = before.certificates[0]!.versions[0]!.serial;
    const r = await runCli(['revoke', 'e.test', '--reason', 'superseded', '--config', configFile]);
    assert.equal(r.code, 0, r.stderr);
    const st = await env.pebble.certStatusBySerial(serial);
    assert.equal(st?.status, 'Revoked');
    assert.equal(st?.reason, 4);
    const twice = await runCli(['revoke', 'e.test', '--config', configFile]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /already revoked/);
    const renew = await runCli(['renew', 'e.test', '--config', configFile, '--json']);
    const doc = JSON.parse(renew.stdout) as RenewJson;
    assert.equal(doc.results[0]?.action, 'issued', renew.stderr);
    assert.match(doc.results[0]!.reason, /version 1 was revoked/);
  });

  it('two renew processes started together order each certificate once', async () => {
    const names = ['c1.test', 'c2.test', 'c3.test'];
    ({ file: configFile } = env.writeConfig(config(names.map((n) => `  - { name: ${n}, endpoints: [{ host: ${n}, port: ${ngx.port}, address: 127.0.0.1 }] }\n`).join('')), 'concurrent.yaml'));
    const [a, b] = await Promise.all([
      runCli(['renew', '--config', configFile, '--json'], { timeoutMs: 60_000 }),
      runCli(['renew', '--config', configFile, '--json'], { timeoutMs: 60_000 }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const all = [...(JSON.parse(a.stdout) as RenewJson).results, ...(JSON.parse(b.stdout) as RenewJson).results];
    for (const n of names) {
      const mine = all.filter((x) => x.domain === n);
      assert.deepEqual(mine.map((x) => x.action).sort(), ['issued', 'not-due'], `${n}: ${JSON.stringify(mine)}`);
    }
    const certs = JSON.parse((await runCli(['certificates', ...names, '--config', configFile, '--json'])).stdout) as CertsJson;
    for (const c of certs.certificates) assert.equal(c.versions.length, 1, `${c.domain} has exactly one version`);
  });
});
