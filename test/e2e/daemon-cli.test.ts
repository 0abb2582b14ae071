/**
 * certs daemon as a long-running process: schedules, the HTTP endpoint, SIGHUP with a bad config,
 * SIGTERM within a bound; and two daemons on one data dir ordering each certificate once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTlsServer, type TlsServer } from '../helpers/scan-fixture.js';
import { startAcmeEnv } from '../helpers/acme-env.js';
import { createCA, createLeaf } from '../helpers/pki.js';
import { startDaemon, type Daemon } from '../helpers/daemon-process.js';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; challenge?: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, timeout: 5000, headers }, (res) => {
      let body = '';
      const challenge = res.headers['www-authenticate'];
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(challenge ? { challenge } : {}) }));
    }).on('error', reject).end();
  });
}

describe('certs daemon', () => {
  let dir: string;
  let server: TlsServer;
  const daemons: Daemon[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certs-daemon-'));
    const ca = await createCA({ cn: 'daemon CA' });
    writeFileSync(join(dir, 'ca.pem'), ca.pem);
    const leaf = await createLeaf({ dns: ['d.test'], issuer: ca });
    server = await startTlsServer(leaf.pem, leaf.keyPem);
  });
  after(async () => {
    for (const d of daemons) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs on its schedule, serves /healthz /metrics /status, survives a bad SIGHUP, stops on SIGTERM', async () => {
    const port = await freePort();
    const file = join(dir, 'certs.yaml');
    const config = `dataDir: ${join(dir, 'data')}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
daemon: { schedule: "*/2 * * * * *", http: { address: 127.0.0.1, port: ${port} } }
domains:
  - { name: d.test, managed: false, endpoints: [{ host: d.test, port: ${server.port}, address: 127.0.0.1 }] }
`;
    writeFileSync(file, config);
    const d = startDaemon(file, ['--run-now', '--shutdown-timeout', '5000']);
    daemons.push(d);
    await d.waitFor((e) => e.event === 'http.listening');
    await d.waitFor((e) => e.event === 'run.finished');
    const health = await get(port, '/healthz');
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
    const metrics = await get(port, '/metrics');
    assert.match(metrics.body, /^certs_certificate_expiration_timestamp_seconds\{domain="d\.test",endpoint="d\.test:\d+@127\.0\.0\.1",address="127\.0\.0\.1"\} \d+/m, "issue 12 §1: rows dialled at an address carry an address label");
    assert.match(metrics.body, /^certs_last_run_success 1$/m);
    const status = JSON.parse((await get(port, '/status')).body) as { summary: { ok: number } };
    assert.equal(status.summary.ok, 1);
    // A second scheduled run happens on its own.
    const runs = d.events.filter((e) => e.event === 'run.finished').length;
    await d.waitFor((e) => e.event === 'run.finished' && d.events.filter((x) => x.event === 'run.finished').length > runs, 10_000);

    writeFileSync(file, 'domains: [{name: "bad name"}]\n');
    d.proc.kill('SIGHUP');
    const invalid = await d.waitFor((e) => e.event === 'config.invalid');
    assert.match(String(invalid.error), /bad name/);
    assert.equal((await get(port, '/healthz')).status, 200, 'still serving with the old config');

    const t0 = Date.now();
    d.proc.kill('SIGTERM');
    const code = await d.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 10_000, `stopped within the bound (${Date.now() - t0} ms)`);
    assert.ok(d.events.some((e) => e.event === 'daemon.stopped'));
    for (const e of d.events) assert.notEqual(e.event, 'not-json', `every stdout line is JSON: ${JSON.stringify(e)}`);
  });

  it('daemon.http.token from the environment guards /status and /metrics; /healthz stays open; a foreign Host is refused', async () => {
    const port = await freePort();
    const token = 'e2e-http-token-5b8f0c';
    const file = join(dir, 'certs-token.yaml');
    writeFileSync(file, `dataDir: ${join(dir, 'data-token')}
trust: { caFile: ${join(dir, 'ca.pem')}, bundled: false, system: false }
daemon: { schedule: "0 0 1 1 *", http: { address: 127.0.0.1, port: ${port}, token: "\${env:CERTS_HTTP_TOKEN}" } }
domains:
  - { name: d.test, managed: false, endpoints: [{ host: d.test, port: ${server.port}, address: 127.0.0.1 }] }
`);
    const d = startDaemon(file, ['--run-now', '--shutdown-timeout', '5000'], { CERTS_HTTP_TOKEN: token });
    daemons.push(d);
    await d.waitFor((e) => e.event === 'http.listening');
    await d.waitFor((e) => e.event === 'run.finished');
    for (const path of ['/status', '/metrics']) {
      const denied = await get(port, path);
      assert.equal(denied.status, 401, path);
      assert.equal(denied.challenge, 'Bearer, Basic realm="certs"');
      assert.equal((await get(port, path, { authorization: 'Bearer not-the-token' })).status, 401, path);
    }
    const status = await get(port, '/status', { authorization: `Bearer ${token}` });
    assert.equal(status.status, 200);
    assert.equal((JSON.parse(status.body) as { summary: { ok: number } }).summary.ok, 1);
    const metrics = await get(port, '/metrics', { authorization: `Basic ${Buffer.from(`prometheus:${token}`).toString('base64')}` });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^certs_last_run_success 1$/m);
    assert.equal((await get(port, '/healthz')).status, 200);
    assert.equal((await get(port, '/healthz', { host: 'rebound.example' })).status, 421);
    assert.equal((await get(port, '/status', { host: `attacker.example:${port}`, authorization: `Bearer ${token}` })).status, 421);
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(!JSON.stringify(d.events).includes(token), 'the token is never logged');
  });

  it('refuses to start on a non-loopback address without a token, before listening', async () => {
    const file = join(dir, 'certs-open.yaml');
    writeFileSync(file, `dataDir: ${join(dir, 'data-open')}
daemon: { http: { address: 0.0.0.0, port: 9 } }
domains: []
`);
    const d = startDaemon(file);
    daemons.push(d);
    assert.equal(await d.exited, 2);
    assert.ok(!d.events.some((e) => e.event === 'http.listening' || e.event === 'daemon.started'));
    assert.match(d.stderr(), /daemon\.http\.address: 0\.0\.0\.0 is not a loopback address and daemon\.http\.token is not set/);
  });

  it('two daemons on one data dir: one works, the other waits; each certificate is ordered once', async () => {
    const env = await startAcmeEnv();
    try {
      const { file } = env.writeConfig(`${env.acmeYaml()}
daemon: { schedule: "0 0 1 1 *" }
domains:
  - { name: t1.test, endpoints: [] }
  - { name: t2.test, endpoints: [] }
`);
      const a = startDaemon(file, ['--run-now']);
      const b = startDaemon(file, ['--run-now']);
      daemons.push(a, b);
      await Promise.all([a.waitFor((e) => e.event === 'run.finished', 60_000), b.waitFor((e) => e.event === 'run.finished', 60_000)]);
      const issued = [...a.events, ...b.events].filter((e) => e.event === 'renew.result' && e.action === 'issued').map((e) => e.domain).sort();
      assert.deepEqual(issued, ['t1.test', 't2.test'], 'each certificate issued exactly once across both daemons');
      const store = env.openStore();
      try {
        assert.equal(store.issued.list('t1.test').length, 1);
        assert.equal(store.issued.list('t2.test').length, 1);
      } finally {
        store.close();
      }
      a.proc.kill('SIGTERM');
      b.proc.kill('SIGTERM');
      assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
    } finally {
      await env.stop();
    }
  });
});
