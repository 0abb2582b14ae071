/**
 * Revocation end to end: real nginx serves a leaf that an `openssl ca` PKI has revoked and one it
 * has not; the CRL comes from a loopback HTTP server that counts requests; the built CLI (npm run
 * build first) scans. `certs scan --json` and `certs status <name>` show `revoked` (critical, with
 * its date and reason) and exit 2; `scan.revocation: false` fetches nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseCrl } from '../../src/core/crl.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';
import { runCli, describeRun } from '../helpers/cli.js';
import { makeCrlCa } from '../helpers/crl-pki.js';

interface ScanJson {
  endpoints: Array<{ domain: string; status: string; problems: Array<{ code: string; severity: string; message: string; hint?: string }> }>;
}

describe('certs scan / status: a revoked certificate served by nginx', () => {
  let dir: string;
  let ngx: NginxInstance;
  let server: http.Server;
  let crl: Buffer;
  let hits = 0;
  let configFile: string;
  let offConfigFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certs-revocation-e2e-'));
    server = http.createServer((req, res) => {
      hits++;
      if (req.url === '/x.crl') res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const crlUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x.crl`;
    const ca = await makeCrlCa(join(dir, 'ca'));
    const revoked = await ca.issue('revoked.test', { crlUrl });
    const good = await ca.issue('good.test', { crlUrl });
    await ca.revoke(revoked, 'keyCompromise');
    crl = await ca.gencrl();
    ngx = await startNginx({
      sites: [
        { serverNames: ['revoked.test'], certPem: revoked.certPem, keyPem: revoked.keyPem, default: true },
        { serverNames: ['good.test'], certPem: good.certPem, keyPem: good.keyPem },
      ],
    });
    const config = (revocation: boolean, data: string): string => stringify({
      dataDir: join(dir, data),
      trust: { caFile: ca.ca.certPath, bundled: false, system: false },
      scan: { revocation },
      fetch: { allowPrivateAddresses: true },
      domains: ['revoked.test', 'good.test'].map((name) => ({ name, managed: false, endpoints: [{ host: name, port: ngx.port, address: '127.0.0.1' }] })),
    });
    configFile = join(dir, 'certs.yaml');
    offConfigFile = join(dir, 'certs-off.yaml');
    await writeFile(configFile, config(true, 'data'));
    await writeFile(offConfigFile, config(false, 'data-off'));
  });

  after(async () => {
    await ngx?.stop();
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scan --json: revoked (critical, date and reason) for one, nothing for the other, one CRL request; status <name> shows it with a fix', async () => {
    hits = 0;
    const r = await runCli(['scan', '--config', configFile, '--json']);
    assert.equal(r.code, 2, describeRun(r));
    const doc = JSON.parse(r.stdout) as ScanJson;
    const rev = doc.endpoints.find((e) => e.domain === 'revoked.test');
    const good = doc.endpoints.find((e) => e.domain === 'good.test');
    const p = rev?.problems.find((x) => x.code === 'revoked');
    assert.ok(p, describeRun(r));
    assert.equal(p.severity, 'critical');
    assert.equal(rev?.status, 'critical');
    const date = [...parseCrl(crl).revoked.values()][0]?.revocationDate.toISOString();
    assert.ok(date && p.message.includes(date), p.message);
    assert.match(p.message, /reason keyCompromise/);
    assert.equal(good?.status, 'ok', JSON.stringify(good));
    assert.equal(hits, 1, 'one CRL request for both endpoints');

    const s = await runCli(['status', 'revoked.test', '--config', configFile, '--no-color']);
    assert.equal(s.code, 2, describeRun(s));
    assert.match(s.stdout, /CRITICAL revoked: certificate "revoked\.test" \(serial [0-9a-f]+\) was revoked on /);
    // monitor-only (managed: false, no files.cert): the operator's fix, not `certs renew`
    assert.match(s.stdout, /fix: obtain a new certificate \(and a new key, if the old one may be compromised\) where this certificate comes from .* at once; certs only monitors revoked\.test/);
    assert.doesNotMatch(s.stdout, /certs renew/);
    assert.equal(hits, 1, 'status answers from the store');
  });

  it('scan.revocation: false: no CRL request, no revocation problem', async () => {
    hits = 0;
    const r = await runCli(['scan', '--config', offConfigFile, '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout) as ScanJson;
    assert.deepEqual(doc.endpoints.map((e) => [e.domain, e.status]).sort(), [['good.test', 'ok'], ['revoked.test', 'ok']]);
    assert.equal(hits, 0);
  });
});
