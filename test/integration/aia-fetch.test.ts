// AIA caIssuers fetching against a loopback HTTP server: the right intermediate in every format is
// accepted; a same-named impostor, a non-CA, a huge body, silence, a 404, junk and redirect abuse
// are refused naming the URL; a leaf-only endpoint is repaired (two levels deep) and then scans
// clean with the real scanner.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TrustAnchors } from '../../src/core/trust-anchors.js';
import { AiaError, fetchIssuer, repairChain, type AiaRefusal, type FetchIssuerOptions } from '../../src/deploy/aia.js';
import { createCA, createLeaf, pemBundle, type Issued } from '../helpers/pki.js';
import { describeReport, scanEndpoints, startTlsServer } from '../helpers/scan-fixture.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const HUGE = 10 * MiB;
const CHUNK = Buffer.alloc(16 * 1024, 0x41);

// ---- the loopback server ----

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
const sockets = new Set<net.Socket>();
const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] as string;
  hits.set(path, (hits.get(path) ?? 0) + 1);
  const handler = routes.get(path);
  if (handler) handler(req, res);
  else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
});
server.on('connection', (s: net.Socket) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
});
const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

const serve = (path: string, body: Buffer | string, type = 'application/pkix-cert'): void => {
  routes.set(path, (_req, res) => {
    res.writeHead(200, { 'content-type': type });
    res.end(body);
  });
};
const redirect = (from: string, to: string, status = 302): void => {
  routes.set(from, (_req, res) => {
    res.writeHead(status, { location: to });
    res.end();
  });
};

interface Pump {
  /** Bytes handed to the socket before the client went away. */
  written: number;
  /** Resolves when the client closed the connection. */
  closed: Promise<void>;
}

/**
 * A 10 MiB answer. With `withLength` the server sends the headers (Content-Length: 10 MiB) and then
 * holds the body back: a client that waited for the body would hit its timeout instead of refusing.
 * Without, it streams the body chunked, with back-pressure, until done or the client goes away.
 */
function hugeRoute(path: string, withLength: boolean): Pump {
  let resolveClosed: () => void = () => {};
  const pump: Pump = { written: 0, closed: new Promise<void>((r) => (resolveClosed = r)) };
  routes.set(path, (req, res) => {
    let closed = false;
    req.socket.on('close', () => {
      closed = true;
      resolveClosed();
    });
    res.writeHead(200, { 'content-type': 'application/pkix-cert', ...(withLength ? { 'content-length': String(HUGE) } : {}) });
    res.flushHeaders();
    if (withLength) return;
    const more = (): void => {
      while (!closed && pump.written < HUGE) {
        pump.written += CHUNK.length;
        if (!res.write(CHUNK)) {
          res.once('drain', more);
          return;
        }
      }
      if (!closed) res.end();
    };
    more();
  });
  return pump;
}

/**
 * A fetch whose response bodies count the bytes the caller actually pulled: kernel socket buffers
 * between the server and undici hold megabytes, so the server's count says little about the reader.
 */
function pullCountingFetch(): { fetchImpl: typeof fetch; pulled: () => number } {
  let pulled = 0;
  const fetchImpl = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const res = await fetch(input, init);
    const source = res.body?.getReader();
    if (!source) return res;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        const { done, value } = await source.read();
        if (done) ctl.close();
        else {
          pulled += value.byteLength;
          ctl.enqueue(value);
        }
      },
      cancel: (reason) => source.cancel(reason),
    }, { highWaterMark: 0 });
    return new Response(body, { status: res.status, headers: res.headers });
  }) as typeof fetch;
  return { fetchImpl, pulled: () => pulled };
}

const dir = await mkdtemp(join(tmpdir(), 'certs-aia-'));
after(async () => {
  server.close();
  server.closeAllConnections();
  for (const s of sockets) s.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function pkcs7(pem: string, outform: 'DER' | 'PEM'): Promise<Buffer> {
  const id = Math.random().toString(36).slice(2);
  await writeFile(join(dir, `${id}.pem`), pem);
  await run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', join(dir, `${id}.pem`), '-outform', outform, '-out', join(dir, `${id}.p7`)]);
  return readFile(join(dir, `${id}.p7`));
}

// ---- the PKI ----

const root = await createCA({ cn: 'AIA Test Root', org: 'O=certs tests' });
const inter = await createCA({ cn: 'AIA Test Intermediate', org: 'O=certs tests', issuer: root, aiaIssuerUrl: `${base}/root.der` });
/** The classic trap: an intermediate with the same name (and issuer), another key. */
const impostor = await createCA({ cn: 'AIA Test Intermediate', org: 'O=certs tests', issuer: root });
const unrelated = await createCA({ cn: 'Unrelated CA' });
const anchors = new TrustAnchors([root.cert]);

function leafAt(path: string, issuer: Issued = inter): Promise<Issued> {
  return createLeaf({ dns: ['aia.test'], issuer, aiaIssuerUrl: `${base}${path}` });
}

// Everything here is served from loopback, which fetches refuse by default (aia-destinations.test.ts).
const OPTS: FetchIssuerOptions = { timeoutMs: 5000, allowPrivateAddresses: true };

async function refusal(promise: Promise<unknown>, reason: AiaRefusal, pattern: RegExp): Promise<AiaError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AiaError, `expected an AiaError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

function countingFetch(calls: string[]): typeof fetch {
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    calls.push(String(input));
    return fetch(input, init);
  }) as typeof fetch;
}

// ---------------------------------------------------------------------------------------------

describe('fetchIssuer: the right intermediate is accepted', () => {
  test('as DER', async () => {
    serve('/ok/int.der', inter.der);
    const leaf = await leafAt('/ok/int.der');
    const got = await fetchIssuer(leaf.cert, OPTS);
    assert.equal(got.format, 'der');
    assert.equal(got.issuer.fingerprint256, inter.cert.fingerprint256);
    assert.equal(got.url, `${base}/ok/int.der`);
  });

  test('as PEM, picked out of a bundle that also holds unrelated certificates', async () => {
    serve('/ok/int.pem', `# the intermediate\n${pemBundle(unrelated, impostor, inter)}`, 'application/x-pem-file');
    const leaf = await leafAt('/ok/int.pem');
    const got = await fetchIssuer(leaf.cert, OPTS);
    assert.equal(got.format, 'pem');
    assert.equal(got.issuer.fingerprint256, inter.cert.fingerprint256);
  });

  test('as a DER PKCS#7 certs-only bundle (root first: the issuer is picked, not the first)', async () => {
    serve('/ok/int.p7c', await pkcs7(pemBundle(root, impostor, inter), 'DER'), 'application/pkcs7-mime');
    const leaf = await leafAt('/ok/int.p7c');
    const got = await fetchIssuer(leaf.cert, OPTS);
    assert.equal(got.format, 'pkcs7');
    assert.equal(got.issuer.fingerprint256, inter.cert.fingerprint256);
  });

  test('as a PEM PKCS#7 bundle', async () => {
    serve('/ok/int.p7b', await pkcs7(pemBundle(inter), 'PEM'), 'text/plain');
    const leaf = await leafAt('/ok/int.p7b');
    const got = await fetchIssuer(leaf.cert, OPTS);
    assert.equal(got.format, 'pkcs7');
    assert.equal(got.issuer.fingerprint256, inter.cert.fingerprint256);
  });

  test('through a chain of 3 redirects (relative and absolute Locations)', async () => {
    serve('/redir/int.der', inter.der);
    redirect('/redir/a', '/redir/b', 301);
    redirect('/redir/b', `${base}/redir/c`, 307);
    redirect('/redir/c', 'int.der', 308);
    const leaf = await leafAt('/redir/a');
    const calls: string[] = [];
    const got = await fetchIssuer(leaf.cert, { ...OPTS, fetchImpl: countingFetch(calls) });
    assert.equal(got.issuer.fingerprint256, inter.cert.fingerprint256);
    assert.equal(got.url, `${base}/redir/a`);
    assert.equal(got.finalUrl, `${base}/redir/int.der`);
    assert.deepEqual(calls, ['a', 'b', 'c', 'int.der'].map((p) => `${base}/redir/${p}`));
  });
});

describe('fetchIssuer: refusals name the URL and the reason', () => {
  test('a same-named CA with another key (the classic trap)', async () => {
    serve('/trap/int.der', impostor.der);
    const leaf = await leafAt('/trap/int.der');
    const err = await refusal(fetchIssuer(leaf.cert, OPTS), 'wrong-issuer',
      /http:\/\/127\.0\.0\.1:\d+\/trap\/int\.der: served a certificate that did not sign "CN=aia\.test": got "CN=AIA Test Intermediate, O=certs tests" with the right name but another key/);
    assert.equal(err.url, `${base}/trap/int.der`);
    assert.equal(err.code, 'aia');
    assert.ok(err.hint);
  });

  test('an unrelated CA, and a PKCS#7 bundle none of whose certificates signed the leaf', async () => {
    serve('/trap/unrelated.der', unrelated.der);
    serve('/trap/bundle.p7c', await pkcs7(pemBundle(root, impostor), 'DER'));
    await refusal(fetchIssuer((await leafAt('/trap/unrelated.der')).cert, OPTS), 'wrong-issuer', /did not sign "CN=aia\.test": got "CN=Unrelated CA"$/);
    await refusal(fetchIssuer((await leafAt('/trap/bundle.p7c')).cert, OPTS), 'wrong-issuer', /bundle\.p7c: served a certificate that did not sign "CN=aia\.test": none of its 2 certificates did/);
  });

  test('the real issuer, but not a CA (basicConstraints CA:FALSE)', async () => {
    // openssl signs with a CA:FALSE certificate if asked; checkIssued only demands keyCertSign.
    const p = (name: string): string => join(dir, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-subj', '/CN=Not A CA', '-days', '2', '-keyout', p('notca.key'), '-out', p('notca.pem'),
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,keyCertSign,digitalSignature']);
    await run('openssl', ['req', '-new', ...ec, '-subj', '/CN=notca-leaf.test', '-keyout', p('notca-leaf.key'), '-out', p('notca-leaf.csr')]);
    await writeFile(p('notca-leaf.ext'), `basicConstraints=CA:FALSE\nauthorityInfoAccess=caIssuers;URI:${base}/notca/int.pem\n`);
    await run('openssl', ['x509', '-req', '-in', p('notca-leaf.csr'), '-CA', p('notca.pem'), '-CAkey', p('notca.key'), '-set_serial', '7',
      '-days', '1', '-extfile', p('notca-leaf.ext'), '-out', p('notca-leaf.pem')]);
    serve('/notca/int.pem', await readFile(p('notca.pem')));
    const leaf = new X509Certificate(await readFile(p('notca-leaf.pem')));
    await refusal(fetchIssuer(leaf, OPTS), 'not-a-ca', /notca\/int\.pem: served the issuer of "CN=notca-leaf\.test", but "CN=Not A CA" is not a CA certificate/);
  });

  test('a 10 MiB body announced by Content-Length: refused from the header, without waiting for the body', async () => {
    const pump = hugeRoute('/huge/with-length', true);
    const leaf = await leafAt('/huge/with-length');
    const started = performance.now();
    // The server never sends the body: waiting for it would end in a timeout, not this refusal.
    await refusal(fetchIssuer(leaf.cert, { timeoutMs: 3000, allowPrivateAddresses: true }), 'too-large', /huge\/with-length: body exceeds 65536 bytes \(Content-Length: 10485760\)/);
    assert.ok(performance.now() - started < 1500);
    await pump.closed;
  });

  test('a 10 MiB body without Content-Length: refused at the limit while streaming, the rest never read', async () => {
    const pump = hugeRoute('/huge/chunked', false);
    const leaf = await leafAt('/huge/chunked');
    const counting = pullCountingFetch();
    await refusal(fetchIssuer(leaf.cert, { ...OPTS, maxBytes: 4096, fetchImpl: counting.fetchImpl }), 'too-large', /huge\/chunked: body exceeds 4096 bytes$/);
    await pump.closed; // the client hung up
    assert.ok(counting.pulled() > 4096 && counting.pulled() <= 4096 + 128 * 1024, `read ${counting.pulled()} bytes of the body`);
    assert.ok(pump.written < HUGE, `the server finished all ${HUGE} bytes before the client left`);
  });

  test('a server that never answers: refused within the timeout', async () => {
    let resolveArrived: () => void = () => {};
    const arrived = new Promise<void>((r) => (resolveArrived = r));
    routes.set('/silent/int.der', () => resolveArrived()); // never responds
    const leaf = await leafAt('/silent/int.der');
    const timeoutMs = 300;
    const started = performance.now();
    await refusal(fetchIssuer(leaf.cert, { timeoutMs, allowPrivateAddresses: true }), 'timeout', /silent\/int\.der: no answer within 300 ms/);
    const elapsed = performance.now() - started;
    await arrived;
    assert.ok(elapsed >= timeoutMs - 20, `gave up after ${elapsed.toFixed(0)} ms, before the ${timeoutMs} ms timeout`);
    assert.ok(elapsed < timeoutMs + 1500, `took ${elapsed.toFixed(0)} ms with a ${timeoutMs} ms timeout`);
  });

  test('a body that stalls half-way: the deadline covers the body too', async () => {
    routes.set('/stall/int.der', (_req, res) => {
      res.writeHead(200, { 'content-length': String(inter.der.length) });
      res.write(inter.der.subarray(0, 100));
    });
    const leaf = await leafAt('/stall/int.der');
    const started = performance.now();
    await refusal(fetchIssuer(leaf.cert, { timeoutMs: 300, allowPrivateAddresses: true }), 'timeout', /stall\/int\.der: no answer within 300 ms/);
    assert.ok(performance.now() - started < 1800);
  });

  test('HTTP 404', async () => {
    const leaf = await leafAt('/missing/int.der');
    await refusal(fetchIssuer(leaf.cert, OPTS), 'http-status', /missing\/int\.der: HTTP 404$/);
  });

  test('an HTML page and a DER blob that is not a certificate', async () => {
    serve('/junk/page', '<html><body>Moved to our new site</body></html>', 'text/html');
    serve('/junk/blob', Buffer.from('3003020101', 'hex'));
    const page = await refusal(fetchIssuer((await leafAt('/junk/page')).cert, OPTS), 'not-a-certificate', /junk\/page: not a certificate: expected DER, PEM or PKCS#7, got "text\/html" content of 47 bytes \(not quoted\)/);
    // The body is the server's: it could be an internal page, so it never reaches a message.
    assert.doesNotMatch(page.message, /<html>|Moved/);
    await refusal(fetchIssuer((await leafAt('/junk/blob')).cert, OPTS), 'not-a-certificate', /junk\/blob: not a certificate: the body: not a valid X\.509 certificate/);
  });

  test('more than 3 redirects, a redirect loop, a redirect to another scheme', async () => {
    serve('/many/int.der', inter.der);
    for (const [from, to] of [['1', '2'], ['2', '3'], ['3', '4'], ['4', 'int.der']]) redirect(`/many/${from}`, to as string);
    redirect('/loop', '/loop');
    redirect('/ftp', 'ftp://127.0.0.1/int.der');
    await refusal(fetchIssuer((await leafAt('/many/1')).cert, OPTS), 'redirects', /many\/1: more than 3 redirects \(the next to int\.der\)/);
    await refusal(fetchIssuer((await leafAt('/loop')).cert, OPTS), 'redirects', /loop: more than 3 redirects/);
    await refusal(fetchIssuer((await leafAt('/ftp')).cert, OPTS), 'redirects', /ftp: redirect to ftp:\/\/127\.0\.0\.1\/int\.der: unsupported scheme "ftp"/);
  });

  test('a URL that is not http(s), and a certificate without any AIA URL', async () => {
    const ldap = await createLeaf({ dns: ['aia.test'], issuer: inter, aiaIssuerUrl: 'ldap://ldap.example/cn=int' });
    await refusal(fetchIssuer(ldap.cert, OPTS), 'unsupported-url', /ldap:\/\/ldap\.example\/cn=int: unsupported scheme "ldap"/);
    const none = await createLeaf({ dns: ['aia.test'], issuer: inter });
    await refusal(fetchIssuer(none.cert, OPTS), 'no-url', /has no AIA caIssuers URL/);
  });

  test('several AIA URLs (ldap first, as AD CS writes them): tried in order, the first verified one wins', async () => {
    const p = (name: string): string => join(dir, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-subj', '/CN=Multi URL CA', '-days', '2', '-keyout', p('multi.key'), '-out', p('multi.pem'),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    const signLeaf = async (id: string, urls: string[]): Promise<X509Certificate> => {
      await run('openssl', ['req', '-new', ...ec, '-subj', `/CN=${id}.test`, '-keyout', p(`${id}.key`), '-out', p(`${id}.csr`)]);
      await writeFile(p(`${id}.ext`), `authorityInfoAccess=${urls.map((u) => `caIssuers;URI:${u}`).join(',')}\n`);
      await run('openssl', ['x509', '-req', '-in', p(`${id}.csr`), '-CA', p('multi.pem'), '-CAkey', p('multi.key'), '-set_serial', '9',
        '-days', '1', '-extfile', p(`${id}.ext`), '-out', p(`${id}.pem`)]);
      return new X509Certificate(await readFile(p(`${id}.pem`)));
    };
    serve('/multi/ca.der', new X509Certificate(await readFile(p('multi.pem'))).raw);
    // (commas would end the value in openssl's extension syntax, so the DN is cut short here)
    const ldap = 'ldap://dc.example/CN=Multi%20URL%20CA?cACertificate';

    const good = await signLeaf('multi-good', [ldap, `${base}/multi/gone.der`, `${base}/multi/ca.der`]);
    const got = await fetchIssuer(good, OPTS);
    assert.equal(got.url, `${base}/multi/ca.der`);

    const bad = await signLeaf('multi-bad', [ldap, `${base}/multi/gone.der`]);
    const err = await refusal(fetchIssuer(bad, OPTS), 'http-status', /from any of its 2 AIA caIssuers URLs: ldap:.*unsupported scheme "ldap".*; http:.*\/multi\/gone\.der: HTTP 404$/);
    assert.equal(err.url, `${base}/multi/gone.der`, 'the URL that answered wrongly is the one named, not the ldap: one');
    assert.deepEqual(err.failures.map((f) => f.reason), ['unsupported-url', 'http-status']);
  });

  test('a refused connection', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen({ host: '127.0.0.1', port: 0 }, r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const leaf = await createLeaf({ dns: ['aia.test'], issuer: inter, aiaIssuerUrl: `http://127.0.0.1:${port}/int.der` });
    await refusal(fetchIssuer(leaf.cert, OPTS), 'network', /ECONNREFUSED/);
  });

  test("the caller's abort rejects with its reason, not an AiaError", async () => {
    routes.set('/abort/int.der', () => {});
    const leaf = await leafAt('/abort/int.der');
    const ctl = new AbortController();
    const reason = new Error('shutting down');
    const pending = fetchIssuer(leaf.cert, { timeoutMs: 10_000, allowPrivateAddresses: true, signal: ctl.signal });
    setImmediate(() => ctl.abort(reason));
    await assert.rejects(pending, (err) => err === reason);
  });
});

// ---------------------------------------------------------------------------------------------

describe('repairChain', () => {
  // root → int1 → int2 → leaf, where the server serves only the leaf.
  let int1: Issued;
  let int2: Issued;
  let leaf: Issued;

  before(async () => {
    int1 = await createCA({ cn: 'AIA Two-Level Int 1', issuer: root, aiaIssuerUrl: `${base}/two/root.der` });
    int2 = await createCA({ cn: 'AIA Two-Level Int 2', issuer: int1, aiaIssuerUrl: `${base}/two/int1.der` });
    leaf = await leafAt('/two/int2.p7c', int2);
    serve('/two/root.der', root.der);
    serve('/two/int1.der', int1.pem, 'application/x-pem-file');
    serve('/two/int2.p7c', await pkcs7(pemBundle(int2), 'DER'));
  });

  test('two missing levels: two fetches; the endpoint that scanned incomplete then scans clean', async () => {
    const scanDir = await mkdtemp(join(tmpdir(), 'certs-aia-scan-'));
    const before = await startTlsServer(leaf.pem, leaf.keyPem);
    let after: Awaited<ReturnType<typeof startTlsServer>> | undefined;
    try {
      const endpoint = { host: 'aia.test', address: '127.0.0.1' };
      const first = await scanEndpoints({ dir: scanDir, anchorsPem: root.pem, endpoints: [{ ...endpoint, port: before.port }] });
      assert.deepEqual(first.codes('aia.test'), ['incomplete-chain'], describeReport(first.get('aia.test')));

      const calls: string[] = [];
      const repaired = await repairChain([leaf.pem], { ...OPTS, anchors, fetchImpl: countingFetch(calls) });
      assert.deepEqual(repaired.chain.map((c) => c.fingerprint256), [leaf, int2, int1].map((c) => c.cert.fingerprint256));
      assert.deepEqual(repaired.fetched.map((f) => [f.url.replace(base, ''), f.format]), [['/two/int2.p7c', 'pkcs7'], ['/two/int1.der', 'pem']]);
      assert.equal(calls.length, 2, 'no fetch of the root: the trust store already issues int1');
      assert.equal(repaired.ending, 'trusted');
      assert.deepEqual(repaired.dropped, []);
      assert.equal(repaired.fullchainPem, pemBundle(leaf, int2, int1));

      after = await startTlsServer(repaired.fullchainPem, leaf.keyPem);
      const second = await scanEndpoints({ dir: scanDir, anchorsPem: root.pem, endpoints: [{ ...endpoint, port: after.port }] });
      assert.deepEqual(second.codes('aia.test'), [], describeReport(second.get('aia.test')));
      assert.equal(second.get('aia.test').status, 'ok');
    } finally {
      await before.close();
      await after?.close();
      await rm(scanDir, { recursive: true, force: true });
    }
  });

  test('with an isAnchor-only trust lookup the root is fetched, recognised and left out', async () => {
    const repaired = await repairChain([leaf.pem], { ...OPTS, anchors: { isAnchor: (c) => anchors.isAnchor(c) } });
    assert.deepEqual(repaired.chain.map((c) => c.fingerprint256), [leaf, int2, int1].map((c) => c.cert.fingerprint256));
    assert.equal(repaired.fetched.length, 3);
    assert.equal(repaired.fetched[2]?.issuer.fingerprint256, root.cert.fingerprint256);
    assert.equal(repaired.ending, 'trusted');
  });

  test('uses served intermediates where they fit, fetches only the gap, drops the rest', async () => {
    const calls: string[] = [];
    const repaired = await repairChain([leaf.pem, pemBundle(unrelated, int1, root)], { ...OPTS, anchors, fetchImpl: countingFetch(calls) });
    assert.deepEqual(repaired.chain.map((c) => c.fingerprint256), [leaf, int2, int1].map((c) => c.cert.fingerprint256));
    assert.deepEqual(calls, [`${base}/two/int2.p7c`]);
    assert.deepEqual(repaired.dropped.map((c) => c.fingerprint256).sort(), [unrelated, root].map((c) => c.cert.fingerprint256).sort());
  });

  test('a complete chain needs no network', async () => {
    const noNetwork = (() => Promise.reject(new Error('no fetch expected'))) as typeof fetch;
    const repaired = await repairChain([pemBundle(leaf, int2, int1, root)], { ...OPTS, anchors, fetchImpl: noNetwork });
    assert.equal(repaired.fetched.length, 0);
    assert.equal(repaired.chain.length, 3);
  });

  test('stops at the fetch limit', async () => {
    await refusal(repairChain([leaf.pem], { ...OPTS, anchors, maxFetches: 1 }), 'fetch-limit', /still incomplete after fetching 1 issuers/);
  });

  test('a wrong intermediate on the way up is refused, naming the URL', async () => {
    const trapLeaf = await leafAt('/trap/int.der');
    await refusal(repairChain([trapLeaf.pem], { ...OPTS, anchors }), 'wrong-issuer', /trap\/int\.der: served a certificate that did not sign/);
  });

  test('a self-signed leaf has nothing to fetch', async () => {
    const selfSigned = await createLeaf({ dns: ['aia.test'] });
    const repaired = await repairChain([selfSigned.pem], { ...OPTS, anchors });
    assert.equal(repaired.ending, 'self-signed');
    assert.equal(repaired.chain.length, 1);
  });
});
