// probe() against in-process peers on loopback ephemeral ports: real node:tls servers with
// in-memory test PKI, and raw TCP peers that misbehave on purpose. No sleeps: every test awaits
// the probe, whose own timers bound it.
//
// Server-side facts are taken only from steps that happen before the server answers the
// ClientHello (the TCP accept, SNICallback): under TLS 1.3 the server's own 'secureConnection'
// comes after the client's 'secureConnect', so the probe may be done before it fires.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createCA, createLeaf, type Issued } from '../../helpers/pki.js';
import { startGarbagePeer, startPlainHttp, startSilentPeer, type Peer } from '../../helpers/peers.js';
import { freePort } from '../../helpers/ports.js';
import { createProbeContext, probe, type ProbeOptions } from '../../../src/scan/tls-probe.js';
import { ServerFlightParser } from '../../../src/scan/tls-records.js';

interface TlsPeer {
  port: number;
  /** TCP connections accepted. */
  connections(): number;
  /** SNI names the clients sent (nothing is recorded for a ClientHello without SNI). */
  servernames: string[];
  close(): Promise<void>;
}

const closers: Array<() => Promise<void>> = [];

async function startTls(opts: tls.TlsOptions, host = '127.0.0.1'): Promise<TlsPeer> {
  const sockets = new Set<net.Socket>();
  const servernames: string[] = [];
  let connections = 0;
  const server = tls.createServer({
    ...opts,
    SNICallback: (name, cb) => {
      servernames.push(name);
      // No context: the server's own one serves every name.
      cb(null);
    },
  }, (sock) => {
    sock.on('error', () => sock.destroy());
    sock.end();
  });
  server.on('connection', (sock: net.Socket) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  // Probes hang up mid-handshake on purpose (refusals, version retries): not a server failure.
  server.on('tlsClientError', () => {});
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const peer: TlsPeer = {
    port,
    connections: () => connections,
    servernames,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const s of sockets) s.destroy();
      }),
  };
  closers.push(peer.close);
  return peer;
}

async function track<T extends Peer>(peer: Promise<T>): Promise<T> {
  const p = await peer;
  closers.push(p.close);
  return p;
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

/** SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 §4.1.3). */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

interface RecordingProxy {
  port: number;
  /** What the upstream server sent, one entry per connection, in the order they were accepted. */
  fromServer(): Buffer[];
}

/** A TCP relay to `upstream` that keeps what the server sends, to check what really went over the wire. */
async function startRecordingProxy(upstream: number): Promise<RecordingProxy> {
  const connections: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    connections.push(chunks);
    const up = net.connect(upstream, '127.0.0.1');
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        up.destroy();
      });
    }
    up.on('data', (d: Buffer) => chunks.push(d));
    client.pipe(up);
    up.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, fromServer: () => connections.map((c) => Buffer.concat(c)) };
}

const hex = (ders: Buffer[]): string[] => ders.map((d) => d.toString('hex'));

/** Body lengths of the ServerHello messages in the plaintext records a server sent (each within one record, as servers send them). */
function plaintextServerHelloLengths(stream: Buffer): number[] {
  const lengths: number[] = [];
  for (let off = 0; off + 5 <= stream.length && stream[off] !== 23; off += 5 + stream.readUInt16BE(off + 3)) {
    if (stream[off] === 22 && stream[off + 5] === 2) lengths.push(stream.readUIntBE(off + 6, 3));
  }
  return lengths;
}

let root: Issued;
let inter: Issued;
let leaf: Issued;
/** A CA that has nothing to do with the leaf's chain: an extra certificate when served. */
let stranger: Issued;
let trusted: tls.SecureContext;
let untrusted: tls.SecureContext;
const opts = (extra: Partial<ProbeOptions> = {}): ProbeOptions => ({ secureContext: trusted, timeoutMs: 3000, ...extra });

before(async () => {
  root = await createCA({ cn: 'certs probe test root' });
  inter = await createCA({ cn: 'certs probe test intermediate', issuer: root });
  leaf = await createLeaf({ dns: ['localhost', 'probe.test'], ips: ['127.0.0.1', '::1'], issuer: inter });
  stranger = await createCA({ cn: 'certs probe test stranger' });
  trusted = createProbeContext({ ca: [root.pem] });
  untrusted = createProbeContext({ ca: [] });
});

after(async () => {
  await Promise.all(closers.map((c) => c()));
});

describe('probe: served chains', () => {
  it('TLS 1.2: returns the chain in the exact (wrong) order served', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + root.pem + inter.pem });
    const r = await probe({ host: 'localhost', port: peer.port, address: '127.0.0.1' }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1.2');
    assert.equal(r.orderKnown, true);
    assert.deepEqual(hex(r.chain), hex([leaf.der, root.der, inter.der]));
    assert.equal(r.opensslError, null, 'OpenSSL verifies regardless of order');
    assert.equal(r.note, undefined);
    assert.equal(peer.connections(), 1, 'a server that accepts TLS 1.2 costs one handshake');
    assert.equal(r.remoteAddress, '127.0.0.1');
    assert.equal(r.address, '127.0.0.1');
    assert.deepEqual(peer.servernames, ['localhost'], 'SNI carries the host, not the dialled address');
    assert.ok(r.durationMs > 0);
  });

  it('reports OpenSSL\'s verdict when the chain is not trusted', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem + root.pem });
    const r = await probe({ host: 'localhost', port: peer.port }, opts({ secureContext: untrusted }));
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.chain.length, 3);
    assert.equal(r.opensslError, 'SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('leaves hostnames to our analysis: a wrong name is not an OpenSSL error', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem });
    const r = await probe({ host: 'other.example', port: peer.port, address: '127.0.0.1' }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.opensslError, null);
  });

  it('reassembles a Certificate message spread over several TLS records', async () => {
    const cas: Issued[] = [];
    for (let i = 0; i < 40; i++) cas.push(await createCA({ cn: `certs filler CA ${i}`, issuer: root }));
    const peer = await startTls({ key: leaf.keyPem, cert: [leaf.pem, inter.pem, ...cas.map((c) => c.pem)].join('') });
    const r = await probe({ host: 'localhost', port: peer.port }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    const total = r.chain.reduce((n, d) => n + d.length, 0);
    assert.ok(total > 16384, `chain of ${total} bytes needs more than one record`);
    assert.deepEqual(hex(r.chain), hex([leaf, inter, ...cas].map((c) => c.der)));
    const only13 = await startTls({ key: leaf.keyPem, cert: [leaf.pem, inter.pem, ...cas.map((c) => c.pem)].join(''), minVersion: 'TLSv1.3' });
    const r13 = await probe({ host: 'localhost', port: only13.port }, opts());
    assert.equal(r13.error, undefined, r13.error?.message);
    assert.equal(r13.protocol, 'TLSv1.3');
    assert.equal(r13.orderKnown, true, r13.note);
    assert.deepEqual(hex(r13.chain), hex([leaf, inter, ...cas].map((c) => c.der)), 'the same, decrypted');
  });

  const suites = [
    { name: 'TLS_AES_128_GCM_SHA256', id: 0x1301 },
    { name: 'TLS_AES_256_GCM_SHA384', id: 0x1302 },
    { name: 'TLS_CHACHA20_POLY1305_SHA256', id: 0x1303 },
  ];
  for (const suite of suites) {
    it(`TLS 1.3-only server (${suite.name}): the flight is decrypted, the exact (wrong) order served, extra certificate included`, async () => {
      const served = [leaf, stranger, root, inter];
      // Node takes TLS 1.3 suites in `ciphers` (it has no `ciphersuites` option).
      const peer = await startTls({ key: leaf.keyPem, cert: served.map((c) => c.pem).join(''), minVersion: 'TLSv1.3', ciphers: suite.name });
      const proxy = await startRecordingProxy(peer.port);
      const r = await probe({ host: 'localhost', port: proxy.port, address: '127.0.0.1' }, opts());
      assert.equal(r.error, undefined, r.error?.message);
      const wire = new ServerFlightParser();
      wire.push(proxy.fromServer().at(-1) ?? Buffer.alloc(0));
      assert.equal(wire.serverHello?.cipherSuite, suite.id, 'the server chose the suite under test');
      assert.equal(r.protocol, 'TLSv1.3');
      assert.equal(r.orderKnown, true, r.note);
      assert.deepEqual(hex(r.chain), hex(served.map((c) => c.der)));
      assert.equal(r.opensslError, null);
      assert.equal(r.note, undefined);
      assert.equal(peer.connections(), 2, 'the TLS 1.2 attempt, refused, then TLS 1.3');
    });
  }

  it('a context without the 1.2 cap: TLS 1.3 on the first attempt, decrypted, one handshake', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + root.pem + inter.pem });
    const r = await probe({ host: 'localhost', port: peer.port }, opts({ secureContext: tls.createSecureContext({ ca: [root.pem] }) }));
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(r.orderKnown, true, r.note);
    assert.deepEqual(hex(r.chain), hex([leaf.der, root.der, inter.der]));
    assert.equal(peer.connections(), 1);
  });

  it('TLS 1.3 after a HelloRetryRequest: the second ServerHello\'s keys open the flight', async () => {
    // The client sends an X25519 key share only, so a P-384-only server must ask again.
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem + root.pem, minVersion: 'TLSv1.3', ecdhCurve: 'P-384' });
    const proxy = await startRecordingProxy(peer.port);
    const r = await probe({ host: 'localhost', port: proxy.port, address: '127.0.0.1' }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.ok(proxy.fromServer().at(-1)?.includes(HRR_RANDOM), 'the server really sent a HelloRetryRequest');
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(r.orderKnown, true, r.note);
    assert.deepEqual(hex(r.chain), hex([leaf.der, inter.der, root.der]));
    assert.equal(peer.connections(), 2, 'the refused TLS 1.2 attempt, then one TLS 1.3 connection with its retry inside');
  });

  it('TLS 1.3 with a CertificateRequest in the flight (a server asking for client certificates)', async () => {
    const peer = await startTls({
      key: leaf.keyPem,
      cert: leaf.pem + inter.pem,
      minVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: false,
      ca: [root.pem],
    });
    const proxy = await startRecordingProxy(peer.port);
    const r = await probe({ host: 'localhost', port: proxy.port, address: '127.0.0.1' }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.orderKnown, true, r.note);
    assert.deepEqual(hex(r.chain), hex([leaf.der, inter.der]));
    const wire = new ServerFlightParser();
    wire.push(proxy.fromServer().at(-1) ?? Buffer.alloc(0));
    assert.equal(wire.serverHello?.versionName, 'TLSv1.3');
    assert.equal(wire.certificates, null, 'the chain was not readable on the wire: it came from decryption');
  });

  it('TLS 1.3: the server sees its handshake complete (the client Finished is not cut off)', async () => {
    const server = tls.createServer({ key: leaf.keyPem, cert: leaf.pem + inter.pem }, (sock) => {
      sock.on('error', () => sock.destroy());
      sock.end();
    });
    // Whichever comes first says how the server saw the handshake end.
    const outcome = new Promise<string>((resolve) => {
      server.once('secureConnection', () => resolve('complete'));
      server.once('tlsClientError', (err: NodeJS.ErrnoException) => resolve(`aborted: ${err.code ?? err.message}`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    // Without the 1.2 cap, so that the only connection is the TLS 1.3 one.
    const ctx = tls.createSecureContext({ ca: [root.pem] });
    const r = await probe({ host: 'localhost', port: (server.address() as net.AddressInfo).port }, opts({ secureContext: ctx }));
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(await outcome, 'complete');
  });

  it('TLS 1.3 with a suite the flight parser cannot decrypt: the served order still comes from OpenSSL\'s peer chain', async () => {
    const ccm = 'TLS_AES_128_CCM_SHA256';
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + root.pem + inter.pem, minVersion: 'TLSv1.3', ciphers: ccm });
    // Only a caller's own context can offer a CCM suite: createProbeContext() never does.
    const ctx = tls.createSecureContext({ ca: [root.pem], minVersion: 'TLSv1.3', ciphers: ccm });
    const r = await probe({ host: 'localhost', port: peer.port }, opts({ secureContext: ctx }));
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1.3');
    // The recording path could only say "order not judged" here (tls13-decrypt.ts has no CCM):
    // this chain was read natively, without decryption.
    assert.equal(r.orderKnown, true, r.note);
    assert.deepEqual(hex(r.chain), hex([leaf.der, root.der, inter.der]));
    assert.equal(r.opensslError, null);
    assert.equal(r.note, undefined);
    assert.equal(peer.connections(), 1);
  });

  it('duplicates and unrelated certificates are kept as served, in one handshake, under TLS 1.2 and 1.3', async () => {
    const served = [leaf, stranger, inter, stranger, leaf];
    for (const minVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const peer = await startTls({ key: leaf.keyPem, cert: served.map((c) => c.pem).join(''), minVersion });
      const proxy = await startRecordingProxy(peer.port);
      const r = await probe({ host: 'localhost', port: proxy.port, address: '127.0.0.1' }, opts());
      assert.equal(r.error, undefined, r.error?.message);
      assert.equal(r.protocol, minVersion);
      assert.equal(r.orderKnown, true, r.note);
      assert.deepEqual(hex(r.chain), hex(served.map((c) => c.der)), minVersion);
      // The bytes came over the wire as they are returned (TLS 1.2: plaintext, so checkable here).
      if (minVersion === 'TLSv1.2') {
        const wire = new ServerFlightParser();
        wire.push(proxy.fromServer().at(-1) ?? Buffer.alloc(0));
        assert.deepEqual(hex(wire.certificates ?? []), hex(r.chain));
      }
      assert.equal(peer.connections(), minVersion === 'TLSv1.2' ? 1 : 2, 'no second look for a handshake that completed');
    }
  });

  it('a TLS 1.0-only server still yields its chain', async () => {
    const peer = await startTls({
      key: leaf.keyPem,
      cert: leaf.pem + inter.pem,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    const r = await probe({ host: 'localhost', port: peer.port }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1');
    assert.equal(r.orderKnown, true);
    assert.equal(r.chain.length, 2);
  });

  it('a weak chain (RSA-1024 leaf signed with SHA-1) still yields its chain for analysis', async () => {
    const weak = await createLeaf({ dns: ['localhost'], issuer: inter, keySpec: 'rsa-1024', hash: 'SHA-1' });
    const peer = await startTls({ key: weak.keyPem, cert: weak.pem + inter.pem, ciphers: 'DEFAULT:@SECLEVEL=0' });
    const r = await probe({ host: 'localhost', port: peer.port }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.protocol, 'TLSv1.2');
    assert.ok(r.chain[0]?.equals(weak.der));
    assert.equal(r.opensslError, null, 'trust judged alone; weakness is for our analysis');
  });

  it('IPv6: probes ::1 directly, without SNI for an IP literal', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem }, '::1');
    const r = await probe({ host: '::1', port: peer.port }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.remoteAddress, '::1');
    assert.equal(r.orderKnown, true);
    assert.equal(r.chain.length, 2);
    assert.deepEqual(peer.servernames, [], 'no SNI sent');
  });

  it('IPv6: a name dialled at ::1 sends the name as SNI', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem }, '::1');
    const r = await probe({ host: 'probe.test', port: peer.port, address: '::1' }, opts());
    assert.equal(r.error, undefined, r.error?.message);
    assert.deepEqual(peer.servernames, ['probe.test']);
  });
});

describe('probe: failures', () => {
  it('closed port → unreachable (ECONNREFUSED)', async () => {
    const port = await freePort();
    const r = await probe({ host: '127.0.0.1', port }, opts());
    assert.equal(r.error?.code, 'unreachable');
    assert.equal(r.error?.phase, 'connect');
    assert.match(r.error?.message ?? '', /ECONNREFUSED/);
    assert.deepEqual(r.chain, []);
    assert.equal(r.orderKnown, false);
  });

  it('DNS failure → unreachable in the dns phase', async () => {
    const lookup: net.LookupFunction = (hostname, _options, callback) => {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
      process.nextTick(() => callback(err, '', 4));
    };
    const r = await probe({ host: 'no-such-host.invalid', port: 443 }, opts({ lookup }));
    assert.equal(r.error?.code, 'unreachable');
    assert.equal(r.error?.phase, 'dns');
    assert.match(r.error?.message ?? '', /DNS lookup of "no-such-host\.invalid" failed \(ENOTFOUND\)/);
  });

  it('DNS that never answers → timeout in the dns phase', async () => {
    const lookup: net.LookupFunction = () => {};
    const r = await probe({ host: 'slow.invalid', port: 443 }, opts({ lookup, connectTimeoutMs: 100 }));
    assert.equal(r.error?.code, 'timeout');
    assert.equal(r.error?.phase, 'dns');
  });

  it('plain HTTP server → handshake-failed, saying it is HTTP', async () => {
    const peer = await track(startPlainHttp());
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts());
    assert.equal(r.error?.code, 'handshake-failed');
    assert.equal(r.error?.phase, 'handshake');
    assert.match(r.error?.message ?? '', /plain HTTP \("HTTP\/1\.1 400 Bad Request"\)/);
  });

  it('a peer that accepts and never answers → timeout', async () => {
    const peer = await track(startSilentPeer());
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts({ timeoutMs: 300 }));
    assert.equal(r.error?.code, 'timeout');
    assert.equal(r.error?.phase, 'handshake');
    assert.match(r.error?.message ?? '', /no TLS handshake within 300 ms: the peer accepted the TCP connection but sent nothing/);
    assert.ok(r.durationMs >= 290 && r.durationMs < 2000, `durationMs ${r.durationMs}`);
  });

  it('a peer that stalls inside its first record → timeout naming the bytes it sent', async () => {
    // A TLS record header announcing 100 bytes and 3 of them: OpenSSL waits, the budget runs out.
    const peer = await track(startGarbagePeer(Buffer.from([22, 3, 3, 0, 100, 2, 0, 0]), { end: false }));
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts({ timeoutMs: 300 }));
    assert.equal(r.error?.code, 'timeout');
    assert.equal(r.error?.phase, 'handshake');
    assert.equal(r.error?.message, 'no TLS handshake within 300 ms: the handshake stalled after 8 bytes from the peer');
    assert.equal(peer.accepted(), 1, 'a timeout is not tried again');
  });

  it('a peer that hangs up at once → handshake-failed', async () => {
    const peer = await track(startGarbagePeer(Buffer.alloc(0)));
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts());
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /closed the connection without answering the TLS ClientHello/);
  });

  it('a peer that hangs up mid-record → handshake-failed saying the record was cut', async () => {
    const peer = await track(startGarbagePeer(Buffer.from([22, 3, 3, 0, 100, 2, 0, 0])));
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts());
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /closed the connection during the TLS handshake: the connection ended inside a TLS record \(97 bytes of it missing\)/);
  });

  it('garbage bytes → handshake-failed naming them', async () => {
    const peer = await track(startGarbagePeer(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), { end: false }));
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts());
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /non-TLS data \("SSH-2\.0-OpenSSH_9\.6"\)/);
  });

  it('a 16 MB certificate announcement → handshake-failed at once, socket closed', async () => {
    const serverSockets: net.Socket[] = [];
    const server = net.createServer((sock) => {
      serverSockets.push(sock);
      sock.on('error', () => sock.destroy());
      // Consume the ClientHello: a paused socket with unread data never reports the peer's close.
      sock.resume();
      // ServerHello-less, but a valid record carrying a Certificate header that claims 16 MB; then silence.
      sock.write(Buffer.concat([Buffer.from([22, 3, 3]), u16(4), Buffer.from([11, 0xff, 0xff, 0xff])]));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise<void>((resolve) => {
      for (const s of serverSockets) s.destroy();
      server.close(() => resolve());
    }));
    const r = await probe({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, opts({ timeoutMs: 10_000 }));
    assert.equal(r.error?.code, 'handshake-failed');
    assert.equal(r.error?.message, 'certificate message of 16777215 bytes exceeds the 1 MiB limit');
    assert.ok(r.durationMs < 2000, `refused after ${r.durationMs} ms`);
    const sock = serverSockets[0];
    assert.ok(sock);
    // The peer sees our side go away: it did not wait for a timeout.
    if (!sock.destroyed) await once(sock, 'close');
  });

  it('a real chain over maxCertBytes → handshake-failed', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem, maxVersion: 'TLSv1.2' });
    const r = await probe({ host: 'localhost', port: peer.port }, opts({ maxCertBytes: 256 }));
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /^certificate message of \d+ bytes exceeds the 256 bytes limit$/);
  });

  it('a real chain over maxCertBytes under TLS 1.3 → handshake-failed once decrypted', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem, minVersion: 'TLSv1.3' });
    const r = await probe({ host: 'localhost', port: peer.port }, opts({ maxCertBytes: 256 }));
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /; TLS 1\.3: certificate message of \d+ bytes exceeds the 256 bytes limit$/);
    assert.deepEqual(r.chain, []);
  });

  it('maxCertBytes bounds the Certificate message only, not a larger TLS 1.3 ServerHello', async () => {
    // A finite-field group makes the server's key share 384 bytes (Node 24's default X25519MLKEM768
    // share is 1,120); a small Ed25519 leaf keeps the whole Certificate message below the ServerHello.
    const ca = await createCA({ cn: 'certs probe test small root', keySpec: 'ed25519' });
    const small = await createLeaf({ dns: ['localhost'], issuer: ca, keySpec: 'ed25519' });
    const peer = await startTls({ key: small.keyPem, cert: small.pem, minVersion: 'TLSv1.3', ecdhCurve: 'ffdhe3072' });
    const proxy = await startRecordingProxy(peer.port);
    const target = { host: 'localhost', port: proxy.port, address: '127.0.0.1' };
    // TLS 1.3 Certificate body: context length, list length, then per entry a 3-byte length, the DER, no extensions.
    const certMessage = 1 + 3 + 3 + small.der.length + 2;
    const exact = await probe(target, opts({ maxCertBytes: certMessage }));
    assert.equal(exact.error, undefined, exact.error?.message);
    assert.equal(exact.protocol, 'TLSv1.3');
    assert.equal(exact.orderKnown, true, exact.note);
    assert.deepEqual(hex(exact.chain), hex([small.der]));
    const helloBytes = plaintextServerHelloLengths(proxy.fromServer().at(-1) ?? Buffer.alloc(0)).at(-1) ?? 0;
    assert.ok(helloBytes > certMessage, `the ServerHello (${helloBytes} bytes) is larger than the limit (${certMessage})`);
    const under = await probe(target, opts({ maxCertBytes: certMessage - 1 }));
    assert.equal(under.error?.code, 'handshake-failed');
    assert.match(under.error?.message ?? '', new RegExp(`; TLS 1\\.3: certificate message of ${certMessage} bytes exceeds the ${certMessage - 1} bytes limit$`));
  });

  it('a fatal handshake_failure alert → one TLS 1.3 retry, then handshake-failed with both reasons', async () => {
    const peer = await track(startGarbagePeer(Buffer.from([21, 3, 3, 0, 2, 2, 40])));
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts());
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /^TLS 1\.2 refused \(the server sent a fatal alert handshake_failure \(40\).*\); TLS 1\.3: the server sent a fatal alert handshake_failure \(40\)/);
    assert.equal(peer.accepted(), 2);
  });

  it('a fatal alert that is not about versions → no retry', async () => {
    const peer = await track(startGarbagePeer(Buffer.from([21, 3, 3, 0, 2, 2, 80])));
    const r = await probe({ host: '127.0.0.1', port: peer.port }, opts());
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /fatal alert internal_error \(80\)/);
    assert.equal(peer.accepted(), 1);
  });

  it('a TLS 1.2-only server when TLS 1.2 is refused by the client context → handshake-failed, not a hang', async () => {
    const peer = await startTls({ key: leaf.keyPem, cert: leaf.pem, maxVersion: 'TLSv1.2' });
    const only13 = tls.createSecureContext({ minVersion: 'TLSv1.3', ca: [root.pem] });
    const r = await probe({ host: 'localhost', port: peer.port }, opts({ secureContext: only13, secureContextTls13: only13 }));
    assert.equal(r.error?.code, 'handshake-failed');
    assert.match(r.error?.message ?? '', /protocol_version|TLS handshake failed/);
  });
});

describe('probe: hygiene', () => {
  it('rejects a bad port (a programming error) and still clears its timer', async () => {
    await assert.rejects(probe({ host: '127.0.0.1', port: 70000 }, opts({ timeoutMs: 60_000 })), /port/i);
  });

  it('many probes in parallel, mixed outcomes, all settle', async () => {
    const good = await startTls({ key: leaf.keyPem, cert: leaf.pem + inter.pem });
    const silent = await track(startSilentPeer());
    const closed = await freePort();
    // Only the silent peer gets a short budget, so a loaded machine cannot turn the good ones into timeouts.
    const targets = [
      { port: good.port, timeoutMs: 10_000, expected: 'ok' },
      { port: silent.port, timeoutMs: 300, expected: 'timeout' },
      { port: closed, timeoutMs: 10_000, expected: 'unreachable' },
    ];
    const runs = Array.from({ length: 30 }, (_, i) => targets[i % 3] as (typeof targets)[number]);
    const results = await Promise.all(runs.map((t) => probe({ host: '127.0.0.1', port: t.port }, opts({ timeoutMs: t.timeoutMs }))));
    assert.deepEqual(results.map((r) => r.error?.code ?? 'ok'), runs.map((t) => t.expected));
  });

  it('leaves no sockets or timers behind once the peers are closed', async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
    // Handles leave the list in libuv's close phase: two loop turns guarantee one has run.
    await nextTurn();
    await nextTurn();
    const leftovers = process.getActiveResourcesInfo().filter((r) => /TCP|Timeout|TLS/.test(r));
    assert.deepEqual(leftovers, []);
  });
});
