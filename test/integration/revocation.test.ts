// CRL checks against real servers on loopback: an `openssl ca` PKI that revokes a leaf, its CRL
// served by a node:http server that counts hits, and the leaves served over real TLS (one node:tls
// server choosing the certificate by SNI), scanned by the real scanner (scanDomains).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import type { EndpointReport } from '../../src/core/model.js';
import { X509Certificate } from 'node:crypto';
import { parseCrl, serialHexOf } from '../../src/core/crl.js';
import { scanDomains } from '../../src/service/scan-inventory.js';
import { loadTrust } from '../../src/scan/trust.js';
import { CrlCache, RevocationChecker } from '../../src/scan/revocation.js';
import { makeCrlCa, type CrlCa } from '../helpers/crl-pki.js';
import type { Pem } from '../helpers/openssl-cli.js';

const HUNDRED_MB = 100 * 1024 * 1024;

let dir: string;
let ca: CrlCa;
let crlServer: http.Server;
let tlsServer: tls.Server;
let crlBase: string;
let tlsPort: number;
let crl: Buffer;
let wrongCrl: Buffer;
let interCrl: Buffer;
let bigBytesSent = 0;
const hits = new Map<string, number>();
const leaves = new Map<string, Pem>();

function serveBig(res: http.ServerResponse, withLength: boolean): void {
  // 100 MB streamed from one 64 KiB buffer, respecting backpressure; stops when the client hangs up.
  const chunk = Buffer.alloc(64 * 1024, 0x30);
  res.writeHead(200, { 'content-type': 'application/pkix-crl', ...(withLength ? { 'content-length': String(HUNDRED_MB) } : {}) });
  let sent = 0;
  let closed = false;
  res.on('close', () => (closed = true));
  const pump = (): void => {
    while (!closed && sent < HUNDRED_MB) {
      sent += chunk.length;
      bigBytesSent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!closed) res.end();
  };
  pump();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certs-revocation-'));
  crlServer = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    // /many.crl: the same CRL under its own path, so its hits are counted apart.
    if (path === '/x.crl' || path === '/many.crl') return void res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl);
    if (path === '/wrong.crl') return void res.writeHead(200).end(wrongCrl);
    if (path === '/inter.crl') return void res.writeHead(200).end(interCrl);
    if (path === '/hang.crl') return; // never answers
    if (path === '/big.crl') return serveBig(res, false);
    if (path === '/big-declared.crl') return serveBig(res, true);
    if (path === '/to-https.crl') return void res.writeHead(301, { location: `https://127.0.0.1:${(crlServer.address() as AddressInfo).port}/x.crl` }).end();
    if (path === '/moved.crl') return void res.writeHead(302, { location: '/x.crl' }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;

  ca = await makeCrlCa(join(dir, 'ca'));
  const issue = async (host: string, path: string): Promise<void> => {
    leaves.set(host, await ca.issue(host, { crlUrl: `${crlBase}${path}` }));
  };
  await issue('revoked.test', '/x.crl');
  await issue('good.test', '/x.crl');
  await issue('wrong.test', '/wrong.crl');
  await issue('big.test', '/big.crl');
  await issue('declared.test', '/big-declared.crl');
  await issue('moved.test', '/moved.crl');
  await issue('*.many.test', '/many.crl');
  await issue('hang.test', '/hang.crl');
  await issue('to-https.test', '/to-https.crl');
  leaves.set('ldap.test', await ca.issue('ldap.test', { crlUrl: 'ldap://127.0.0.1/cn=crl' }));
  leaves.set('nodp.test', await ca.issue('nodp.test'));
  // leaf (CRL /inter.crl, good) ← intermediate (CRL /x.crl, revoked by the root) ← root.
  const inter = await ca.subCa(join(dir, 'inter'), 'certs crl test intermediate', { crlUrl: `${crlBase}/x.crl` });
  const chainLeaf = await inter.issue('chain.test', { crlUrl: `${crlBase}/inter.crl` });
  leaves.set('chain.test', { ...chainLeaf, certPem: chainLeaf.certPem + inter.ca.certPem });
  interCrl = await inter.gencrl();
  await ca.revoke(inter.ca, 'cACompromise');
  await ca.revoke(leaves.get('revoked.test') as Pem, 'keyCompromise');
  crl = await ca.gencrl({ hours: 24 });
  // Same issuer name, another key: what a forged or misconfigured CRL looks like.
  wrongCrl = await (await makeCrlCa(join(dir, 'impostor'))).gencrl();

  const contexts = new Map<string, tls.SecureContext>();
  for (const [host, pem] of leaves) contexts.set(host, tls.createSecureContext({ cert: pem.certPem, key: pem.keyPem }));
  tlsServer = tls.createServer({ SNICallback: (name, cb) => cb(null, contexts.get(name) ?? contexts.get(name.replace(/^[^.]+/, '*'))) }, (s) => s.end());
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsServer.address() as AddressInfo).port;
});

after(async () => {
  tlsServer?.close();
  crlServer?.closeAllConnections();
  crlServer?.close();
  await rm(dir, { recursive: true, force: true });
});

interface RunOptions {
  hosts: string[];
  now?: Date;
  scan?: Record<string, unknown>;
  allowPrivate?: boolean;
  checker?: RevocationChecker;
}

async function scan(opts: RunOptions): Promise<{ reports: Map<string, EndpointReport>; checker: RevocationChecker | undefined }> {
  const caFile = join(dir, 'ca', 'ca.crt');
  const configFile = join(dir, 'certs.yaml');
  const yamlText = stringify({
    dataDir: './data',
    trust: { caFile, bundled: false, system: false },
    scan: opts.scan ?? {},
    fetch: { allowPrivateAddresses: opts.allowPrivate ?? true },
    domains: opts.hosts.map((h) => ({ name: h, managed: false, endpoints: [{ host: h, port: tlsPort, address: '127.0.0.1' }] })),
  });
  await writeFile(configFile, yamlText);
  const config = parseConfigText(yamlText, configFile);
  const trust = loadTrust({ ...config.trust });
  // What loadScanDeps does: a checker only when scan.revocation is on.
  const checker = opts.checker ?? (config.scan.revocation ? new RevocationChecker({ allowPrivateAddresses: config.fetch.allowPrivateAddresses, cache: new CrlCache() }) : undefined);
  const now = opts.now ?? new Date();
  const list = await scanDomains(config, config.domains, {
    anchors: trust.anchors, secureContext: trust.secureContext, now: () => now, ...(checker ? { revocation: checker } : {}),
  });
  return { reports: new Map(list.map((r) => [r.host, r])), checker };
}

function problem(r: EndpointReport | undefined, code: string): { severity: string; message: string; hint?: string } | undefined {
  return r?.problems.find((p) => p.code === code);
}

const hitCount = (path: string): number => hits.get(path) ?? 0;

describe('revocation through CRLs', () => {
  test('a revoked leaf is revoked (critical) with its date and reason; a good one has no problem; one fetch for both', async () => {
    hits.clear();
    const { reports } = await scan({ hosts: ['revoked.test', 'good.test', 'nodp.test'] });
    const rev = reports.get('revoked.test');
    const p = problem(rev, 'revoked');
    assert.ok(p, `revoked reported: ${JSON.stringify(rev?.problems)}`);
    assert.equal(p.severity, 'critical');
    assert.equal(rev?.status, 'critical');
    const entry = parseCrl(crl).revoked.get(serialHexOf(new X509Certificate((leaves.get('revoked.test') as Pem).certPem).raw));
    assert.ok(entry);
    assert.ok(p.message.includes(entry.revocationDate.toISOString()), p.message);
    assert.match(p.message, /reason keyCompromise/);
    assert.match(p.message, /revoked\.test/);
    assert.match(p.hint ?? '', /new private key/);
    assert.deepEqual(reports.get('good.test')?.problems, []);
    assert.equal(reports.get('good.test')?.status, 'ok');
    assert.deepEqual(reports.get('nodp.test')?.problems, []);
    assert.equal(hitCount('/x.crl'), 1, 'one fetch of the shared CRL');
  });

  test('a stale CRL (clock past nextUpdate) is revocation-unknown, never revoked', async () => {
    const later = new Date((parseCrl(crl).nextUpdate as Date).getTime() + 3600_000);
    const { reports } = await scan({ hosts: ['revoked.test', 'good.test'], now: later });
    for (const host of ['revoked.test', 'good.test']) {
      const r = reports.get(host);
      assert.equal(problem(r, 'revoked'), undefined, host);
      const p = problem(r, 'revocation-unknown');
      assert.ok(p, `${host}: ${JSON.stringify(r?.problems)}`);
      assert.equal(p.severity, 'warning');
      assert.match(p.message, /stale: past its nextUpdate/);
    }
  });

  test('a CRL signed by another key with the same name is revocation-unknown', async () => {
    const { reports } = await scan({ hosts: ['wrong.test'] });
    const p = problem(reports.get('wrong.test'), 'revocation-unknown');
    assert.ok(p, JSON.stringify(reports.get('wrong.test')?.problems));
    assert.match(p.message, /signature does not verify/);
    assert.equal(reports.get('wrong.test')?.status, 'warning');
  });

  test('a 100 MB CRL is refused at the 10 MB limit without being read to the end', async () => {
    bigBytesSent = 0;
    const { reports } = await scan({ hosts: ['big.test', 'declared.test'] });
    const p = problem(reports.get('big.test'), 'revocation-unknown');
    assert.ok(p, JSON.stringify(reports.get('big.test')?.problems));
    assert.match(p.message, /larger than the 10485760-byte limit \(cut off after \d+ bytes\)/);
    const d = problem(reports.get('declared.test'), 'revocation-unknown');
    assert.match(d?.message ?? '', /Content-Length: 104857600/);
    assert.ok(bigBytesSent < 40 * 1024 * 1024, `the server sent ${bigBytesSent} bytes before the client hung up`);
  });

  test('a revoked intermediate is revoked, named as such; its good leaf is checked against its own CRL', async () => {
    hits.clear();
    const { reports } = await scan({ hosts: ['chain.test'] });
    const r = reports.get('chain.test');
    assert.deepEqual(r?.problems.map((p) => p.code), ['revoked'], JSON.stringify(r?.problems));
    const p = problem(r, 'revoked');
    assert.match(p?.message ?? '', /^intermediate #1 "certs crl test intermediate" \(serial [0-9a-f]+\) was revoked on .*, reason cACompromise/);
    assert.match(p?.hint ?? '', /current chain from the CA/);
    assert.equal(hitCount('/inter.crl'), 1);
    assert.equal(hitCount('/x.crl'), 1);
  });

  test('a CRL server that never answers is revocation-unknown after the fetch budget', async () => {
    const checker = new RevocationChecker({ allowPrivateAddresses: true, timeoutMs: 300, cache: new CrlCache() });
    const { reports } = await scan({ hosts: ['hang.test'], checker });
    const p = problem(reports.get('hang.test'), 'revocation-unknown');
    assert.match(p?.message ?? '', /did not answer within 300 ms/);
    assert.match(p?.hint ?? '', /reachable/);
  });

  test('http only: an ldap:// distribution point and a redirect to https are revocation-unknown', async () => {
    const { reports } = await scan({ hosts: ['ldap.test', 'to-https.test'] });
    const ldap = problem(reports.get('ldap.test'), 'revocation-unknown');
    assert.match(ldap?.message ?? '', /ldap:\/\/127\.0\.0\.1\/cn=crl is not an http:\/\/ URL/);
    assert.match(ldap?.hint ?? '', /only http:\/\/ CRL URLs/);
    const https = problem(reports.get('to-https.test'), 'revocation-unknown');
    assert.match(https?.message ?? '', /redirected to https:\/\/127\.0\.0\.1:\d+\/x\.crl, which is not an http:\/\/ URL/);
  });

  test('a redirect to the CRL is followed (http only)', async () => {
    const { reports } = await scan({ hosts: ['moved.test'] });
    assert.deepEqual(reports.get('moved.test')?.problems, []);
  });

  test('loopback CRL URLs are refused unless fetch.allowPrivateAddresses', async () => {
    hits.clear();
    const { reports } = await scan({ hosts: ['revoked.test'], allowPrivate: false });
    const p = problem(reports.get('revoked.test'), 'revocation-unknown');
    assert.match(p?.message ?? '', /127\.0\.0\.1 is a loopback address/);
    assert.match(p?.hint ?? '', /fetch\.allowPrivateAddresses/);
    assert.equal(hitCount('/x.crl'), 0);
  });

  test('scan.revocation: false fetches nothing', async () => {
    hits.clear();
    const { reports, checker } = await scan({ hosts: ['revoked.test', 'good.test'], scan: { revocation: false } });
    assert.equal(checker, undefined);
    assert.equal(problem(reports.get('revoked.test'), 'revoked'), undefined);
    assert.equal([...hits.values()].reduce((a, b) => a + b, 0), 0, 'no CRL request');
    // Even with a checker at hand, the config decides.
    const again = await scan({ hosts: ['revoked.test'], scan: { revocation: false }, checker: new RevocationChecker({ allowPrivateAddresses: true, cache: new CrlCache() }) });
    assert.equal(problem(again.reports.get('revoked.test'), 'revoked'), undefined);
    assert.equal([...hits.values()].reduce((a, b) => a + b, 0), 0, 'no CRL request');
  });

  test('many endpoints behind one CRL: one fetch per run, none in the next run while the CRL is current', async () => {
    hits.clear();
    const hosts = Array.from({ length: 60 }, (_, i) => `e${i}.many.test`);
    const first = await scan({ hosts, scan: { concurrency: 16 } });
    assert.equal(first.reports.size, 60);
    for (const h of hosts) assert.deepEqual(first.reports.get(h)?.problems, [], h);
    assert.equal(hitCount('/many.crl'), 1);
    const second = await scan({ hosts: hosts.slice(0, 5), checker: first.checker });
    assert.equal(second.reports.get('e0.many.test')?.status, 'ok');
    assert.equal(hitCount('/many.crl'), 1, 'cached until nextUpdate');
    // The next cycle's checker (the daemon builds one per cycle) shares the process-wide cache.
    const shared = new CrlCache();
    await scan({ hosts: hosts.slice(0, 2), checker: new RevocationChecker({ allowPrivateAddresses: true, cache: shared }) });
    assert.equal(hitCount('/many.crl'), 2, 'a fresh cache fetches');
    await scan({ hosts: hosts.slice(0, 2), checker: new RevocationChecker({ allowPrivateAddresses: true, cache: shared }) });
    assert.equal(hitCount('/many.crl'), 2, 'another checker on the same cache does not');
    const strict = await scan({ hosts: hosts.slice(0, 2), checker: new RevocationChecker({ allowPrivateAddresses: false, cache: shared }) });
    assert.equal(hitCount('/many.crl'), 2, 'a stricter policy does not reuse a loopback CRL (and refuses to fetch it)');
    assert.match(problem(strict.reports.get('e0.many.test'), 'revocation-unknown')?.message ?? '', /loopback address/);
  });
});
