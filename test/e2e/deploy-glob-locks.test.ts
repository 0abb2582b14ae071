/**
 * Issue #10 §2, the parts that need no CA, against a real nginx and the built CLI:
 * - a server block that includes the snippet folder through a glob (`include <dir>/*.conf;`) is
 *   recognised on the first deploy, when the snippet does not exist yet: deployed and verified,
 *   not NOT-INCLUDED;
 * - `certs nginx write` and `certs repair` take the certificate's lock, as renew does, and write
 *   nothing while another process holds it;
 * - `certs repair` when current/ is behind the newest version (a deploy nginx refused): the new
 *   version pairs current's leaf with current's own key, never the newest version's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf, pemBundle, type Issued } from '../helpers/pki.js';
import { runCli, describeRun } from '../helpers/cli.js';
import { openStore } from '../../src/store/index.js';
import { switchCurrent, writeArchiveVersion } from '../../src/store/archive.js';
import type { IssuedCert } from '../../src/store/issued.js';

interface WriteJson { results: Array<{ domain: string; action: string; detail: string }> }

describe('deploy: glob includes, the certificate lock, repair keeps the leaf with its key', () => {
  let dir: string;
  let dataDir: string;
  let snippets: string;
  let ngx: NginxInstance;
  let server: http.Server;
  let base: string;
  let root: Issued;
  let inter: Issued;
  let glob: Issued;
  let leaf1: Issued;
  let leaf2: Issued;
  const nginxYaml = (): string => `nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }`;
  const writeConfig = (name: string, yaml: string): string => {
    const file = join(dir, name);
    writeFileSync(file, `dataDir: ${dataDir}\ntrust: { caFile: ${join(dir, 'root.pem')} }\nfetch: { allowPrivateAddresses: true }\n${yaml}`);
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-deploy-glob-'));
    dataDir = join(dir, 'data');
    snippets = join(dir, 'snippets');
    mkdirSync(snippets);
    server = http.createServer((req, res) => {
      if (req.url === '/int.der') res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(inter.der);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

    root = await createCA({ cn: 'Glob Root' });
    inter = await createCA({ cn: 'Glob Intermediate', issuer: root });
    writeFileSync(join(dir, 'root.pem'), root.pem);
    glob = await createLeaf({ dns: ['g.test'], issuer: inter });
    writeFileSync(join(dir, 'g.pem'), pemBundle(glob, inter));
    writeFileSync(join(dir, 'g.key'), glob.keyPem, { mode: 0o600 });
    // The bootstrap the issue describes: a placeholder certificate at http level (nginx needs
    // one to start) and a server block that includes whatever the snippet folder will hold.
    const placeholder = await createLeaf({ dns: ['placeholder.test'] });
    writeFileSync(join(dir, 'placeholder.pem'), placeholder.pem);
    writeFileSync(join(dir, 'placeholder.key'), placeholder.keyPem, { mode: 0o600 });
    ngx = await startNginx({
      sites: [{ serverNames: ['g.test'], extra: `include ${snippets}/*.conf;` }],
      extraHttp: `ssl_certificate ${join(dir, 'placeholder.pem')};\nssl_certificate_key ${join(dir, 'placeholder.key')};\nssl_protocols TLSv1.2 TLSv1.3;`,
    });

    // A managed lineage built by hand: version 1 (leaf only, its AIA points at our server) is
    // current; version 2 (another key) was issued but nginx refused it, so current stayed behind.
    leaf1 = await createLeaf({ dns: ['x.test'], issuer: inter, aiaIssuerUrl: `${base}/int.der` });
    leaf2 = await createLeaf({ dns: ['x.test'], issuer: inter, aiaIssuerUrl: `${base}/int.der` });
    const store = openStore(dataDir);
    try {
      const record = (l: Issued, version: number, d: string): void => {
        const row: IssuedCert = {
          lineage: 'x.test', version, fingerprint256: l.cert.fingerprint256, serial: l.cert.serialNumber, notBefore: new Date(l.cert.validFrom).toISOString(),
          notAfter: new Date(l.cert.validTo).toISOString(), issuer: 'CN=Glob Intermediate', names: ['x.test'], keyType: 'ecdsa-p256', directoryUrl: 'https://ca.invalid/dir',
          profile: null, ariCertId: null, replacedId: null, dir: d, issuedAt: new Date().toISOString(), reason: 'test', revokedAt: null, revokeReason: null,
        };
        store.issued.record(row);
      };
      const v1 = writeArchiveVersion(dataDir, 'x.test', { cert: leaf1.pem, chain: '', fullchain: leaf1.pem, privkey: leaf1.keyPem });
      record(leaf1, v1.version, v1.paths.dir);
      const v2 = writeArchiveVersion(dataDir, 'x.test', { cert: leaf2.pem, chain: inter.pem, fullchain: pemBundle(leaf2, inter), privkey: leaf2.keyPem });
      record(leaf2, v2.version, v2.paths.dir);
      switchCurrent(dataDir, 'x.test', 1);
    } finally {
      store.close();
    }
  });

  after(async () => {
    server?.closeAllConnections();
    await Promise.allSettled([ngx?.stop(), server ? new Promise<void>((r) => server.close(() => r())) : undefined]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a glob include of the snippet folder: the first deploy writes the new snippet, reloads, verifies, exit 0', async () => {
    const file = writeConfig('glob.yaml', `${nginxYaml()}
domains:
  - { name: g.test, managed: false, nginx: true, files: { cert: ${join(dir, 'g.pem')}, key: ${join(dir, 'g.key')} }, endpoints: [{ host: g.test, port: ${ngx.port}, address: 127.0.0.1 }] }
`);
    assert.equal(existsSync(join(snippets, 'g.test.conf')), false);
    const check = await runCli(['nginx', 'check', '--config', file, '--json']);
    assert.equal(check.code, 0, describeRun(check));
    const w = await runCli(['nginx', 'write', '--config', file, '--json']);
    assert.equal(w.code, 0, describeRun(w));
    const res = (JSON.parse(w.stdout) as WriteJson).results;
    assert.deepEqual(res.map((r) => [r.domain, r.action]), [['g.test', 'deployed']], w.stdout);
    assert.match(res[0]!.detail, /clients now get the new certificate/);
    const scan = await runCli(['scan', '--config', file, '--json']);
    const served = (JSON.parse(scan.stdout) as { endpoints: Array<{ source: string; fingerprint256: string }> }).endpoints.find((e) => e.source === 'tls');
    assert.equal(served?.fingerprint256, glob.cert.fingerprint256);
  });

  it('nginx write and repair wait for nobody and write nothing while another process holds the certificate\'s lock', async () => {
    const withNginx = writeConfig('locked.yaml', `${nginxYaml()}
domains:
  - { name: x.test, endpoints: [] }
`);
    const noNginx = writeConfig('repair.yaml', 'domains:\n  - { name: x.test, nginx: false, endpoints: [] }\n');
    const store = openStore(dataDir);
    try {
      assert.ok(store.locks.tryAcquire('cert:x.test', 'other-host:4242:beef', 60_000));
      const w = await runCli(['nginx', 'write', 'x.test', '--config', withNginx, '--json']);
      assert.equal(w.code, 1, describeRun(w));
      const res = (JSON.parse(w.stdout) as WriteJson).results[0]!;
      assert.equal(res.action, 'failed');
      assert.match(res.detail, /domain "x\.test": another certs process is renewing or deploying it \(other-host:4242:beef\); nothing was written/);
      assert.equal(existsSync(join(snippets, 'x.test.conf')), false, 'no snippet written');
      const r = await runCli(['repair', 'x.test', '--config', noNginx]);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /another certs process is renewing or deploying it \(other-host:4242:beef\); nothing was written/);
      assert.equal(existsSync(join(dataDir, 'certs', 'x.test', 'archive', '3')), false, 'no version written');
      assert.equal(readlinkSync(join(dataDir, 'certs', 'x.test', 'current')), 'archive/1');
    } finally {
      store.locks.release('cert:x.test', 'other-host:4242:beef');
      store.close();
    }
  });

  it('repair with current/ behind the newest version: the new version is current\'s leaf + the fetched intermediate + current\'s key', async () => {
    const noNginx = writeConfig('repair.yaml', 'domains:\n  - { name: x.test, nginx: false, endpoints: [] }\n');
    const r = await runCli(['repair', 'x.test', '--config', noNginx]);
    assert.equal(r.code, 0, describeRun(r));
    const v3 = join(dataDir, 'certs', 'x.test', 'archive', '3');
    assert.equal(readFileSync(join(v3, 'privkey.pem'), 'utf8'), leaf1.keyPem, 'the key of the leaf that is served (version 1), not version 2\'s');
    assert.equal(readFileSync(join(v3, 'cert.pem'), 'utf8').trim(), leaf1.pem.trim());
    assert.equal(readFileSync(join(v3, 'fullchain.pem'), 'utf8'), pemBundle(leaf1, inter));
    assert.equal(readlinkSync(join(dataDir, 'certs', 'x.test', 'current')), 'archive/3');
    const store = openStore(dataDir);
    try {
      const row = store.issued.byVersion('x.test', 3);
      assert.equal(row?.fingerprint256, leaf1.cert.fingerprint256, 'recorded as a copy of version 1');
      assert.match(row?.reason ?? '', /^repair of version 1: /);
    } finally {
      store.close();
    }
  });
});
