// The scanner against peers that do not speak TLS properly: each failure is classified with the
// right code, and none of them disturbs the scan of a good endpoint in the same scanDomains() call.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCA, createLeaf, daysFrom, pemBundle } from '../helpers/pki.js';
import { startGarbagePeer, startPlainHttp, startSilentPeer, type Peer } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';
import { describeReport, scanEndpoints, startTlsServer, type ScanFixtureResult, type TlsServer } from '../helpers/scan-fixture.js';

const MiB = 1024 * 1024;
/** What the huge peer is willing to stream in total. */
const HUGE_TOTAL = 100 * MiB;
/** A TLS handshake header holds a 24-bit length: 16 MiB − 1 is the largest a peer can announce. */
const MAX_ANNOUNCED = 0xffffff;

interface HugePeer extends Peer {
  /** Bytes the peer managed to write before the client went away. */
  written(): number;
  /** Resolves when the first connection has closed. */
  firstClosed: Promise<void>;
}

/**
 * A "TLS server" that answers with a ServerHello, then a Certificate message announcing the largest
 * length a handshake header can carry, then streams record after record of filler (up to 100 MiB)
 * for as long as the client keeps reading. Streaming respects back-pressure, so the peer itself
 * holds one 16 KiB record in memory.
 */
async function startHugeCertificatePeer(): Promise<HugePeer> {
  const record = (payload: Buffer): Buffer => {
    const h = Buffer.from([0x16, 0x03, 0x03, 0, 0]);
    h.writeUInt16BE(payload.length, 3);
    return Buffer.concat([h, payload]);
  };
  const hello = Buffer.concat([
    Buffer.from([0x03, 0x03]), // TLS 1.2
    randomBytes(32),
    Buffer.from([0x00]), // no session id
    Buffer.from([0xc0, 0x2f]), // ECDHE-RSA-AES128-GCM-SHA256
    Buffer.from([0x00]), // no compression
  ]);
  const serverHello = record(Buffer.concat([Buffer.from([0x02, 0, 0, hello.length]), hello]));
  const certHeader = Buffer.from([0x0b, 0, 0, 0, 0, 0, 0]);
  certHeader.writeUIntBE(MAX_ANNOUNCED, 1, 3); // handshake length
  certHeader.writeUIntBE(MAX_ANNOUNCED - 3, 4, 3); // certificate_list length
  const firstCert = record(Buffer.concat([certHeader, Buffer.alloc(16384 - certHeader.length, 0x30)]));
  const filler = record(Buffer.alloc(16384, 0x30));

  let written = 0;
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  let resolveClosed: () => void = () => {};
  const firstClosed = new Promise<void>((r) => (resolveClosed = r));
  const server = net.createServer((sock) => {
    accepted++;
    sockets.add(sock);
    let closed = false;
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      closed = true;
      sockets.delete(sock);
      resolveClosed();
    });
    const pump = (): void => {
      while (!closed && written < HUGE_TOTAL) {
        written += filler.length;
        if (!sock.write(filler)) {
          sock.once('drain', pump);
          return;
        }
      }
      if (!closed) sock.end();
    };
    // Answer the ClientHello as a server would.
    sock.once('data', () => {
      sock.write(serverHello);
      sock.write(firstCert);
      written += serverHello.length + firstCert.length;
      pump();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    host: '127.0.0.1',
    port,
    accepted: () => accepted,
    written: () => written,
    firstClosed,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      for (const s of sockets) s.destroy();
    }),
  };
}

describe('scan against misbehaving peers, beside a good endpoint', () => {
  const now = new Date();
  let dir: string | undefined;
  let good: TlsServer | undefined;
  const peers: Peer[] = [];
  let huge: HugePeer;
  let scan: ScanFixtureResult;
  let rssBefore = 0;
  let rssAfter = 0;

  before(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'certs-scan-peers-'));
    const caDates = { notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 3650) };
    const root = await createCA({ cn: 'certs Peers Root', ...caDates });
    const inter = await createCA({ cn: 'certs Peers Intermediate', issuer: root, ...caDates });
    const leaf = await createLeaf({ dns: ['good.test', 'good-again.test'], issuer: inter, notBefore: daysFrom(now, -1), notAfter: daysFrom(now, 90) });
    good = await startTlsServer(pemBundle(leaf, inter), leaf.keyPem);

    const http = await startPlainHttp();
    peers.push(http);
    const silent = await startSilentPeer();
    peers.push(silent);
    const garbage = await startGarbagePeer(randomBytes(4096));
    peers.push(garbage);
    huge = await startHugeCertificatePeer();
    peers.push(huge);
    // Nothing listens here: bound a moment ago, then released.
    const closedPort = await freePort();

    rssBefore = process.memoryUsage().rss;
    scan = await scanEndpoints({
      dir,
      anchorsPem: pemBundle(root),
      // Small, so that the silent peer times out quickly; loopback handshakes take milliseconds.
      scan: { timeoutMs: 1000 },
      endpoints: [
        { host: 'good.test', address: '127.0.0.1', port: good.port },
        { host: 'http.test', address: '127.0.0.1', port: http.port },
        { host: 'silent.test', address: '127.0.0.1', port: silent.port },
        { host: 'closed.test', address: '127.0.0.1', port: closedPort },
        { host: 'garbage.test', address: '127.0.0.1', port: garbage.port },
        { host: 'huge.test', address: '127.0.0.1', port: huge.port },
        { host: 'good-again.test', address: '127.0.0.1', port: good.port },
      ],
    });
    rssAfter = process.memoryUsage().rss;
    // The probe has destroyed its socket; wait until the peer saw that, so `written` is final.
    await huge.firstClosed;
  });

  after(async () => {
    try {
      await Promise.all([good?.close(), ...peers.map((p) => p.close())]);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  const expectOnly = (host: string, code: string): void => {
    const r = scan.get(host);
    assert.deepEqual(scan.codes(host), [code], describeReport(r));
    assert.equal(r.status, 'critical');
    assert.equal(r.problems[0]?.severity, 'critical');
  };

  test('the good endpoints scan clean in the same run', () => {
    for (const host of ['good.test', 'good-again.test']) {
      const r = scan.get(host);
      assert.deepEqual(scan.codes(host), [], describeReport(r));
      assert.equal(r.status, 'ok');
      assert.equal(r.crossCheck?.agrees, true, describeReport(r));
      assert.equal(r.orderKnown, true);
    }
  });

  test('plain HTTP on the port: handshake-failed, naming HTTP', () => {
    expectOnly('http.test', 'handshake-failed');
    assert.match(scan.get('http.test').problems[0]?.message ?? '', /HTTP/);
  });

  test('a peer that accepts and never answers: timeout', () => {
    expectOnly('silent.test', 'timeout');
  });

  test('a closed port: unreachable', () => {
    expectOnly('closed.test', 'unreachable');
    assert.match(scan.get('closed.test').problems[0]?.message ?? '', /ECONNREFUSED/);
  });

  test('random bytes: handshake-failed', () => {
    expectOnly('garbage.test', 'handshake-failed');
  });

  test('a huge Certificate message: handshake-failed at its header, without buffering it', () => {
    expectOnly('huge.test', 'handshake-failed');
    assert.match(scan.get('huge.test').problems[0]?.message ?? '', /certificate message of \d+ bytes exceeds/);
    // The probe gave up long before the peer could stream everything it wanted to.
    assert.ok(huge.written() < HUGE_TOTAL, `peer wrote ${huge.written()} bytes`);
    // A sanity bound, not a measurement: buffering the message would cost at least 16 MiB.
    const grew = rssAfter - rssBefore;
    assert.ok(grew < 50 * MiB, `rss grew by ${(grew / MiB).toFixed(1)} MiB during the scan`);
  });
});
