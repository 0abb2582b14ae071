// http-01 solvers (standalone server, webroot files) and the local preflight fetch.
// Every server here listens on 127.0.0.1 (the preflight's AAAA case also dials ::1) and is
// stopped in finally. Names are resolved by a real DNS server, pebble-challtestsrv, which answers
// every A query with 127.0.0.1 (AAAA only where a test adds one).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkHttpToken, MAX_BODY_BYTES } from '../../../src/acme/solvers/http-preflight.js';
import { createStandaloneSolver } from '../../../src/acme/solvers/http-standalone.js';
import { createWebrootSolver } from '../../../src/acme/solvers/http-webroot.js';
import type { ChallengeTask } from '../../../src/acme/types.js';
import type { PreflightConfig } from '../../../src/config/types.js';
import { AcmeError } from '../../../src/core/errors.js';
import { callAsNobody } from '../../helpers/as-nobody.js';
import { createLeaf } from '../../helpers/pki.js';
import { freePort, waitForPort } from '../../helpers/ports.js';

// ---------------------------------------------------------------------------------------------
// helpers

function makeTask(over: Partial<ChallengeTask> = {}): ChallengeTask {
  const token = over.token ?? randomBytes(24).toString('base64url');
  const keyAuthorization = over.keyAuthorization ?? `${token}.${randomBytes(32).toString('base64url')}`;
  return {
    domain: 'example.test',
    identifier: 'site.test',
    wildcard: false,
    type: 'http-01',
    recordName: `/.well-known/acme-challenge/${token}`,
    recordValue: keyAuthorization,
    ...over,
    token,
    keyAuthorization,
  };
}

const NO_PREFLIGHT: PreflightConfig = { enabled: false, httpPort: 80, timeoutMs: 1000 };

interface Fetched {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function get(port: number, path: string, method = 'GET', host = '127.0.0.1'): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('test request timed out')));
    req.on('error', reject);
    req.end(method === 'POST' ? 'x=1' : undefined);
  });
}

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

async function acmeRejection(p: Promise<unknown>): Promise<AcmeError> {
  const err = await rejection(p);
  assert.ok(err instanceof AcmeError, `expected AcmeError, got ${String(err)}`);
  assert.equal(err.code, 'challenge');
  return err;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  port: number;
  requests: Array<{ method: string; url: string; host: string | undefined }>;
  close(): Promise<void>;
}

async function startHttp(handler: Handler): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const srv = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host });
    handler(req, res);
  });
  return listen(srv, requests);
}

function listen(srv: http.Server | https.Server | net.Server, requests: TestServer['requests'] = []): Promise<TestServer> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      resolve({
        port,
        requests,
        close: () =>
          new Promise<void>((done) => {
            srv.close(() => done());
            if ('closeAllConnections' in srv) srv.closeAllConnections();
          }),
      });
    });
  });
}

/** A TCP server that accepts and never says anything. */
async function startSilent(): Promise<TestServer & { connected: Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let onConnect: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (onConnect = resolve));
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => sockets.delete(s));
    onConnect();
  });
  const t = await listen(srv);
  return {
    ...t,
    connected,
    close: async () => {
      for (const s of sockets) s.destroy();
      await t.close();
    },
  };
}

interface Dns {
  /** "127.0.0.1:port" for opts.resolver. */
  resolver: string;
  manage(path: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
}

/**
 * pebble-challtestsrv as a DNS server only: every A query → 127.0.0.1, AAAA → nothing unless
 * added. (test/helpers/pebble.ts may grow a richer helper; this one keeps this file standalone.)
 */
async function startDns(): Promise<Dns> {
  const dnsPort = await freePort();
  const mgmtPort = await freePort();
  const proc: ChildProcess = spawn(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${mgmtPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv6', ''],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitForPort('127.0.0.1', mgmtPort, 5000);
    // Ready when the UDP side answers a query (polling, bounded, no fixed sleep).
    const r = new Resolver({ timeout: 100, tries: 1 });
    r.setServers([`127.0.0.1:${dnsPort}`]);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await r.resolve4('ready.test');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`challtestsrv DNS on ${dnsPort} not answering: ${String(err)}\n${stderr}`);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    resolver: `127.0.0.1:${dnsPort}`,
    async manage(path, body) {
      const res = await fetch(`http://127.0.0.1:${mgmtPort}${path}`, { method: 'POST', body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`challtestsrv ${path}: HTTP ${res.status} ${await res.text()}`);
    },
    stop,
  };
}

async function withDns(fn: (dns: Dns) => Promise<void>): Promise<void> {
  const dns = await startDns();
  try {
    await fn(dns);
  } finally {
    await dns.stop();
  }
}

/** Serves keyAuthorization at the challenge path, 404 elsewhere. */
function serving(task: ChallengeTask, body = task.keyAuthorization): Handler {
  return (req, res) => {
    if (req.url === `/.well-known/acme-challenge/${task.token}`) {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(body);
    } else {
      res.writeHead(404).end('nope');
    }
  };
}

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

// ---------------------------------------------------------------------------------------------

describe('http-01 standalone solver', () => {
  it('serves the presented tokens and nothing else, and stops after the last cleanup', async () => {
    const port = await freePort();
    const solver = createStandaloneSolver({ address: '127.0.0.1', port, preflight: NO_PREFLIGHT });
    const t1 = makeTask();
    const t2 = makeTask({ identifier: 'www.site.test' });
    try {
      assert.equal(solver.type, 'http-01');
      assert.match(solver.describe, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.equal(await connectOutcome(port), 'ECONNREFUSED', 'not listening before the first present');
      await solver.present(t1);
      const ok = await get(port, `/.well-known/acme-challenge/${t1.token}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, t1.keyAuthorization);
      assert.match(ok.headers['content-type'] ?? '', /^text\/plain/);

      for (const [method, path] of [
        ['GET', `/.well-known/acme-challenge/${t2.token}`], // not presented yet
        ['GET', '/.well-known/acme-challenge/'],
        ['GET', '/'],
        ['GET', `/.well-known/acme-challenge/${t1.token}/`],
        ['GET', `/.well-known/acme-challenge/${t1.token}?x=1`],
        ['GET', `/x/.well-known/acme-challenge/${t1.token}`],
        ['POST', `/.well-known/acme-challenge/${t1.token}`],
        ['PUT', `/.well-known/acme-challenge/${t1.token}`],
      ] as const) {
        const r = await get(port, path, method);
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.ok(!r.body.includes(t1.keyAuthorization), `${method} ${path} must not leak the key authorization`);
      }

      await solver.present(t2);
      assert.equal((await get(port, `/.well-known/acme-challenge/${t2.token}`)).body, t2.keyAuthorization);
      await solver.cleanup(t1);
      assert.equal((await get(port, `/.well-known/acme-challenge/${t1.token}`)).status, 404, 'cleaned-up token is gone');
      assert.equal((await get(port, `/.well-known/acme-challenge/${t2.token}`)).status, 200, 'the other token still served');

      // An idle connection must not keep the server alive after the last cleanup.
      const idle = net.connect({ host: '127.0.0.1', port });
      await new Promise<void>((resolve, reject) => idle.once('connect', resolve).once('error', reject));
      const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
      idle.on('error', () => undefined);
      await solver.cleanup(t2);
      await idleClosed;
      assert.equal(await connectOutcome(port), 'ECONNREFUSED', 'server closed after the last cleanup');

      // It starts again for the next run's tasks.
      await solver.present(t1);
      assert.equal((await get(port, `/.well-known/acme-challenge/${t1.token}`)).status, 200);
      await solver.cleanup(t1);
      assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    } finally {
      await solver.close();
    }
  });

  it('concurrent presents share one server', async () => {
    const port = await freePort();
    const solver = createStandaloneSolver({ address: '127.0.0.1', port, preflight: NO_PREFLIGHT });
    const tasks = Array.from({ length: 5 }, () => makeTask());
    try {
      await Promise.all(tasks.map((t) => solver.present(t)));
      for (const t of tasks) assert.equal((await get(port, `/.well-known/acme-challenge/${t.token}`)).body, t.keyAuthorization);
      await Promise.all(tasks.map((t) => solver.cleanup(t)));
      assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    } finally {
      await solver.close();
    }
  });

  it('a port in use gives an AcmeError naming address:port; the token is not kept', async () => {
    const blocker = await listen(net.createServer());
    const solver = createStandaloneSolver({ address: '127.0.0.1', port: blocker.port, preflight: NO_PREFLIGHT });
    const task = makeTask();
    try {
      const err = await acmeRejection(solver.present(task));
      assert.ok(err.message.includes(`127.0.0.1:${blocker.port}`), err.message);
      assert.match(err.message, /already in use: something else listens there/);
      assert.match(err.message, /domain "example\.test"/);
      assert.match(err.hint ?? '', /webroot/);
      assert.equal(err.domain, 'example.test');
      await solver.cleanup(task); // after a failed present: quiet
    } finally {
      await solver.close();
      await blocker.close();
    }
  });

  it('refuses malformed tokens before listening', async () => {
    const port = await freePort();
    const solver = createStandaloneSolver({ address: '127.0.0.1', port, preflight: NO_PREFLIGHT });
    try {
      for (const token of ['../x', 'a/b', '', 'a b', 'a.b']) {
        const err = await acmeRejection(solver.present(makeTask({ token })));
        assert.match(err.message, /refusing token/);
        await solver.cleanup(makeTask({ token }));
      }
      assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    } finally {
      await solver.close();
    }
  });

  it('close() stops the server with tokens still presented, and is safe twice (and before any present)', async () => {
    const port = await freePort();
    const unused = createStandaloneSolver({ address: '127.0.0.1', port, preflight: NO_PREFLIGHT });
    await unused.close();
    await unused.close();

    const solver = createStandaloneSolver({ address: '127.0.0.1', port, preflight: NO_PREFLIGHT });
    const task = makeTask();
    try {
      await solver.present(task);
      assert.equal(await connectOutcome(port), 'connected');
    } finally {
      await solver.close();
      await solver.close();
    }
    assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    await solver.cleanup(task); // after close: nothing to do, no throw
  });

  it('answers a malformed request with 400 and keeps serving', async () => {
    const port = await freePort();
    const solver = createStandaloneSolver({ address: '127.0.0.1', port, preflight: NO_PREFLIGHT });
    const task = makeTask();
    try {
      await solver.present(task);
      const raw = await new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => s.write(`GET / HTTP/1.1\r\n${'X-Big: ' + 'a'.repeat(8000)}\r\n\r\n`));
        let got = '';
        s.setEncoding('utf8').on('data', (d: string) => (got += d));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
      assert.match(raw, /^HTTP\/1\.1 4\d\d/, 'oversized headers refused');
      assert.equal((await get(port, `/.well-known/acme-challenge/${task.token}`)).status, 200);
    } finally {
      await solver.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('http-01 webroot solver', () => {
  it('writes the token file (0644, folders 0755 regardless of umask) and removes only the file', async () => {
    const webroot = tempDir('certs-webroot-');
    const solver = createWebrootSolver({ webroot, preflight: NO_PREFLIGHT });
    const task = makeTask();
    const dir = join(webroot, '.well-known', 'acme-challenge');
    const file = join(dir, task.token);
    const oldMask = process.umask(0o077);
    try {
      assert.equal(solver.type, 'http-01');
      assert.ok(solver.describe.includes(webroot));
      await solver.present(task);
      assert.equal(readFileSync(file, 'utf8'), task.keyAuthorization);
      assert.equal(statSync(file).mode & 0o777, 0o644);
      assert.equal(statSync(dir).mode & 0o777, 0o755);
      assert.equal(statSync(join(webroot, '.well-known')).mode & 0o777, 0o755);
      assert.deepEqual(readdirSync(dir), [task.token], 'no temp files left behind');

      // A second token uses the existing folders.
      const other = makeTask();
      await solver.present(other);
      assert.equal(readFileSync(join(dir, other.token), 'utf8'), other.keyAuthorization);
      // Presenting the same token again replaces the content.
      await solver.present({ ...task, keyAuthorization: `${task.token}.again` });
      assert.equal(readFileSync(file, 'utf8'), `${task.token}.again`);

      await solver.cleanup(task);
      assert.ok(!existsSync(file), 'file removed');
      assert.ok(existsSync(join(dir, other.token)), 'the other token is untouched');
      await solver.cleanup(other);
      assert.ok(existsSync(dir), 'folders stay');
      await solver.cleanup(task); // nothing left: quiet
    } finally {
      process.umask(oldMask);
      rmSync(webroot, { recursive: true, force: true });
    }
  });

  it('refuses tokens that could leave the folder, before any write, and cleanup ignores them', async () => {
    const webroot = tempDir('certs-webroot-');
    const solver = createWebrootSolver({ webroot, preflight: NO_PREFLIGHT });
    try {
      for (const token of ['../x', 'a/b', '', '..', '.', 'a\\b', 'a b', 'x\0y', '%2e%2e']) {
        const err = await acmeRejection(solver.present(makeTask({ token })));
        assert.match(err.message, /refusing token/);
        assert.match(err.message, /domain "example\.test"/);
        assert.deepEqual(readdirSync(webroot), [], `nothing written for ${JSON.stringify(token)}`);
      }
      // cleanup of a traversal token must not delete what it points at
      mkdirSync(join(webroot, '.well-known'));
      writeFileSync(join(webroot, '.well-known', 'x'), 'keep');
      await solver.cleanup(makeTask({ token: '../x' }));
      assert.equal(readFileSync(join(webroot, '.well-known', 'x'), 'utf8'), 'keep');
    } finally {
      rmSync(webroot, { recursive: true, force: true });
    }
  });

  it('a missing webroot gives an AcmeError naming the path (ENOENT); cleanup afterwards is quiet', async () => {
    const parent = tempDir('certs-webroot-');
    const webroot = join(parent, 'missing');
    const solver = createWebrootSolver({ webroot, preflight: NO_PREFLIGHT });
    const task = makeTask();
    try {
      const err = await acmeRejection(solver.present(task));
      assert.ok(err.message.includes(webroot), err.message);
      assert.match(err.message, /does not exist \(ENOENT\)/);
      assert.match(err.message, /domain "example\.test"/);
      assert.ok(!existsSync(webroot), 'the webroot is not created');
      await solver.cleanup(task);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('a webroot that is a file gives an AcmeError', async () => {
    const parent = tempDir('certs-webroot-');
    const webroot = join(parent, 'file');
    writeFileSync(webroot, 'x');
    const solver = createWebrootSolver({ webroot, preflight: NO_PREFLIGHT });
    const task = makeTask();
    try {
      const err = await acmeRejection(solver.present(task));
      assert.match(err.message, /is not a directory/);
      assert.ok(err.message.includes(webroot));
      await solver.cleanup(task);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('an unwritable webroot gives an AcmeError naming the path and the uid (run as nobody)', () => {
    const webroot = tempDir('certs-webroot-');
    chmodSync(webroot, 0o555); // root-owned: nobody (or a non-root runner) cannot write
    try {
      const task = makeTask();
      const r = callAsNobody(new URL('../../../src/acme/solvers/http-webroot.ts', import.meta.url), 'writeChallengeFile', [webroot, task]);
      assert.equal(r.ok, false);
      assert.equal(r.name, 'AcmeError');
      assert.equal(r.code, 'challenge');
      const uid = process.getuid?.() === 0 ? 65534 : process.getuid?.();
      assert.match(r.message ?? '', new RegExp(`not writable by uid ${uid} \\((EACCES|EPERM)\\)`));
      assert.ok((r.message ?? '').includes(join(webroot, '.well-known')), r.message);
      assert.match(r.message ?? '', /domain "example\.test"/);
      assert.deepEqual(readdirSync(webroot), []);
    } finally {
      chmodSync(webroot, 0o755);
      rmSync(webroot, { recursive: true, force: true });
    }
  });

  it('an unwritable acme-challenge folder names the file it could not write', () => {
    const webroot = tempDir('certs-webroot-');
    const dir = join(webroot, '.well-known', 'acme-challenge');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o555);
    try {
      const task = makeTask();
      const r = callAsNobody(new URL('../../../src/acme/solvers/http-webroot.ts', import.meta.url), 'writeChallengeFile', [webroot, task]);
      assert.equal(r.ok, false);
      assert.equal(r.name, 'AcmeError');
      assert.ok((r.message ?? '').includes(join(dir, task.token)), r.message);
      assert.match(r.message ?? '', /not writable by uid/);
    } finally {
      rmSync(webroot, { recursive: true, force: true });
    }
  });

  it('preflight disabled is a no-op', async () => {
    const solver = createWebrootSolver({ webroot: '/nonexistent', preflight: { enabled: false, httpPort: 1, resolver: '127.0.0.1:1', timeoutMs: 1 } });
    await solver.preflight(makeTask());
  });
});

// ---------------------------------------------------------------------------------------------

describe('http-01 preflight', () => {
  const urlOf = (t: ChallengeTask, port: number, host = t.identifier): string => `http://${host}:${port}/.well-known/acme-challenge/${t.token}`;

  it('passes when the name serves the key authorization (Host header = identifier, trailing newline ok)', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const srv = await startHttp(serving(task, `${task.keyAuthorization}\r\n`));
      try {
        await checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 });
        assert.equal(srv.requests.length, 1);
        assert.deepEqual(srv.requests[0], { method: 'GET', url: `/.well-known/acme-challenge/${task.token}`, host: 'site.test' });
      } finally {
        await srv.close();
      }
    });
  });

  it('through the standalone solver: present → preflight passes → cleanup → preflight fails', async () => {
    await withDns(async (dns) => {
      const port = await freePort();
      const preflight: PreflightConfig = { enabled: true, httpPort: port, resolver: dns.resolver, timeoutMs: 5000 };
      const solver = createStandaloneSolver({ address: '127.0.0.1', port, preflight });
      const task = makeTask();
      try {
        await solver.present(task);
        await solver.preflight(task);
        await solver.cleanup(task);
        const err = await acmeRejection(solver.preflight(task));
        assert.match(err.message, /connection refused/);
      } finally {
        await solver.close();
      }
    });
  });

  it('a wrong body fails, naming domain, URL, address and the body', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const srv = await startHttp(serving(task, 'hello from the default site'));
      try {
        const err = await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
        assert.match(err.message, /^domain "example\.test": http-01 preflight for site\.test failed/);
        assert.ok(err.message.includes(urlOf(task, srv.port)), err.message);
        assert.ok(err.message.includes('from 127.0.0.1: HTTP 200 but the body is "hello from the default site" (27 bytes)'), err.message);
        assert.ok(err.message.includes(task.keyAuthorization), 'names what was expected');
        assert.equal(err.domain, 'example.test');
        assert.match(err.hint ?? '', /webroot/);
      } finally {
        await srv.close();
      }
    });
  });

  it('leading whitespace fails like at the CA (only the right side is trimmed)', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const srv = await startHttp(serving(task, ` ${task.keyAuthorization}`));
      try {
        await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
      } finally {
        await srv.close();
      }
    });
  });

  it('a 404 fails with the status, the body excerpt, the URL and the nginx hint', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const srv = await startHttp((_req, res) => res.writeHead(404).end('<html>404 Not Found</html>'));
      try {
        const err = await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
        assert.ok(err.message.includes(urlOf(task, srv.port)), err.message);
        assert.match(err.message, /HTTP 404, body "<html>404 Not Found<\/html>"/);
        assert.match(err.hint ?? '', /templates\/nginx\/acme-challenge\.conf/);
      } finally {
        await srv.close();
      }
    });
  });

  it('a huge body fails without reading it all, showing only its start', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const big = `${task.keyAuthorization}${'x'.repeat(100_000)}`;
      const srv = await startHttp((_req, res) => {
        res.on('error', () => undefined);
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(big);
      });
      try {
        const err = await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
        assert.ok(err.message.includes(`larger than ${MAX_BODY_BYTES} bytes`), err.message);
        assert.ok(err.message.length < 1500, `message stays short (${err.message.length} chars)`);
      } finally {
        await srv.close();
      }
    });
  });

  it('follows redirects on the same server (relative, absolute, another name) to the token', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const srv = await startHttp((req, res) => {
        const port = (req.socket.address() as net.AddressInfo).port;
        if (req.url === `/.well-known/acme-challenge/${task.token}`) res.writeHead(301, { Location: `/step1/${task.token}` }).end();
        else if (req.url === `/step1/${task.token}`) res.writeHead(302, { Location: `http://other.site.test:${port}/step2/${task.token}` }).end();
        else if (req.url === `/step2/${task.token}`) res.writeHead(307, { Location: `http://site.test/final?t=${task.token}` }).end();
        else if (req.url === `/final?t=${task.token}`) res.writeHead(200).end(task.keyAuthorization);
        else res.writeHead(404).end();
      });
      try {
        await checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 });
        assert.deepEqual(
          srv.requests.map((r) => [r.host, r.url]),
          [
            ['site.test', `/.well-known/acme-challenge/${task.token}`],
            ['site.test', `/step1/${task.token}`],
            ['other.site.test', `/step2/${task.token}`],
            ['site.test', `/final?t=${task.token}`],
          ],
        );
      } finally {
        await srv.close();
      }
    });
  });

  it('follows a redirect to https without verifying the certificate (like the CA)', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const leaf = await createLeaf({ dns: ['unrelated.invalid'] }); // self-signed, wrong name
      const tlsSrv = await listen(https.createServer({ cert: leaf.pem, key: leaf.keyPem }, serving(task)));
      const srv = await startHttp((req, res) => res.writeHead(301, { Location: `https://site.test:${tlsSrv.port}${req.url ?? ''}` }).end());
      try {
        await checkHttpToken(task, { port: srv.port, httpsPort: tlsSrv.port, resolver: dns.resolver, timeoutMs: 5000 });
      } finally {
        await srv.close();
        await tlsSrv.close();
      }
    });
  });

  it('a redirect loop fails after 10 redirects', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      const srv = await startHttp((req, res) => res.writeHead(302, { Location: req.url ?? '/' }).end());
      try {
        const err = await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
        assert.match(err.message, /too many redirects \(more than 10\)/);
        assert.equal(srv.requests.length, 11, 'the first request plus 10 redirects');
        assert.match(err.hint ?? '', /at most 10 redirects/);
      } finally {
        await srv.close();
      }
    });
  });

  it('refuses redirects the CA would refuse: other port, IP literal, other scheme', async () => {
    await withDns(async (dns) => {
      const task = makeTask();
      let location = '';
      const srv = await startHttp((_req, res) => res.writeHead(302, { Location: location }).end());
      try {
        for (const [loc, why] of [
          [`http://site.test:1/x`, /only follows redirects to ports \d+ and 443, not 1/],
          [`http://127.0.0.1:${srv.port}/x`, /only follows redirects to names, not IP addresses/],
          [`ftp://site.test/x`, /only http:\/\/ and https:\/\/ are followed/],
        ] as const) {
          location = loc;
          const before = srv.requests.length;
          const err = await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
          assert.match(err.message, why);
          assert.equal(srv.requests.length, before + 1, 'the refused target is not fetched');
        }
      } finally {
        await srv.close();
      }
    });
  });

  it('every address must serve the token: an AAAA record that does not is named', async () => {
    await withDns(async (dns) => {
      await dns.manage('/add-aaaa', { host: 'dual.site.test.', addresses: ['::1'] });
      const task = makeTask({ identifier: 'dual.site.test' });
      const srv = await startHttp(serving(task)); // 127.0.0.1 only
      try {
        const err = await acmeRejection(checkHttpToken(task, { port: srv.port, resolver: dns.resolver, timeoutMs: 5000 }));
        assert.match(err.message, /1 of 2 addresses failed/);
        assert.ok(err.message.includes(`GET http://dual.site.test:${srv.port}/.well-known/acme-challenge/${task.token}`), err.message);
        assert.match(err.message, /from \[::1\]: (connection refused|the address is not usable)/);
        assert.ok(!err.message.includes('from 127.0.0.1'), 'the working address is not reported as failing');
      } finally {
        await srv.close();
      }
    });
  });

  it('an unresolvable name (SERVFAIL) fails naming the name and the DNS outcome', async () => {
    await withDns(async (dns) => {
      await dns.manage('/set-servfail', { host: 'broken.test.' });
      const task = makeTask({ identifier: 'broken.test' });
      const err = await acmeRejection(checkHttpToken(task, { port: 80, resolver: dns.resolver, timeoutMs: 5000 }));
      assert.match(err.message, /broken\.test has no address \(A: SERVFAIL from the DNS server; AAAA: SERVFAIL from the DNS server\)/);
      assert.ok(err.message.includes('http://broken.test/.well-known/acme-challenge/'), err.message);
      assert.match(err.hint ?? '', /A or AAAA record/);
      assert.ok((err.hint ?? '').includes(dns.resolver));
    });
  });

  it('a DNS server that does not answer fails within the budget', async () => {
    // A UDP socket that swallows queries: the resolver must give up by the deadline.
    const { createSocket } = await import('node:dgram');
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    try {
      const port = sock.address().port;
      const task = makeTask();
      const t0 = Date.now();
      const err = await acmeRejection(checkHttpToken(task, { port: 80, resolver: `127.0.0.1:${port}`, timeoutMs: 400 }));
      const took = Date.now() - t0;
      assert.ok(took < 400 + 1500, `bounded: ${took} ms`);
      assert.match(err.message, /site\.test/);
    } finally {
      sock.close();
    }
  });

  it('nothing listening on the port: connection refused, naming the address', async () => {
    await withDns(async (dns) => {
      const port = await freePort();
      const task = makeTask();
      const err = await acmeRejection(checkHttpToken(task, { port, resolver: dns.resolver, timeoutMs: 5000 }));
      assert.ok(err.message.includes(`from 127.0.0.1: connection refused (nothing listens on port ${port})`), err.message);
      assert.match(err.hint ?? '', /listening on port/);
    });
  });

  it('a server that never answers is bounded by timeoutMs', async () => {
    await withDns(async (dns) => {
      const silent = await startSilent();
      try {
        const task = makeTask();
        const t0 = Date.now();
        const err = await acmeRejection(checkHttpToken(task, { port: silent.port, resolver: dns.resolver, timeoutMs: 300 }));
        const took = Date.now() - t0;
        assert.ok(took >= 250 && took < 300 + 1500, `bounded: ${took} ms`);
        assert.match(err.message, /no complete answer within the 300 ms budget/);
      } finally {
        await silent.close();
      }
    });
  });

  it('the caller aborting rejects with its reason, not an AcmeError', async () => {
    await withDns(async (dns) => {
      const silent = await startSilent();
      try {
        const ac = new AbortController();
        const p = checkHttpToken(makeTask(), { port: silent.port, resolver: dns.resolver, timeoutMs: 10_000, signal: ac.signal });
        await silent.connected; // abort once the request has reached the server
        const reason = new Error('run cancelled');
        ac.abort(reason);
        assert.equal(await rejection(p), reason);
      } finally {
        await silent.close();
      }
    });
  });

  it('refuses a malformed token without any network access', async () => {
    const err = await acmeRejection(checkHttpToken(makeTask({ token: '../../etc/passwd' }), { port: 1, resolver: '127.0.0.1:1', timeoutMs: 100 }));
    assert.match(err.message, /refusing token/);
  });
});
