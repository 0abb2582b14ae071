// Certificates with an empty subject DN against the real nginx and the real Pebble (issue #10,
// point 1). RFC 5280 allows an empty subject when the SAN is critical; Let's Encrypt's
// `tlsserver` and `shortlived` profiles issue exactly that. Node's X509Certificate.subject is
// undefined for such a certificate, which the scanner used to report as handshake-failed
// ("Cannot read properties of undefined (reading 'split')").
//
// - nginx serving an empty-subject leaf with its chain (TLS 1.2 and a TLS 1.3-only nginx): the scan
//   is ok, and `scan`/`status` (table, detail, JSON) name it "(empty subject) <first SAN>";
// - nginx serving the same kind of leaf alone: incomplete-chain, with a message naming the leaf;
// - `repair` of such a leaf: the intermediate is fetched through AIA, a wrong one refused by name;
// - an order for the `shortlived` profile through the ACME client against Pebble: Pebble 2.4 always
//   sets a CN, so the ARI front (test/helpers/ari-front.ts) re-issues the leaf the way the profile
//   would (same key, names, serial, validity; empty subject, critical SAN; signed by Pebble's own
//   intermediate). verifyIssued accepts it, it is archived and recorded, and once nginx serves it
//   the scan is ok.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scanCommand, statusCommand } from '../../src/cli/commands/scan.js';
import type { Io } from '../../src/cli/context.js';
import type { EndpointReport } from '../../src/core/model.js';
import type { ReportDocument } from '../../src/core/report.js';
import { TrustAnchors } from '../../src/core/trust-anchors.js';
import { extensionCritical, oneLineName, parseNameList } from '../../src/core/x509.js';
import { AiaError, repairChain } from '../../src/deploy/aia.js';
import { startAcmeEnv, type AcmeEnv } from '../helpers/acme-env.js';
import { startAriFront, type AriFront } from '../helpers/ari-front.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';
import type { PebbleInstance } from '../helpers/pebble.js';
import { createCA, createLeaf, keyFromPem, pemBundle, type Issued, type KeyMaterial } from '../helpers/pki.js';
import { describeReport, scanEndpoints } from '../helpers/scan-fixture.js';

const AIA_URL = 'http://ca.test/empty-subject-int.der';

/** Runs a CLI command in-process against `configFile`; returns what it printed and its exit code. */
async function cli(run: (io: Io) => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
  const code = await run({ stdout: sink, stderr: { write: () => true } as unknown as NodeJS.WriteStream, now: () => new Date() });
  return { code, out };
}

describe('nginx serving empty-subject leaves', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-empty-subject-'));
  const configFile = join(dir, 'certs.yaml');
  let root: Issued;
  let full: Issued;
  let alone: Issued;
  let ngx: NginxInstance | undefined;
  let ngx13: NginxInstance | undefined;

  before(async () => {
    root = await createCA({ cn: 'Empty Subject Test Root' });
    const inter = await createCA({ cn: 'Empty Subject Test Int', issuer: root });
    full = await createLeaf({ dns: ['www.full.test', 'full.test', 'full13.test'], issuer: inter, emptySubject: true, aiaIssuerUrl: AIA_URL });
    alone = await createLeaf({ dns: ['www.alone.test', 'alone.test'], issuer: inter, emptySubject: true, aiaIssuerUrl: AIA_URL });
    ngx = await startNginx({
      sites: [
        { serverNames: ['full.test'], certPem: pemBundle(full, inter), keyPem: full.keyPem, default: true },
        { serverNames: ['alone.test'], certPem: alone.pem, keyPem: alone.keyPem },
      ],
    });
    // TLS 1.3 only: the chain is read from the decrypted Certificate message instead.
    ngx13 = await startNginx({ sites: [{ serverNames: ['full13.test'], certPem: pemBundle(full, inter), keyPem: full.keyPem, protocols: 'TLSv1.3' }] });
    writeFileSync(join(dir, 'ca.pem'), root.pem);
    writeFileSync(configFile, `dataDir: ${join(dir, 'data')}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
domains:
  - { name: full.test, managed: false, endpoints: [{ host: full.test, port: ${ngx.port}, address: 127.0.0.1 }] }
  - { name: alone.test, managed: false, endpoints: [{ host: alone.test, port: ${ngx.port}, address: 127.0.0.1 }] }
  - { name: full13.test, managed: false, endpoints: [{ host: full13.test, port: ${ngx13.port}, address: 127.0.0.1 }] }
`);
  });

  after(async () => {
    await Promise.allSettled([ngx?.stop(), ngx13?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const byDomain = (doc: ReportDocument, domain: string): EndpointReport => {
    const r = doc.endpoints.find((e) => e.domain === domain);
    assert.ok(r, `no report for ${domain}`);
    return r;
  };

  it('scan --json: the full chain is ok (TLS 1.2 and 1.3), the leaf alone is incomplete-chain; both named by their first SAN', async () => {
    const { code, out } = await cli((io) => scanCommand([], { config: configFile, json: true }, io));
    const doc = JSON.parse(out) as ReportDocument;
    assert.equal(code, 2, 'critical overall (the incomplete chain)');

    for (const domain of ['full.test', 'full13.test']) {
      const r = byDomain(doc, domain);
      assert.equal(r.status, 'ok', describeReport(r));
      assert.deepEqual(r.problems, []);
      assert.equal(r.subject, '(empty subject) www.full.test');
      assert.equal(r.issuer, 'CN=Empty Subject Test Int');
      assert.equal(r.fingerprint256, full.cert.fingerprint256);
    }
    assert.equal(byDomain(doc, 'full13.test').protocol, 'TLSv1.3');

    const r = byDomain(doc, 'alone.test');
    assert.equal(r.status, 'critical');
    assert.deepEqual(r.problems.map((p) => p.code), ['incomplete-chain'], describeReport(r));
    assert.equal(r.subject, '(empty subject) www.alone.test');
    const message = r.problems[0]!.message;
    assert.match(message, /^chain of "\(empty subject\) www\.alone\.test" \(SHA-256 [0-9A-F:]+…\) is incomplete: issuer "CN=Empty Subject Test Int" of "\(empty subject\) www\.alone\.test"/);
    assert.ok(message.includes(AIA_URL), message);
    assert.doesNotMatch(out, /undefined|cannot be parsed|handshake-failed/);
  });

  it('status --json, the table and the detail view read the stored scans the same way', async () => {
    await cli((io) => scanCommand([], { config: configFile, json: true }, io));
    const json = await cli((io) => statusCommand([], { config: configFile, json: true }, io));
    const doc = JSON.parse(json.out) as ReportDocument;
    assert.equal(byDomain(doc, 'full.test').subject, '(empty subject) www.full.test');
    assert.equal(byDomain(doc, 'full.test').status, 'ok');
    assert.equal(byDomain(doc, 'alone.test').subject, '(empty subject) www.alone.test');
    assert.deepEqual(byDomain(doc, 'alone.test').problems.map((p) => p.code), ['incomplete-chain']);

    const table = await cli((io) => statusCommand([], { config: configFile }, io));
    assert.match(table.out, /^full\.test\s+127\.0\.0\.1|^full\.test\s+full\.test:\d+/m);
    assert.match(table.out, /Empty Subject Test Int\s+OK/);
    assert.match(table.out, /incomplete-chain/);

    const detail = await cli((io) => statusCommand(['alone.test'], { config: configFile }, io));
    assert.match(detail.out, /^ {2}#0 \(empty subject\) www\.alone\.test$/m);
    assert.match(detail.out, /^ {7}names {4}www\.alone\.test, alone\.test$/m);
    assert.match(detail.out, /incomplete-chain: chain of "\(empty subject\) www\.alone\.test"/);
    assert.doesNotMatch(table.out + detail.out, /undefined/);
  });
});

describe('repair (AIA) of an empty-subject leaf served alone', () => {
  it('fetches the missing intermediate, and a wrong answer is refused naming the leaf by its first SAN', async () => {
    const root = await createCA({ cn: 'Repair Test Root' });
    const inter = await createCA({ cn: 'Repair Test Int', issuer: root });
    const stranger = await createCA({ cn: 'Repair Test Stranger', issuer: root });
    const routes = new Map<string, Buffer>([['/int.der', inter.der], ['/wrong.der', stranger.der]]);
    const server = http.createServer((req, res) => {
      const body = routes.get(req.url ?? '');
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/pkix-cert' });
      res.end(body ?? 'not found');
    });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const anchors = new TrustAnchors([root.cert]);
      // allowPrivateAddresses: the "CA" is this loopback server.
      const opts = { anchors, timeoutMs: 5000, allowPrivateAddresses: true };
      const leaf = await createLeaf({ dns: ['www.repair.test', 'repair.test'], issuer: inter, emptySubject: true, aiaIssuerUrl: `${base}/int.der` });
      const repaired = await repairChain([leaf.pem], opts);
      assert.equal(repaired.ending, 'trusted');
      assert.deepEqual(repaired.chain.map((c) => c.fingerprint256), [leaf.cert.fingerprint256, inter.cert.fingerprint256]);

      const misled = await createLeaf({ dns: ['www.misled.test'], issuer: inter, emptySubject: true, aiaIssuerUrl: `${base}/wrong.der` });
      await assert.rejects(repairChain([misled.pem], opts), (err: unknown) => {
        assert.ok(err instanceof AiaError, String(err));
        assert.match(err.message, /^cannot fetch the issuer of "\(empty subject\) www\.misled\.test" from its AIA caIssuers URL/);
        assert.match(err.message, /served a certificate that did not sign "\(empty subject\) www\.misled\.test": got "CN=Repair Test Stranger"/);
        assert.doesNotMatch(err.message, /with the right name/);
        return true;
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/**
 * What a CA's `tlsserver`/`shortlived` profile does to the certificate Pebble 2.4 issues (Pebble
 * always sets a CN): the same key, names, serial and validity, with an empty subject and a
 * critical SAN, signed by Pebble's own intermediate, so the chain still verifies to Pebble's root.
 */
async function emptySubjectReissuer(pebble: PebbleInstance): Promise<(chainPem: string) => Promise<string>> {
  const interPem = await pebble.intermediatePem();
  const keyRes = await pebble.managementGet('/intermediate-keys/0');
  assert.equal(keyRes.status, 200, 'Pebble hands out its intermediate key');
  const interCert = new X509Certificate(interPem);
  const interKey = keyFromPem(createPrivateKey(keyRes.body.toString('utf8')).export({ type: 'pkcs8', format: 'pem' }).toString());
  const issuer: Issued = { cert: interCert, der: interCert.raw, pem: interPem, keyPem: interKey.keyPem, key: interKey, subject: oneLineName(interCert.subject) };
  return async (chainPem) => {
    const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
    const pebbleLeaf = new X509Certificate(blocks[0] ?? '');
    // Only the public half is needed: the leaf is signed by the intermediate.
    const publicKey = pebbleLeaf.publicKey;
    const key = { spec: 'ec-p256', publicKey, privateKey: undefined, keyPem: '', spkiDer: publicKey.export({ type: 'spki', format: 'der' }) } as unknown as KeyMaterial;
    const names = parseNameList(pebbleLeaf.subjectAltName);
    const leaf = await createLeaf({
      dns: names.filter(([t]) => t === 'DNS').map(([, v]) => v),
      ips: names.filter(([t]) => t === 'IP Address').map(([, v]) => v),
      issuer, key, emptySubject: true,
      notBefore: new Date(pebbleLeaf.validFrom), notAfter: new Date(pebbleLeaf.validTo), serialNumber: pebbleLeaf.serialNumber.toLowerCase(),
    });
    return `${leaf.pem}${blocks.slice(1).join('')}`;
  };
}

describe('an empty-subject certificate through the ACME path (Pebble, profile shortlived)', () => {
  let env: AcmeEnv;
  let front: AriFront;
  before(async () => {
    env = await startAcmeEnv();
    front = await startAriFront({ pebble: env.pebble, profiles: { classic: '90 days', shortlived: '6 days, empty subject' }, rewriteChain: await emptySubjectReissuer(env.pebble) });
  });
  after(async () => {
    await front?.stop();
    await env?.stop();
  });

  it('passes verifyIssued, is archived and recorded, and scans ok when nginx serves it', async () => {
    const acmeYaml = env.acmeYaml('  profile: shortlived\n')
      .replace(`directory: ${env.pebble.directoryUrl}`, `directory: ${front.directoryUrl}`)
      .replace(`caFile: ${env.pebble.caFile}`, `caFile: ${front.caFile}`);
    const { config } = env.writeConfig(`${acmeYaml}\ndomains:\n  - { name: es.test, altNames: [www.es.test] }\n`);
    const [o] = await env.renew(config);
    assert.equal(o?.action, 'issued', o?.reason);
    assert.equal(front.orders().at(-1)?.profile, 'shortlived');
    const current = join(env.dataDir, 'certs', 'es.test', 'current');
    const fullchain = readFileSync(join(current, 'fullchain.pem'), 'utf8');
    const keyPem = readFileSync(join(current, 'privkey.pem'), 'utf8');
    const leaf = new X509Certificate(fullchain);
    assert.equal(leaf.subject ?? '', '', `the archived leaf has an empty subject (got ${JSON.stringify(leaf.subject)})`);
    assert.equal(extensionCritical(leaf.raw), true, 'with a critical SAN');
    assert.equal(leaf.subjectAltName, 'DNS:es.test, DNS:www.es.test');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)), 'archived with its key');

    const store = env.openStore();
    try {
      const row = store.issued.latest('es.test');
      assert.equal(row?.fingerprint256, leaf.fingerprint256);
      assert.equal(row?.profile, 'shortlived');
      assert.match(row?.issuer ?? '', /^CN=Pebble Intermediate CA/);
    } finally {
      store.close();
    }

    const ngx = await startNginx({ sites: [{ serverNames: ['es.test', 'www.es.test'], certPem: fullchain, keyPem }] });
    const dir = mkdtempSync(join(os.tmpdir(), 'certs-empty-subject-acme-'));
    try {
      const scan = await scanEndpoints({ dir, anchorsPem: await env.pebble.rootPem(), endpoints: [{ host: 'es.test', address: '127.0.0.1', port: ngx.port }] });
      const r = scan.get('es.test');
      assert.deepEqual(r.problems.map((p) => `${p.code}: ${p.message}`), [], describeReport(r));
      assert.equal(r.status, 'ok');
      assert.equal(r.fingerprint256, leaf.fingerprint256);
      assert.equal(r.subject, '(empty subject) es.test');
    } finally {
      await ngx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
