/**
 * `certs repair` end to end: nginx serves a monitor-only domain's cert file holding only the leaf
 * (incomplete-chain), repair fetches the intermediate from the leaf's AIA URL (a loopback HTTP
 * server), writes leaf + intermediate (the old file kept as .prev), reloads nginx, and the scan is
 * clean. Then the refusals through the CLI — a same-named CA with another key, a huge body, a
 * server that never answers — each naming the URL with nothing written; and a Pebble-issued
 * managed chain that is already complete.
 *
 * Real Pebble, real nginx (site without a certificate of its own, including the snippet), the
 * built CLI (npm run build first).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { NGINX_BIN, startNginx, type NginxInstance } from '../helpers/nginx.js';
import { createCA, createLeaf, pemBundle, type Issued } from '../helpers/pki.js';
import { runCli, describeRun } from '../helpers/cli.js';

const HUGE = 10 * 1024 * 1024;
/** repairCommand's AIA budget (src/cli/commands/nginx.ts). */
const REPAIR_TIMEOUT_MS = 2_000;

interface ScanJson {
  endpoints: Array<{ domain: string; source: 'tls' | 'file'; status: string; fingerprint256: string | null; servedCount?: number; problems: Array<{ code: string; message: string }> }>;
}

/** Every file under `dir` with a hash of its bytes: "nothing written" is this staying equal. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) out[relative(dir, p)] = `-> ${readlinkSync(p)}`;
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('certs repair: a leaf-only chain completed through AIA, and the refusals', () => {
  let env: AcmeEnv;
  let ngx: NginxInstance;
  let server: http.Server;
  let base: string;
  let snippets: string;
  let files: string;
  let configFile: string;
  /** The same config without fetch.allowPrivateAddresses. */
  let strictConfigFile: string;
  let root: Issued;
  let inter: Issued;
  let leaf: Issued;
  const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();
  const hits = new Map<string, number>();
  let silentArrived: Promise<void>;
  let hugeClosed: Promise<{ written: number }>;

  before(async () => {
    server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const h = routes.get(path);
      if (h) h(req, res);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

    env = await startAcmeEnv();
    files = join(env.dir, 'files');
    snippets = join(env.dir, 'snippets');
    mkdirSync(files);
    mkdirSync(snippets);

    root = await createCA({ cn: 'Repair Root', org: 'O=certs tests' });
    inter = await createCA({ cn: 'Repair Intermediate', org: 'O=certs tests', issuer: root });
    leaf = await createLeaf({ dns: ['r.test'], issuer: inter, aiaIssuerUrl: `${base}/int.der` });
    routes.set('/int.der', (_req, res) => res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(inter.der));

    // The classic trap: a CA with the intermediate's exact subject but another key (another root).
    const otherRoot = await createCA({ cn: 'Other Root', org: 'O=certs tests' });
    const impostor = await createCA({ cn: 'Repair Intermediate', org: 'O=certs tests', issuer: otherRoot });
    assert.equal(impostor.cert.subject, inter.cert.subject);
    routes.set('/impostor/int.der', (_req, res) => res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(impostor.der));

    // 10 MiB without Content-Length, written as fast as the client reads, until it hangs up.
    let resolveHuge: (v: { written: number }) => void = () => {};
    hugeClosed = new Promise((r) => (resolveHuge = r));
    routes.set('/huge/int.der', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/pkix-cert' });
      const chunk = Buffer.alloc(16 * 1024, 0x30);
      let written = 0;
      const pump = (): void => {
        while (written < HUGE && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      res.on('close', () => resolveHuge({ written }));
      pump();
    });

    // Accepts the request and never answers.
    let resolveSilent: () => void = () => {};
    silentArrived = new Promise((r) => (resolveSilent = r));
    routes.set('/silent/int.der', () => resolveSilent());

    const write = (name: string, issued: Issued): void => {
      writeFileSync(join(files, `${name}.pem`), issued.pem);
      writeFileSync(join(files, `${name}.key`), issued.keyPem, { mode: 0o600 });
    };
    write('r', leaf);
    write('impostor', await createLeaf({ dns: ['impostor.test'], issuer: inter, aiaIssuerUrl: `${base}/impostor/int.der` }));
    write('huge', await createLeaf({ dns: ['huge.test'], issuer: inter, aiaIssuerUrl: `${base}/huge/int.der` }));
    write('silent', await createLeaf({ dns: ['silent.test'], issuer: inter, aiaIssuerUrl: `${base}/silent/int.der` }));

    // Trust: the test root and Pebble's root (for the managed domain's complete chain).
    const trustFile = join(env.dir, 'trust.pem');
    writeFileSync(trustFile, root.pem + (await env.pebble.rootPem()));

    // nginx needs the included file to exist: a placeholder until certs writes the snippet.
    const placeholder = await createLeaf({ dns: ['r.test'] });
    writeFileSync(join(env.dir, 'placeholder.pem'), placeholder.pem);
    writeFileSync(join(env.dir, 'placeholder.key'), placeholder.keyPem, { mode: 0o600 });
    writeFileSync(join(snippets, 'r.test.conf'), `ssl_certificate ${join(env.dir, 'placeholder.pem')};\nssl_certificate_key ${join(env.dir, 'placeholder.key')};\n`);
    ngx = await startNginx({ sites: [{ serverNames: ['r.test'], extra: `include ${snippets}/r.test.conf;` }] });

    const monitored = (name: string): string => `  - { name: ${name}.test, managed: false, files: { cert: ${join(files, `${name}.pem`)}, key: ${join(files, `${name}.key`)} }, endpoints: [] }`;
    const yaml = `${env.acmeYaml()}
trust: { caFile: ${trustFile} }
nginx:
  snippetDir: ${snippets}
  testCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -t]
  reloadCommand: [${NGINX_BIN}, ${ngx.nginxArgs.join(', ')}, -s, reload]
  verify: { timeoutMs: 5000, intervalMs: 50 }
domains:
  - name: r.test
    managed: false
    nginx: true
    files: { cert: ${join(files, 'r.pem')}, key: ${join(files, 'r.key')} }
    endpoints: [{ host: r.test, port: ${ngx.port}, address: 127.0.0.1 }]
${monitored('impostor')}
${monitored('huge')}
${monitored('silent')}
  - { name: m.test, nginx: false, endpoints: [] }
`;
    // The AIA server is on loopback, which fetches refuse unless this is set.
    ({ file: configFile } = env.writeConfig(`fetch: { allowPrivateAddresses: true }\n${yaml}`));
    ({ file: strictConfigFile } = env.writeConfig(yaml, 'strict.yaml'));
  });

  after(async () => {
    server?.closeAllConnections();
    await Promise.allSettled([
      env?.stop(),
      ngx?.stop(),
      server ? new Promise<void>((r) => server.close(() => r())) : undefined,
    ]);
  });

  it('nginx serves the leaf only (incomplete-chain); repair writes leaf + intermediate, keeps .prev, reloads; the scan is clean', async () => {
    const w = await runCli(['nginx', 'write', 'r.test', '--config', configFile, '--json']);
    assert.equal(w.code, 0, describeRun(w));
    const wrote = JSON.parse(w.stdout) as { results: Array<{ action: string; detail: string }> };
    assert.equal(wrote.results[0]?.action, 'deployed', w.stdout);
    assert.match(readFileSync(join(snippets, 'r.test.conf'), 'utf8'), new RegExp(`ssl_certificate ${join(files, 'r.pem')};`));

    const before = await runCli(['scan', 'r.test', '--config', configFile, '--json']);
    assert.equal(before.code, 2, describeRun(before));
    const rep = JSON.parse(before.stdout) as ScanJson;
    const tlsBefore = rep.endpoints.find((e) => e.source === 'tls')!;
    assert.equal(tlsBefore.fingerprint256, leaf.cert.fingerprint256, 'nginx serves the leaf from the cert file');
    assert.deepEqual(tlsBefore.problems.map((p) => p.code), ['incomplete-chain'], before.stdout);
    assert.deepEqual(rep.endpoints.find((e) => e.source === 'file')?.problems.map((p) => p.code), ['incomplete-chain']);

    const original = readFileSync(join(files, 'r.pem'));
    const fetchesBefore = hits.get('/int.der') ?? 0;
    const r = await runCli(['repair', 'r.test', '--config', configFile]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal((hits.get('/int.der') ?? 0) - fetchesBefore, 1, 'one AIA fetch');
    assert.match(r.stderr, new RegExp(`fetched CN=Repair Intermediate.* from ${base.replace(/\./g, '\\.')}/int\\.der`));
    assert.match(r.stderr, /configuration tested and reloaded/);
    assert.match(r.stdout, /r\.test\s+DEPLOYED/);
    assert.match(r.stdout, new RegExp(`^r\\.test:${ngx.port} @127\\.0\\.0\\.1 OK no problems$`, 'm'));
    assert.equal(readFileSync(join(files, 'r.pem'), 'utf8'), pemBundle(leaf, inter), 'the cert file holds leaf + intermediate');
    assert.deepEqual(readFileSync(join(files, 'r.pem.prev')), original, '.prev holds the leaf-only file');

    const afterScan = await runCli(['scan', 'r.test', '--config', configFile, '--json']);
    assert.equal(afterScan.code, 0, describeRun(afterScan));
    const clean = JSON.parse(afterScan.stdout) as ScanJson;
    for (const e of clean.endpoints) assert.deepEqual(e.problems, [], `${e.source}: ${JSON.stringify(e.problems)}`);
    assert.equal(clean.endpoints.find((e) => e.source === 'tls')?.servedCount, 2, 'nginx now sends leaf + intermediate');

    // Repairing again: the chain is complete, no fetch.
    const again = await runCli(['repair', 'r.test', '--config', configFile]);
    assert.equal(again.code, 0, describeRun(again));
    assert.match(again.stdout, /is complete \(trusted\); nothing to repair/);
    assert.equal((hits.get('/int.der') ?? 0) - fetchesBefore, 1, 'no second fetch');
  });

  it('refuses what the AIA URL serves — same-named CA with another key, a 10 MiB body, silence — naming the URL, writing nothing', async () => {
    const filesBefore = snapshot(files);
    const snippetsBefore = snapshot(snippets);

    // The silent server costs the whole repair budget: run it alongside the others.
    const silentStart = performance.now();
    const silent = runCli(['repair', 'silent.test', '--timeout', String(REPAIR_TIMEOUT_MS), '--config', configFile], { timeoutMs: REPAIR_TIMEOUT_MS + 20_000 }).then((res) => ({ res, ms: performance.now() - silentStart }));

    // Without fetch.allowPrivateAddresses the loopback AIA URL is refused before any request.
    const impHits = hits.get('/impostor/int.der') ?? 0;
    const strict = await runCli(['repair', 'impostor.test', '--config', strictConfigFile]);
    assert.equal(strict.code, 1, describeRun(strict));
    assert.match(strict.stderr, new RegExp(`refused to connect to ${base.replace(/\./g, '\\.')}/impostor/int\\.der: 127\\.0\\.0\\.1 is a loopback address`));
    assert.match(strict.stderr, /fetch\.allowPrivateAddresses/);
    assert.equal(hits.get('/impostor/int.der') ?? 0, impHits, 'no request reached the AIA server');

    const imp = await runCli(['repair', 'impostor.test', '--config', configFile]);
    assert.equal(imp.code, 1, describeRun(imp));
    assert.match(imp.stderr, new RegExp(`${base.replace(/\./g, '\\.')}/impostor/int\\.der: served a certificate that did not sign "CN=impostor\\.test": got "CN=Repair Intermediate, O=certs tests" with the right name but another key`));
    assert.match(imp.stderr, /^hint: /m);

    const hugeStart = performance.now();
    const huge = await runCli(['repair', 'huge.test', '--config', configFile]);
    const hugeMs = performance.now() - hugeStart;
    assert.equal(huge.code, 1, describeRun(huge));
    assert.match(huge.stderr, new RegExp(`${base.replace(/\./g, '\\.')}/huge/int\\.der: body exceeds 65536 bytes`));
    const { written } = await hugeClosed;
    assert.ok(written < HUGE, `the client hung up before the server wrote all ${HUGE} bytes (wrote ${written})`);

    await silentArrived;
    const { res: sil, ms: silentMs } = await silent;
    assert.equal(sil.code, 1, describeRun(sil));
    assert.match(sil.stderr, new RegExp(`${base.replace(/\./g, '\\.')}/silent/int\\.der: no answer within ${REPAIR_TIMEOUT_MS} ms`));
    assert.ok(silentMs >= REPAIR_TIMEOUT_MS, `gave up after ${silentMs.toFixed(0)} ms, before its ${REPAIR_TIMEOUT_MS} ms budget`);
    assert.ok(silentMs < REPAIR_TIMEOUT_MS + 10_000, `took ${silentMs.toFixed(0)} ms for a ${REPAIR_TIMEOUT_MS} ms budget`);
    process.stderr.write(`# repair refusals: huge body refused after ${hugeMs.toFixed(0)} ms (server wrote ${written} of ${HUGE} bytes); silent server refused after ${silentMs.toFixed(0)} ms (budget ${REPAIR_TIMEOUT_MS} ms)\n`);

    assert.deepEqual(snapshot(files), filesBefore, 'no certificate file (nor .prev) was written');
    assert.deepEqual(snapshot(snippets), snippetsBefore, 'no snippet was written');
    for (const name of ['impostor', 'huge', 'silent']) assert.equal(existsSync(join(files, `${name}.pem.prev`)), false);
  });

  it('a managed domain issued by Pebble whose chain is complete: nothing to repair, exit 0, nothing written', async () => {
    const issue = await runCli(['renew', 'm.test', '--config', configFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(issue.code, 0, describeRun(issue));
    assert.equal((JSON.parse(issue.stdout) as { results: Array<{ action: string }> }).results[0]?.action, 'issued');
    const lineage = join(env.dataDir, 'certs', 'm.test');
    const before = snapshot(lineage);
    const fullchain = readFileSync(join(lineage, 'current', 'fullchain.pem'), 'utf8');
    assert.equal(fullchain.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2, 'Pebble sends leaf + intermediate');
    const r = await runCli(['repair', 'm.test', '--config', configFile]);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /^m\.test: the chain in .*fullchain\.pem is complete \(trusted\); nothing to repair\.$/m);
    assert.deepEqual(snapshot(lineage), before);
    assert.ok(new X509Certificate(fullchain).checkHost('m.test'));
  });
});
