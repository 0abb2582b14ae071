// Deploy verification per address (issue 12 §1), against real servers on loopback: a BIND zone
// gives multi.addr.test three A records (127.0.0.2, .3, .4) and three nginx instances listen on
// one port, one per address, each including the snippet certs deploys. The deploy's reload
// command reaches only the nginx on .2 and .4, so .3 keeps serving the certificate it had. The
// built CLI's deploy path (`certs nginx write`: snippet, nginx -t, reload, rescan every address)
// must record the deployment stale naming exactly 127.0.0.3, and `certs status --json` must flag
// exactly that address row; a rerun retries (still stale, not "unchanged"); once that nginx is
// reloaded too, the next run proves every address and the deployment is recorded verified.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startBind, randomSecret, type BindInstance } from '../helpers/bind.js';
import { describeRun, runCli } from '../helpers/cli.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { createCA, createLeaf, daysFrom, pemBundle, type Issued } from '../helpers/pki.js';
import { writeArchiveVersion } from '../../src/store/archive.js';
import { openStore } from '../../src/store/index.js';
import type { DeploymentRow } from '../../src/store/deployments.js';
import type { EndpointReport } from '../../src/core/model.js';

const NAME = 'multi.addr.test';
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const STALE = '127.0.0.3';
// Long enough that the reloaded nodes are past nginx's old-worker overlap on a loaded machine.
const VERIFY_MS = 3000;

interface WriteJson { results: Array<{ domain: string; action: string; detail: string; fingerprint256?: string | null }> }
interface StatusJson { endpoints: EndpointReport[] }

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('deploy verification per address (BIND + three nginx on loopback, one never reloaded)', () => {
  let dir: string;
  let dataDir: string;
  let snippets: string;
  let config: string;
  let dns: BindInstance;
  const nginx: NginxInstance[] = [];
  let port: number;
  let root: Issued;
  let fresh: Issued;
  let old: Issued;
  const now = new Date();

  const deployment = (): DeploymentRow | null => {
    const store = openStore(dataDir);
    try {
      return store.deployments.get(NAME);
    } finally {
      store.close();
    }
  };
  const status = async (): Promise<EndpointReport[]> => {
    const s = await runCli(['status', '--config', config, '--json']);
    return (JSON.parse(s.stdout) as StatusJson).endpoints.filter((e) => e.host === NAME);
  };
  const staleRows = (rows: EndpointReport[]): string[] => rows.filter((e) => e.problems.some((p) => p.code === 'stale-deployment')).map((e) => e.address ?? '(none)');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-deploy-addresses-'));
    dataDir = join(dir, 'data');
    snippets = join(dir, 'snippets');
    mkdirSync(snippets);
    root = await createCA({ cn: 'Deploy Addresses Test Root' });
    old = await createLeaf({ issuer: root, dns: [NAME], notBefore: daysFrom(now, -60), notAfter: daysFrom(now, 29) });
    fresh = await createLeaf({ issuer: root, dns: [NAME], notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 89) });
    writeFileSync(join(dir, 'ca.pem'), pemBundle(root));
    // What every node served before this deploy: the old certificate, through the snippet file.
    writeFileSync(join(dir, 'old.pem'), old.pem);
    writeFileSync(join(dir, 'old.key'), old.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, `${NAME}.conf`), `ssl_certificate ${join(dir, 'old.pem')};\nssl_certificate_key ${join(dir, 'old.key')};\n`);

    // Version 1 of the managed lineage, issued (no ACME here) but not yet deployed.
    const { version, paths } = writeArchiveVersion(dataDir, NAME, { cert: fresh.pem, chain: '', fullchain: fresh.pem, privkey: fresh.keyPem });
    const store = openStore(dataDir);
    try {
      store.issued.record({
        lineage: NAME, version, fingerprint256: fresh.cert.fingerprint256, serial: fresh.cert.serialNumber,
        notBefore: new Date(fresh.cert.validFrom).toISOString(), notAfter: new Date(fresh.cert.validTo).toISOString(), issuer: 'CN=Deploy Addresses Test Root',
        names: [NAME], keyType: 'ecdsa-p256', directoryUrl: 'https://ca.invalid/dir', profile: null, ariCertId: null, replacedId: null,
        dir: paths.dir, issuedAt: now.toISOString(), reason: null, revokedAt: null, revokeReason: null,
      });
    } finally {
      store.close();
    }

    dns = await startBind({ zone: 'addr.test.', tsig: { name: 'k', algorithm: 'hmac-sha256', secret: randomSecret() }, records: ADDRESSES.map((a) => `multi IN A ${a}`) });
    port = await freePort(ADDRESSES[0]);
    for (const address of ADDRESSES) {
      nginx.push(await startNginx({ address, port, sites: [{ serverNames: [NAME], extra: `include ${snippets}/${NAME}.conf;` }] }));
    }

    // Each instance has its own nginx.conf; all three include the same snippet, so all three are
    // tested. The reload reaches every node but 127.0.0.3: the node someone forgot.
    const cmd = (n: NginxInstance, ...args: string[]): string => [NGINX_BIN, ...n.nginxArgs, ...args].join(' ');
    const reloaded = nginx.filter((_, i) => ADDRESSES[i] !== STALE);
    config = join(dir, 'certs.yaml');
    writeFileSync(config, stringify({
      dataDir,
      trust: { caFile: join(dir, 'ca.pem'), bundled: false, system: false },
      scan: { timeoutMs: 3000, revocation: false, resolver: `127.0.0.1:${dns.port}` },
      nginx: {
        snippetDir: snippets,
        testCommand: ['/bin/sh', '-c', nginx.map((n) => cmd(n, '-t', '-q')).join(' && ')],
        // The default would be testCommand with -T for -t: a shell line has no -t to swap.
        dumpCommand: [NGINX_BIN, ...nginx[0]!.nginxArgs, '-T'],
        reloadCommand: ['/bin/sh', '-c', reloaded.map((n) => cmd(n, '-s', 'reload')).join(' && ')],
        verify: { timeoutMs: VERIFY_MS, intervalMs: 50 },
      },
      domains: [{ name: NAME, endpoints: [{ host: NAME, port }] }],
    }));
  });

  after(async () => {
    await Promise.allSettled([...nginx.map((n) => n.stop()), dns?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a reload that misses one node: the deploy is stale naming exactly that address, and status flags exactly its row', async () => {
    const w = await runCli(['nginx', 'write', '--config', config, '--json'], { timeoutMs: 60_000 });
    assert.equal(w.code, 1, `a stale deployment fails the run\n${describeRun(w)}`);
    const res = (JSON.parse(w.stdout) as WriteJson).results;
    assert.deepEqual(res.map((r) => [r.domain, r.action]), [[NAME, 'stale']], describeRun(w));
    const detail = res[0]!.detail;
    assert.match(detail, new RegExp(`^stale deployment: after the reload ${esc(NAME)}:${port} @${esc(STALE)} still serves ${esc(old.cert.fingerprint256.slice(0, 17))} \\(expires ${new Date(old.cert.validTo).toISOString().slice(0, 10)}\\) instead of ${esc(fresh.cert.fingerprint256.slice(0, 17))}… within ${VERIFY_MS} ms$`));
    for (const a of ADDRESSES.filter((x) => x !== STALE)) assert.doesNotMatch(detail, new RegExp(esc(a)), `${a} was reloaded: the detail must not name it`);

    const dep = deployment();
    assert.ok(dep, 'the deployment is recorded');
    assert.equal(dep.version, 1);
    assert.equal(dep.fingerprint256, fresh.cert.fingerprint256);
    assert.equal(dep.verifiedAt, null);
    assert.ok(dep.staleSince, 'the deployment is recorded stale');
    assert.equal(`stale deployment: ${dep.staleDetail}`, detail);

    const rows = await status();
    assert.deepEqual(rows.map((e) => e.address), ADDRESSES, 'one row per address, in address order');
    for (const e of rows) assert.equal(e.fingerprint256, e.address === STALE ? old.cert.fingerprint256 : fresh.cert.fingerprint256, `${e.address} serves what its nginx last loaded`);
    assert.deepEqual(staleRows(rows), [STALE], JSON.stringify(rows.map((e) => [e.address, e.problems.map((p) => p.code)])));
    const p = rows.find((e) => e.address === STALE)!.problems.find((x) => x.code === 'stale-deployment')!;
    assert.match(p.message, new RegExp(`^${esc(STALE)} serves a certificate expiring ${new Date(old.cert.validTo).toISOString().slice(0, 10)}, but version 1 `));
    assert.deepEqual(rows.filter((e) => e.address !== STALE).map((e) => [e.status, e.problems.length]), [['ok', 0], ['ok', 0]]);
  });

  it('a rerun while that node still serves the old certificate reloads and verifies again: still stale, not "unchanged"', async () => {
    const w = await runCli(['nginx', 'write', '--config', config, '--json'], { timeoutMs: 60_000 });
    assert.equal(w.code, 1, describeRun(w));
    const res = (JSON.parse(w.stdout) as WriteJson).results;
    assert.deepEqual(res.map((r) => [r.domain, r.action]), [[NAME, 'stale']], describeRun(w));
    assert.match(res[0]!.detail, new RegExp(`@${esc(STALE)} still serves ${esc(old.cert.fingerprint256.slice(0, 17))}`));
    assert.match(w.stderr, /configuration tested and reloaded/);
    assert.ok(deployment()?.staleSince, 'still recorded stale');
  });

  it('once that node is reloaded too, the next run proves every address and status shows no problem', async () => {
    // The operator reloads the forgotten node; reload() returns once its old workers are gone.
    await nginx[ADDRESSES.indexOf(STALE)]!.reload();
    const w = await runCli(['nginx', 'write', '--config', config, '--json'], { timeoutMs: 60_000 });
    assert.equal(w.code, 0, describeRun(w));
    const res = (JSON.parse(w.stdout) as WriteJson).results;
    assert.deepEqual(res.map((r) => [r.domain, r.action]), [[NAME, 'deployed']], describeRun(w));
    assert.match(res[0]!.detail, /clients now get the new certificate \(3 endpoints checked\)$/);

    const dep = deployment();
    assert.ok(dep?.verifiedAt, 'the deployment is recorded verified');
    assert.equal(dep.staleSince, null);
    assert.equal(dep.staleDetail, null);

    const rows = await status();
    assert.deepEqual(rows.map((e) => e.address), ADDRESSES);
    assert.deepEqual(rows.map((e) => [e.address, e.fingerprint256, e.status, e.problems.map((x) => x.code)]), ADDRESSES.map((a) => [a, fresh.cert.fingerprint256, 'ok', []]));
  });
});
