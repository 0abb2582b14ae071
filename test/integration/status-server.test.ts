import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusCommand } from '../../src/cli/commands/scan.js';
import type { Io } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { LastRun } from '../../src/core/metrics.js';
import type { ReportDocument } from '../../src/core/report.js';
import { compose } from '../../src/cli/compose.js';
import { startStatusServer, type HttpLimits, type StatusServer } from '../../src/service/http.js';
import { ConfigError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import { fakeCert, reportFor } from '../helpers/store-fixtures.js';

/** The store as the CLI's composition root opens it for the daemon. */
const { readStore } = compose();
const SECRET = 'hunter2-webhook-secret';
const dir = mkdtempSync(join(tmpdir(), 'certs-status-server-'));
// After every suite of the file: the second one writes its stores under it too.
after(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'certs.yaml');
writeFileSync(configFile, `dataDir: ${join(dir, 'data')}
trust: { bundled: true, system: false }
daemon: { http: {} }
notify:
  webhook: { url: "http://127.0.0.1:9/hook", secret: "${SECRET}" }
domains:
  - { name: good.test, managed: false, endpoints: [{ host: good.test, port: 443 }, { host: good.test, port: 8443, address: 127.0.0.1 }] }
  - { name: bad.test, managed: true }
  - { name: never.test, managed: false }
`);

let config: Config = loadConfig(configFile, { env: {} });
let lastRun: LastRun | null = null;
let server: StatusServer;
let base: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection (no keep-alive), so nothing lingers after the test. */
function call(method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What `certs status --json` prints for the same config file. */
async function cliStatusJson(): Promise<ReportDocument> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const io: Io = { stdout: sink, stderr: sink, now: () => new Date('2025-06-02T00:00:00.000Z') };
  await statusCommand([], { json: true, config: configFile }, io);
  return JSON.parse(out) as ReportDocument;
}

function sampleLines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function populate(): void {
  const root = fakeCert('Root', { isCA: true });
  const goodLeaf = fakeCert('good.test', { issuer: root.info.subject, notAfter: '2026-01-01T00:00:00.000Z' });
  const badLeaf = fakeCert('bad.test', { issuer: 'CN=Gone', notAfter: '2025-06-20T00:00:00.000Z' });
  const store = openStore(config.dataDir);
  try {
    store.scans.recordMany([
      { report: reportFor({ domain: 'good.test' }, [goodLeaf, root]), chainDer: [goodLeaf.der, root.der] },
      { report: reportFor({ domain: 'good.test', port: 8443, address: '127.0.0.1' }, [goodLeaf, root]), chainDer: [goodLeaf.der, root.der] },
      {
        report: reportFor({ domain: 'bad.test' }, [badLeaf], {
          daysLeft: 18,
          problems: [
            { code: 'incomplete-chain', severity: 'critical', message: 'the issuer "CN=Gone" is neither served nor trusted' },
            { code: 'expiring-soon', severity: 'warning', message: 'expires in 18 days' },
          ],
        }),
        chainDer: [badLeaf.der],
      },
    ]);
    store.renewals.recordFailure('bad.test', { at: '2025-06-01T03:00:00.000Z', error: 'order failed', code: 'acme', nextAttemptAt: '2025-06-01T04:00:00.000Z' });
    store.renewals.recordFailure('bad.test', { at: '2025-06-01T04:00:00.000Z', error: 'order failed', code: 'acme', nextAttemptAt: '2025-06-01T06:00:00.000Z' });
    store.notifications.commitRun({
      at: '2025-06-01T04:00:00.000Z',
      markSent: [],
      activate: [],
      clear: [],
      messages: [{ key: 'digest:webhook:1', channel: 'webhook', to: [], subject: 's', text: 't', html: null, payload: { a: 1 }, createdAt: '2025-06-01T04:00:00.000Z', nextAttemptAt: '2025-06-01T04:00:00.000Z' }],
    });
  } finally {
    store.close();
  }
}

describe('status server (daemon.http)', () => {
  before(async () => {
    // `http: {}` means loopback, 127.0.0.1:9464; the test takes a free port on the same address.
    const http = config.daemon!.http!;
    assert.deepEqual(http, { address: '127.0.0.1', port: 9464 });
    server = await startStatusServer({ readStore, config: () => config, lastRun: async () => lastRun, address: http.address, port: 0, version: '9.9.9-test' });
    base = `http://${server.address}:${server.port}`;
  });
  after(async () => {
    await server?.close();
  });

  it('listens on loopback on the port it picked', async () => {
    assert.equal(server.address, '127.0.0.1');
    assert.ok(server.port > 0);
  });

  it('before anything is stored: starting, empty metrics, every target unknown', async () => {
    const h = await call('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.match(String(h.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(h.body), { status: 'starting', lastRun: null, version: '9.9.9-test' });

    const m = await call('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_expiration_timestamp_seconds'), []);
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_problems'), []);
    assert.deepEqual(sampleLines(m.body, 'certs_notifications_pending'), ['certs_notifications_pending 0']);

    const s = await call('GET', '/status');
    assert.equal(s.status, 200);
    const doc = JSON.parse(s.body) as ReportDocument;
    assert.deepEqual(doc.summary, { ok: 0, warning: 0, critical: 0, unknown: 4 });
    assert.deepEqual(doc.endpoints, (await cliStatusJson()).endpoints);
  });

  it('after a stored scan: /status is the document of `certs status --json`', async () => {
    populate();
    const s = await call('GET', '/status');
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^application\/json/);
    const doc = JSON.parse(s.body) as ReportDocument;
    assert.deepEqual(Object.keys(doc), ['generatedAt', 'summary', 'endpoints']);
    assert.ok(!Number.isNaN(Date.parse(doc.generatedAt)));
    const cli = await cliStatusJson();
    assert.deepEqual({ ...doc, generatedAt: 'x' }, { ...cli, generatedAt: 'x' });
    assert.deepEqual(doc.summary, { ok: 2, warning: 0, critical: 1, unknown: 1 });
    const bad = doc.endpoints.find((e) => e.domain === 'bad.test')!;
    assert.deepEqual(bad.problems.map((p) => p.code), ['incomplete-chain', 'expiring-soon', 'renewal-failing']);
    for (const e of doc.endpoints) {
      for (const k of ['domain', 'host', 'port', 'status', 'daysLeft', 'notAfter', 'fingerprint256', 'problems', 'scannedAt']) assert.ok(k in e, k);
      assert.equal(e.chain, undefined);
    }
    assert.ok(!s.body.includes(SECRET));
  });

  it('/metrics: expirations, problems, renewal failures, outbox, last run', async () => {
    lastRun = { startedAt: '2025-06-01T03:17:00.000Z', finishedAt: '2025-06-01T03:17:30.000Z', outcome: 'critical', exitCode: 2 };
    const m = await call('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_expiration_timestamp_seconds'), [
      'certs_certificate_expiration_timestamp_seconds{domain="good.test",endpoint="good.test:443"} 1767225600',
      'certs_certificate_expiration_timestamp_seconds{domain="good.test",endpoint="good.test:8443@127.0.0.1",address="127.0.0.1"} 1767225600',
      'certs_certificate_expiration_timestamp_seconds{domain="bad.test",endpoint="bad.test:443"} 1750377600',
    ]);
    assert.deepEqual(sampleLines(m.body, 'certs_certificate_problems'), [
      'certs_certificate_problems{domain="bad.test",endpoint="bad.test:443",code="incomplete-chain"} 1',
      'certs_certificate_problems{domain="bad.test",endpoint="bad.test:443",code="expiring-soon"} 1',
      'certs_certificate_problems{domain="bad.test",endpoint="bad.test:443",code="renewal-failing"} 1',
    ]);
    assert.deepEqual(sampleLines(m.body, 'certs_renewal_failures_total'), ['certs_renewal_failures_total{domain="bad.test"} 2']);
    assert.deepEqual(sampleLines(m.body, 'certs_notifications_pending'), ['certs_notifications_pending 1']);
    assert.deepEqual(sampleLines(m.body, 'certs_last_run_timestamp_seconds'), ['certs_last_run_timestamp_seconds 1748747850']);
    assert.deepEqual(sampleLines(m.body, 'certs_last_run_success'), ['certs_last_run_success 1']);
    assert.ok(!m.body.includes(SECRET));
  });

  it('/healthz: ok after a run, degraded after a failed one, 503 when the run could not run', async () => {
    lastRun = { startedAt: '2025-06-01T03:17:00.000Z', finishedAt: '2025-06-01T03:17:30.000Z', outcome: 'critical', exitCode: 2 };
    let h = await call('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { status: 'ok', lastRun, version: '9.9.9-test' });

    lastRun = { ...lastRun, outcome: 'failed', exitCode: 1 };
    h = await call('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal((JSON.parse(h.body) as { status: string }).status, 'degraded');

    lastRun = { ...lastRun, outcome: 'error', exitCode: null, ...({ detail: SECRET } as object) };
    h = await call('GET', '/healthz');
    assert.equal(h.status, 503);
    assert.deepEqual(JSON.parse(h.body), {
      status: 'degraded',
      lastRun: { startedAt: lastRun.startedAt, finishedAt: lastRun.finishedAt, outcome: 'error', exitCode: null },
      version: '9.9.9-test',
    });
    assert.ok(!h.body.includes(SECRET), 'only the documented fields of the run are published');
  });

  it('HEAD answers headers only; a query string is ignored', async () => {
    const head = await call('HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.ok(Number(head.headers['content-length']) > 0);
    const q = await call('GET', '/status?pretty=1');
    assert.equal(q.status, 200);
  });

  it('404 for other paths, 405 (with Allow) for other methods on known paths', async () => {
    for (const path of ['/index.html', '/nope', '/endpoint', '/endpoint/x', '/status/x', '/../etc/passwd']) assert.equal((await call('GET', path)).status, 404, path);
    assert.equal((await call('POST', '/nope')).status, 404);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await call(method, '/status');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('reads the current config on every request (SIGHUP)', async () => {
    const before = JSON.parse((await call('GET', '/status')).body) as ReportDocument;
    assert.equal(before.endpoints.length, 4);
    const previous = config;
    config = { ...config, domains: config.domains.filter((d) => d.name === 'bad.test') };
    try {
      const after = JSON.parse((await call('GET', '/status')).body) as ReportDocument;
      assert.deepEqual(after.endpoints.map((e) => e.domain), ['bad.test']);
    } finally {
      config = previous;
    }
  });

  it('closes cleanly, with a keep-alive connection open, and stops answering', async () => {
    const other = await startStatusServer({ readStore, config: () => config, lastRun: async () => null, address: '127.0.0.1', port: 0, version: 'x' });
    const url = `http://127.0.0.1:${other.port}/healthz`;
    // fetch keeps its connection alive: close() must not wait for it to time out.
    assert.equal((await fetch(url)).status, 200);
    await other.close();
    await other.close(); // a second close is harmless
    await assert.rejects(fetch(url));
  });
});

const TOKEN = 'daemon-http-token-7d1e';

/** A request with chosen headers (Host, Authorization) on its own connection. */
function ask(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves when `emitter` emits `event`; rejects after `ms` naming what did not happen (a bound, not a sleep). */
function within<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args as T);
    });
  });
}

/** The next connection the server accepts, as its server-side socket. */
function nextServerSocket(s: StatusServer): Promise<Socket> {
  return new Promise((resolve) => s.server.once('connection', resolve));
}

describe('status server: token, Host header, connection limits', () => {
  const servers: StatusServer[] = [];
  const withToken = (): Config => ({ ...config, daemon: { http: { address: '127.0.0.1', port: 9464, token: TOKEN } } });
  let current: Config;

  async function start(limits: Partial<HttpLimits> = {}, address = '127.0.0.1'): Promise<StatusServer> {
    const s = await startStatusServer({ readStore, config: () => current, lastRun: async () => null, address, port: 0, version: 'x', limits });
    servers.push(s);
    return s;
  }

  before(async () => {
    current = withToken();
  });
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('with a token: /status, /metrics and unknown pages answer 401 with the challenge; /healthz stays open', async () => {
    const s = await start();
    for (const path of ['/status', '/metrics', '/nope', '/status?x=1']) {
      const r = await ask(s.port, path);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers['www-authenticate'], 'Bearer, Basic realm="certs"', path);
      assert.ok(!r.body.includes(TOKEN));
      assert.ok(!r.body.includes('"endpoints"'), 'nothing of the status document');
    }
    const h = await ask(s.port, '/healthz');
    assert.equal(h.status, 200);
    assert.equal((JSON.parse(h.body) as { status: string }).status, 'starting');
    assert.equal(h.headers['www-authenticate'], undefined);
  });

  it('with a token: Bearer, or Basic with the token as password (any user), is let in; anything else is not', async () => {
    const s = await start();
    const ok = [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString('base64')}`, `Basic ${Buffer.from(`:${TOKEN}`).toString('base64')}`];
    for (const authorization of ok) {
      const st = await ask(s.port, '/status', { authorization });
      assert.equal(st.status, 200, authorization);
      assert.deepEqual(Object.keys(JSON.parse(st.body) as object), ['generatedAt', 'summary', 'endpoints']);
      const m = await ask(s.port, '/metrics', { authorization });
      assert.equal(m.status, 200, authorization);
      assert.match(m.body, /^certs_notifications_pending /m);
    }
    const bad = [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}`, `Basic ${Buffer.from('u:wrong').toString('base64')}`, 'Bearer'];
    for (const authorization of bad) assert.equal((await ask(s.port, '/status', { authorization })).status, 401, authorization);
  });

  it('the token is read from the current config on every request (SIGHUP adds or rotates it)', async () => {
    current = { ...config };
    try {
      const s = await start();
      assert.equal((await ask(s.port, '/status')).status, 200, 'no token configured: open on loopback');
      current = withToken();
      assert.equal((await ask(s.port, '/status')).status, 401, 'token added by a reload');
      assert.equal((await ask(s.port, '/status', { authorization: `Bearer ${TOKEN}` })).status, 200);
      current = { ...config, daemon: { http: { address: '127.0.0.1', port: 9464, token: 'rotated' } } };
      assert.equal((await ask(s.port, '/status', { authorization: `Bearer ${TOKEN}` })).status, 401, 'the old token no longer works');
      assert.equal((await ask(s.port, '/status', { authorization: 'Bearer rotated' })).status, 200);
    } finally {
      current = withToken();
    }
  });

  it('refuses to listen off loopback without a token (checked before binding)', async () => {
    current = { ...config };
    try {
      await assert.rejects(
        startStatusServer({ readStore, config: () => current, lastRun: async () => null, address: '0.0.0.0', port: 0, version: 'x' }),
        (err: unknown) => err instanceof ConfigError && /daemon\.http\.address: 0\.0\.0\.0 is not a loopback address and daemon\.http\.token is not set/.test(err.message),
      );
    } finally {
      current = withToken();
    }
  });

  it('on loopback, a Host that is not a loopback name gets 421 on every page (DNS rebinding)', async () => {
    const s = await start();
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const host of ['evil.example', `evil.example:${s.port}`, '127.0.0.1.evil.example', `localhost.evil.example:${s.port}`, '10.0.0.1']) {
      for (const path of ['/healthz', '/status', '/metrics']) {
        const r = await ask(s.port, path, { host, ...auth });
        assert.equal(r.status, 421, `${host} ${path}`);
        assert.ok(!r.body.includes('"endpoints"'));
      }
    }
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, 'localhost', `[::1]:${s.port}`, `prom.localhost:${s.port}`, '127.1.2.3']) {
      assert.equal((await ask(s.port, '/status', { host, ...auth })).status, 200, host);
    }
  });

  it('an idle keep-alive connection is closed by the server (keepAliveTimeout), a silent one too (headersTimeout)', async () => {
    const s = await start({ keepAliveTimeoutMs: 100, headersTimeoutMs: 200 });
    // One request, its response read in full, then nothing: the server must close the connection
    // (Node waits keepAliveTimeout + 1 s). The bound below is well under the 5 s + 1 s default.
    const c = connect(s.port, '127.0.0.1');
    await within(c, 'connect', 5_000, 'connect');
    const t0 = performance.now();
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let got = '';
    c.setEncoding('utf8').on('data', (d: string) => (got += d));
    await within(c, 'close', 4_000, 'idle keep-alive connection');
    const idleMs = performance.now() - t0;
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.equal([...got.matchAll(/^HTTP\/1\.1 /gm)].length, 1);
    assert.ok(idleMs >= 100, `kept for at least keepAliveTimeout (${idleMs} ms)`);

    // A connection that never sends a request: 408 after headersTimeout, then closed.
    const silent = connect(s.port, '127.0.0.1');
    let silentGot = '';
    silent.setEncoding('utf8').on('data', (d: string) => (silentGot += d));
    await within(silent, 'close', 4_000, 'silent connection');
    assert.match(silentGot, /^HTTP\/1\.1 408 /);
    assert.equal(await new Promise((r) => s.server.getConnections((_e, n) => r(n))), 0);
  });

  it('a client that pipelines /status and never reads is cut off, and the body is rendered once', async () => {
    const s = await start({ maxPipelined: 16 });
    const before = s.renders();
    const serverSide = nextServerSocket(s);
    const c = connect(s.port, '127.0.0.1');
    c.pause(); // never reads a byte
    c.on('error', () => undefined); // the reset that comes with the cut-off
    await within(c, 'connect', 5_000, 'connect');
    const sock = await serverSide;
    c.write(`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`.repeat(200));
    await within(sock, 'close', 5_000, 'the pipelining connection');
    assert.ok(sock.destroyed);
    assert.ok(s.renders() - before <= 1, `rendered ${s.renders() - before} times for 200 requests`);
    assert.equal(await new Promise((r) => s.server.getConnections((_e, n) => r(n))), 0);
    c.destroy();
  });

  it('/status and /metrics are rendered once per change of the store, config or clock, not per request', async () => {
    let clock = Date.parse('2025-06-02T00:00:00.000Z');
    const s = await startStatusServer({ readStore, config: () => current, lastRun: async () => null, address: '127.0.0.1', port: 0, version: 'x', now: () => new Date(clock), limits: { cacheMaxAgeMs: 60_000 } });
    servers.push(s);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const statusDoc = async (): Promise<ReportDocument> => JSON.parse((await ask(s.port, '/status', auth)).body) as ReportDocument;
    await statusDoc();
    await ask(s.port, '/metrics', auth);
    const warm = s.renders();
    for (let i = 0; i < 5; i++) {
      assert.equal((await ask(s.port, '/status', auth)).status, 200);
      assert.equal((await ask(s.port, '/metrics', auth)).status, 200);
    }
    assert.equal(s.renders(), warm, 'nothing changed: served from the cache');

    // Another process writes a scan: the next request shows it.
    const before = (await statusDoc()).endpoints.find((e) => e.domain === 'good.test' && e.port === 443)!;
    const root = fakeCert('Root', { isCA: true });
    const renewed = fakeCert('good.test renewed', { issuer: root.info.subject, notAfter: '2026-03-01T00:00:00.000Z' });
    const store = openStore(config.dataDir);
    try {
      store.scans.recordMany([{ report: reportFor({ domain: 'good.test' }, [renewed, root], { scannedAt: '2025-06-02T00:00:00.000Z' }), chainDer: [renewed.der, root.der] }]);
    } finally {
      store.close();
    }
    const after = (await statusDoc()).endpoints.find((e) => e.domain === 'good.test' && e.port === 443)!;
    assert.notEqual(after.fingerprint256, before.fingerprint256);
    assert.equal(after.fingerprint256, renewed.info.fingerprint256);
    assert.equal(s.renders(), warm + 1, 'once for the write (not again for the -wal our read creates)');

    // A reload (a new config object) and an old body (cacheMaxAgeMs) render again too.
    let n = s.renders();
    await statusDoc();
    assert.equal(s.renders(), n);
    current = withToken();
    await statusDoc();
    assert.equal(s.renders(), n + 1, 'new config');
    n = s.renders();
    clock += 60_000;
    const aged = await statusDoc();
    assert.equal(s.renders(), n + 1, 'cacheMaxAgeMs passed');
    assert.equal(aged.generatedAt, new Date(clock).toISOString());
  });

  it('pipelining within the bound is served in order', async () => {
    const s = await start({ maxPipelined: 16 });
    const c = connect(s.port, '127.0.0.1');
    await within(c, 'connect', 5_000, 'connect');
    let got = '';
    c.setEncoding('utf8').on('data', (d: string) => (got += d));
    const ended = within(c, 'end', 5_000, 'end of the pipelined exchange');
    c.write(`${'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(15)}GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    await ended;
    const statuses = [...got.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => m[1]);
    assert.deepEqual(statuses, [...Array<string>(15).fill('200'), '401']);
    c.destroy();
  });

  it('connections beyond maxConnections are dropped on accept', async () => {
    const s = await start({ maxConnections: 2 });
    const open: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const c = connect(s.port, '127.0.0.1');
      open.push(c);
      // An answer proves the server accepted it (and counts it) before the next one comes.
      c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const [data] = await within<[Buffer]>(c, 'data', 5_000, `answer on connection ${i + 1}`);
      assert.match(data.toString(), /^HTTP\/1\.1 200 /);
    }
    const third = connect(s.port, '127.0.0.1');
    third.on('error', () => undefined);
    let thirdGot = '';
    third.setEncoding('utf8').on('data', (d: string) => (thirdGot += d));
    third.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(third, 'close', 5_000, 'the third connection');
    assert.equal(thirdGot, '', 'dropped without an answer');
    // The two accepted ones still work.
    open[0]!.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const [data] = await within<[Buffer]>(open[0]!, 'data', 5_000, 'an answer on an accepted connection');
    assert.match(data.toString(), /^HTTP\/1\.1 200 /);
    for (const c of open) c.destroy();
  });
});
