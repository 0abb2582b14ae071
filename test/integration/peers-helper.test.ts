// Self-test of test/helpers/peers.ts: each peer behaves as named and close() ends every connection.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { startGarbagePeer, startPlainHttp, startSilentPeer } from '../helpers/peers.js';

function tlsOutcome(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername: 'x.test', rejectUnauthorized: false });
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      resolve('timeout');
    });
    sock.once('secureConnect', () => {
      sock.destroy();
      resolve('handshake');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code ?? err.message}`));
  });
}

test('startPlainHttp answers 200 ok and records requests', async (t) => {
  const peer = await startPlainHttp();
  t.after(() => peer.close());
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get(`${peer.url}/x`, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (d: string) => (b += d));
        res.on('end', () => resolve(`${res.statusCode} ${b}`));
      })
      .on('error', reject);
  });
  assert.equal(body, '200 ok\n');
  assert.deepEqual(peer.requests, ['GET /x']);
});

test('startSilentPeer never answers, and close() ends connections it accepted', async () => {
  const peer = await startSilentPeer();
  assert.equal(await tlsOutcome(peer.port, 200), 'timeout');
  const held = net.connect({ host: '127.0.0.1', port: peer.port });
  const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
  held.on('error', () => held.destroy());
  await new Promise<void>((resolve) => held.once('connect', () => resolve()));
  // The accept may trail the client's connect by a tick; wait for the server to count it.
  for (let i = 0; i < 100 && peer.accepted() < 2; i++) await new Promise((r) => setImmediate(r));
  assert.equal(peer.accepted(), 2);
  await peer.close();
  await closed;
});

test('startGarbagePeer sends its bytes: a TLS client fails the handshake', async (t) => {
  const peer = await startGarbagePeer(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
  t.after(() => peer.close());
  assert.match(await tlsOutcome(peer.port, 2000), /^error:/);
});
