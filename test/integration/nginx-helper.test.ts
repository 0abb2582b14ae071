// Self-test of test/helpers/nginx.ts against the real nginx binary: SNI routing over IPv4 and
// IPv6, reload, config errors, and that stop() leaves neither a process nor a directory behind.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { childPids, startNginx } from '../helpers/nginx.js';
import { selfSigned, type Pem } from '../helpers/openssl-cli.js';

interface Served {
  fingerprint256: string;
  protocol: string | null;
}

function handshake(host: string, port: number, servername: string, opts: tls.ConnectionOptions = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, servername, rejectUnauthorized: false, ...opts });
    sock.setTimeout(5000, () => sock.destroy(new Error(`handshake with ${host}:${port} (${servername}) timed out`)));
    sock.once('secureConnect', () => {
      const served = { fingerprint256: sock.getPeerCertificate().fingerprint256, protocol: sock.getProtocol() };
      sock.end();
      resolve(served);
    });
    sock.once('error', reject);
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('GET timed out')));
    req.on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

const execFileP = promisify(execFile);
const fp = (pem: Pem): string => new X509Certificate(pem.certPem).fingerprint256;

describe('startNginx', () => {
  let dir: string;
  let a: Pem;
  let b: Pem;
  let c: Pem;

  before(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'certs-nginx-test-'));
    [a, b, c] = await Promise.all([selfSigned(dir, 'a.test'), selfSigned(dir, 'b.test'), selfSigned(dir, 'c.test')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each SNI name gets its own certificate over IPv4 and IPv6; unknown names get the default site', async (t) => {
    const ngx = await startNginx({
      sites: [
        { serverNames: ['a.test'], certPem: a.certPem, keyPem: a.keyPem, listen: 'both' },
        { serverNames: ['b.test'], certPem: b.certPem, keyPem: b.keyPem, listen: 'both', default: true },
      ],
    });
    t.after(() => ngx.stop());
    assert.ok(ngx.port > 0 && ngx.port6 !== undefined && ngx.port6 > 0);
    assert.notEqual(fp(a), fp(b));
    for (const [host, port] of [['127.0.0.1', ngx.port], ['::1', ngx.port6]] as const) {
      assert.equal((await handshake(host, port, 'a.test')).fingerprint256, fp(a), `${host} a.test`);
      assert.equal((await handshake(host, port, 'b.test')).fingerprint256, fp(b), `${host} b.test`);
      assert.equal((await handshake(host, port, 'other.test')).fingerprint256, fp(b), `${host} default`);
    }
  });

  test('protocols: a TLS 1.3-only server refuses a TLS 1.2-only client; mixed protocols on one port are refused', async (t) => {
    const ngx = await startNginx({ sites: [{ serverNames: ['b.test'], certPem: b.certPem, keyPem: b.keyPem, protocols: 'TLSv1.3' }] });
    t.after(() => ngx.stop());
    assert.equal((await handshake('127.0.0.1', ngx.port, 'b.test')).protocol, 'TLSv1.3');
    await assert.rejects(handshake('127.0.0.1', ngx.port, 'b.test', { maxVersion: 'TLSv1.2' }));
    await assert.rejects(
      startNginx({
        sites: [
          { serverNames: ['a.test'], certPem: a.certPem, keyPem: a.keyPem },
          { serverNames: ['b.test'], certPem: b.certPem, keyPem: b.keyPem, protocols: 'TLSv1.3' },
        ],
      }),
      /protocols/,
    );
  });

  test('reload applies a new configuration; stop leaves no process and no prefix', async (t) => {
    const ngx = await startNginx({
      sites: [{ serverNames: ['a.test'], certPem: a.certPem, keyPem: a.keyPem }],
      extraHttp: 'server { listen 127.0.0.1:@HTTP_PORT@; location / { return 200 "plain\\n"; } }',
    });
    t.after(() => ngx.stop());
    const workersBefore = childPids(ngx.pid);
    assert.equal(workersBefore.length, 1);
    assert.ok(ngx.httpPort);
    assert.deepEqual(await httpGet(ngx.httpPort, '/'), { status: 200, body: 'plain\n' });

    await ngx.reload();
    const workersAfter = childPids(ngx.pid);
    assert.equal(workersAfter.length, 1);
    assert.ok(workersAfter.every((w) => !workersBefore.includes(w)), 'reload replaced the worker');
    assert.equal((await handshake('127.0.0.1', ngx.port, 'a.test')).fingerprint256, fp(a));

    // Serving a different chain under the same name, as a deploy does.
    await ngx.reload({ sites: [{ serverNames: ['a.test'], certPem: c.certPem, keyPem: c.keyPem }] });
    assert.equal((await handshake('127.0.0.1', ngx.port, 'a.test')).fingerprint256, fp(c));

    // A config nginx -t rejects leaves the running config in place.
    await assert.rejects(ngx.reload({ sites: [{ serverNames: ['a.test'], certPem: c.certPem, keyPem: a.keyPem }] }), /nginx -t failed: .*key values mismatch/s);
    assert.equal((await handshake('127.0.0.1', ngx.port, 'a.test')).fingerprint256, fp(c));

    const pids = [ngx.pid, ...childPids(ngx.pid)];
    await ngx.stop();
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    assert.equal(existsSync(ngx.prefix), false, 'prefix removed');
    assert.match(ngx.errorLog(), /signal 15 \(SIGTERM\) received/);
    await ngx.stop(); // idempotent
  });

  test('a config nginx -t rejects fails start with nginx\'s own message', async () => {
    await assert.rejects(
      startNginx({ sites: [{ serverNames: ['a.test'], certPem: a.certPem, keyPem: 'not a key\n' }] }),
      /nginx -t failed: nginx: \[emerg\] cannot load certificate key/,
    );
  });

  test('nginx sends the certificate file as given: order and extra certs included', async (t) => {
    // a's leaf followed by an unrelated cert: how wrong-order and extra-cert chains are staged.
    const ngx = await startNginx({ sites: [{ serverNames: ['a.test'], certPem: a.certPem + b.certPem, keyPem: a.keyPem }] });
    t.after(() => ngx.stop());
    // Node's getPeerCertificate(true) rebuilds the chain, so ask openssl what was on the wire.
    const run = execFileP('openssl', ['s_client', '-connect', `127.0.0.1:${ngx.port}`, '-servername', 'a.test', '-showcerts'], { timeout: 10_000 });
    run.child.stdin?.end(); // s_client stays connected until its stdin closes
    const { stdout } = await run;
    const served = stdout.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    assert.deepEqual(served.map((pem) => new X509Certificate(pem).fingerprint256), [fp(a), fp(b)]);
  });
});
