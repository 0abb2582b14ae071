// Where an AIA fetch may connect. The URL is written by whoever made the certificate, so by default
// only public destinations are fetched: loopback (literal or by name), and every hop of a redirect,
// are refused before a connection is made; fetch.allowPrivateAddresses lifts it.
// Everything here must run on loopback, so the redirect case uses a test policy that allows one
// loopback address (127.0.0.2) and refuses the rest: the same code path as public → private.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, describe, test } from 'node:test';
import { AiaError, fetchIssuer, type FetchIssuerOptions } from '../../src/deploy/aia.js';
import { createGuardedFetch, publicOnly } from '../../src/lib/guarded-fetch.js';
import { createCA, createLeaf } from '../helpers/pki.js';

const root = await createCA({ cn: 'Destination Test Root' });
const inter = await createCA({ cn: 'Destination Test Intermediate', issuer: root });

interface Server {
  hits: string[];
  port: number;
  close: () => Promise<void>;
}

async function startServer(host: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Server> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  return {
    hits,
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const serveInter = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/pkix-cert' });
  res.end(inter.der);
};

const target = await startServer('127.0.0.1', serveInter);
after(() => target.close());

async function refused(promise: Promise<unknown>): Promise<AiaError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AiaError, `expected an AiaError, got ${String(err)}`);
  assert.equal(err.reason, 'blocked-address', err.message);
  return err;
}

const leafFor = (url: string) => createLeaf({ dns: ['dest.test'], issuer: inter, aiaIssuerUrl: url });

describe('AIA fetch destinations', () => {
  test('a loopback IP literal is refused by default, without a connection; allowed with allowPrivateAddresses', async () => {
    const leaf = await leafFor(`http://127.0.0.1:${target.port}/int.der`);
    const before = target.hits.length;
    const err = await refused(fetchIssuer(leaf.cert, { timeoutMs: 5000 }));
    assert.match(err.message, /refused to connect to http:\/\/127\.0\.0\.1:\d+\/int\.der: 127\.0\.0\.1 is a loopback address/);
    assert.match(err.hint ?? '', /fetch\.allowPrivateAddresses/);
    assert.equal(target.hits.length, before, 'no request reached the server');

    const got = await fetchIssuer(leaf.cert, { timeoutMs: 5000, allowPrivateAddresses: true });
    assert.equal(got.issuer.fingerprint256, inter.cert.fingerprint256);
    assert.equal(target.hits.length, before + 1);
  });

  test('IPv6 loopback and IPv4-mapped loopback literals are refused', async () => {
    for (const host of ['[::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]']) {
      const leaf = await leafFor(`http://${host}:${target.port}/int.der`);
      const err = await refused(fetchIssuer(leaf.cert, { timeoutMs: 5000 }));
      assert.match(err.message, /is a loopback address/, host);
    }
  });

  test('a name is checked after resolution: localhost is refused, the server sees nothing', async () => {
    const leaf = await leafFor(`http://localhost:${target.port}/int.der`);
    const before = target.hits.length;
    const err = await refused(fetchIssuer(leaf.cert, { timeoutMs: 5000 }));
    assert.match(err.message, /refused to connect to http:\/\/localhost:\d+\/int\.der: localhost: resolves to (127\.0\.0\.1|::1) is a loopback address/);
    assert.equal(target.hits.length, before);
  });

  test('every redirect hop is checked again: literal and resolved destinations', async () => {
    // The policy of this test: 127.0.0.2 plays the public server, every other address is refused.
    const opts: FetchIssuerOptions = { timeoutMs: 5000, addressCheck: (a) => (a === '127.0.0.2' ? null : `${a} is not 127.0.0.2`) };
    const first = await startServer('127.0.0.2', (req, res) => {
      const to = req.url === '/by-name' ? `http://localhost:${target.port}/int.der` : `http://127.0.0.1:${target.port}/int.der`;
      res.writeHead(302, { location: to });
      res.end();
    });
    try {
      const before = target.hits.length;
      const literal = await refused(fetchIssuer((await leafFor(`http://127.0.0.2:${first.port}/by-literal`)).cert, opts));
      assert.match(literal.message, /127\.0\.0\.1 is not 127\.0\.0\.2/);
      const byName = await refused(fetchIssuer((await leafFor(`http://127.0.0.2:${first.port}/by-name`)).cert, opts));
      assert.match(byName.message, /localhost: resolves to .* is not 127\.0\.0\.2/);
      assert.deepEqual(first.hits, ['/by-literal', '/by-name'], 'the first hop was allowed and fetched');
      assert.equal(target.hits.length, before, 'the redirect target was never contacted');
    } finally {
      await first.close();
    }
  });

  test('the guarded fetch connects to the address it checked (no second resolution)', async () => {
    // A check that allows an address only once: if the name were resolved again to connect, the
    // second resolution would be refused. One check per address handed to connect.
    const seen: string[] = [];
    const fetchOnce = createGuardedFetch((a) => {
      seen.push(a);
      return a === '127.0.0.1' ? null : `${a} refused`;
    });
    const res = await fetchOnce(`http://localhost:${target.port}/int.der`, { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), inter.der);
    assert.ok(seen.includes('127.0.0.1'));
    assert.equal(seen.filter((a) => a === '127.0.0.1').length, 1);
  });

  test('publicOnly refuses the cloud metadata address and private ranges before any DNS or connect', async () => {
    const fetchPublic = createGuardedFetch(publicOnly);
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/x', 'http://[fd00::1]/x', 'http://0.0.0.0/x']) {
      await assert.rejects(fetchPublic(url), (err: Error) => err.name === 'BlockedDestinationError', url);
    }
  });
});
