// Every address of a name (issue 12 §1), against real servers on loopback: a BIND zone gives
// multi.addr.test three A records (127.0.0.2, .3, .4); three nginx instances listen on the same
// port, one per address, and the one on 127.0.0.3 was "never reloaded": it serves the older
// certificate. The real CLI (`certs scan` / `certs status --json`, run from source) must flag
// exactly that address with stale-deployment and show all three rows; `scan.addresses: first`
// gives one row; a name without A/AAAA records is unreachable with the DNS server's answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startBind, randomSecret, type BindInstance } from '../helpers/bind.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { createCA, createLeaf, daysFrom, pemBundle, type Issued } from '../helpers/pki.js';
import { openStore } from '../../src/store/index.js';
import type { EndpointReport } from '../../src/core/model.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const NAME = 'multi.addr.test';
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const STALE = '127.0.0.3';

interface Doc { summary: Record<string, number>; endpoints: EndpointReport[] }

function certs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, CERTS_NO_CACHE: '1', NO_COLOR: '1', NODE_TEST_CONTEXT: undefined }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('scan.addresses: every address of a name (BIND + three nginx on loopback)', () => {
  let dir: string;
  let dns: BindInstance;
  const nginx: NginxInstance[] = [];
  let port: number;
  let root: Issued;
  let fresh: Issued;
  let old: Issued;
  const now = new Date();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-addresses-'));
    root = await createCA({ cn: 'Addresses Test Root' });
    fresh = await createLeaf({ issuer: root, dns: [NAME], notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 89) });
    old = await createLeaf({ issuer: root, dns: [NAME], notBefore: daysFrom(now, -60), notAfter: daysFrom(now, 29) });
    dns = await startBind({
      zone: 'addr.test.',
      tsig: { name: 'k', algorithm: 'hmac-sha256', secret: randomSecret() },
      // `empty` exists (a TXT record) so the zone's wildcard A does not answer for it: NODATA.
      records: [...ADDRESSES.map((a) => `multi IN A ${a}`), 'empty IN TXT "no addresses here"'],
    });
    port = await freePort(ADDRESSES[0]);
    for (const address of ADDRESSES) {
      const leaf = address === STALE ? old : fresh;
      nginx.push(await startNginx({ address, port, sites: [{ serverNames: [NAME], certPem: leaf.pem, keyPem: leaf.keyPem }] }));
    }
    writeFileSync(join(dir, 'ca.pem'), pemBundle(root));
  });

  after(async () => {
    await Promise.all(nginx.map((n) => n.stop()));
    await dns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(file: string, dataDir: string, scan: Record<string, unknown>): string {
    const path = join(dir, file);
    writeFileSync(path, stringify({
      dataDir,
      trust: { caFile: join(dir, 'ca.pem'), bundled: false, system: false },
      scan: { timeoutMs: 3000, revocation: false, resolver: `127.0.0.1:${dns.port}`, ...scan },
      domains: [
        { name: NAME, endpoints: [{ host: NAME, port }] },
        { name: 'empty.addr.test', managed: false, endpoints: [{ host: 'empty.addr.test', port }] },
      ],
    }));
    return path;
  }

  it('scans each address, flags exactly the stale one, and status --json shows all three rows', async () => {
    const dataDir = join(dir, 'data-all');
    const config = writeConfig('all.yaml', dataDir, {});
    // The newest certificate issued for the (managed) domain is `fresh`.
    const store = openStore(dataDir);
    try {
      store.issued.record({
        lineage: NAME, version: 2, fingerprint256: fresh.cert.fingerprint256, serial: fresh.cert.serialNumber,
        notBefore: new Date(fresh.cert.validFrom).toISOString(), notAfter: new Date(fresh.cert.validTo).toISOString(), issuer: 'CN=Addresses Test Root',
        names: [NAME], keyType: 'ecdsa-p256', directoryUrl: 'https://ca.invalid/dir', profile: null, ariCertId: null, replacedId: null,
        dir: join(dataDir, 'certs', NAME, 'archive', '2'), issuedAt: now.toISOString(), reason: null, revokedAt: null, revokeReason: null,
      });
    } finally {
      store.close();
    }

    const scan = await certs(['-c', config, 'scan', '--json']);
    const scanned = JSON.parse(scan.stdout) as Doc;
    const multiScan = scanned.endpoints.filter((e) => e.host === NAME);
    assert.deepEqual(multiScan.map((e) => e.address), ADDRESSES, scan.stderr);

    const status = await certs(['-c', config, 'status', '--json']);
    const doc = JSON.parse(status.stdout) as Doc;
    const multi = doc.endpoints.filter((e) => e.host === NAME);
    assert.deepEqual(multi.map((e) => e.address), ADDRESSES, 'one row per address, in address order');
    for (const e of multi) {
      assert.equal(e.port, port);
      assert.equal(e.fingerprint256, e.address === STALE ? old.cert.fingerprint256 : fresh.cert.fingerprint256, `${e.address} serves its own nginx's certificate`);
    }
    const flagged = multi.filter((e) => e.problems.some((p) => p.code === 'stale-deployment'));
    assert.deepEqual(flagged.map((e) => e.address), [STALE], JSON.stringify(multi.map((e) => [e.address, e.problems.map((p) => p.code)])));
    assert.match(flagged[0]!.problems.find((p) => p.code === 'stale-deployment')!.message, /^127\.0\.0\.3 serves a certificate expiring/);
    assert.deepEqual(multi.filter((e) => e.address !== STALE).map((e) => e.status), ['ok', 'ok']);

    const empty = doc.endpoints.filter((e) => e.host === 'empty.addr.test');
    assert.equal(empty.length, 1);
    assert.equal(empty[0]!.address, undefined);
    assert.equal(empty[0]!.status, 'critical');
    assert.deepEqual(empty[0]!.problems.map((p) => p.code), ['unreachable']);
    assert.match(empty[0]!.problems[0]!.message, new RegExp(`DNS lookup of "empty\\.addr\\.test" failed: DNS server 127\\.0\\.0\\.1:${dns.port} answered ENODATA`));
    assert.equal(status.code, 2, 'critical (the unreachable name) sets the Nagios exit code');

    // The table names each address.
    const table = await certs(['-c', config, 'status']);
    for (const a of ADDRESSES) assert.match(table.stdout, new RegExp(`${NAME.replaceAll('.', '\\.')}:${port} @${a.replaceAll('.', '\\.')}`));
  });

  it('scan.addresses: first keeps one connection per endpoint (one row, no address)', async () => {
    const config = writeConfig('first.yaml', join(dir, 'data-first'), { addresses: 'first' });
    const scan = await certs(['-c', config, 'scan', '--json']);
    const doc = JSON.parse(scan.stdout) as Doc;
    const multi = doc.endpoints.filter((e) => e.host === NAME);
    assert.equal(multi.length, 1, scan.stderr);
    assert.equal(multi[0]!.address, undefined);
    const status = JSON.parse((await certs(['-c', config, 'status', '--json'])).stdout) as Doc;
    assert.equal(status.endpoints.filter((e) => e.host === NAME).length, 1);
  });
});
