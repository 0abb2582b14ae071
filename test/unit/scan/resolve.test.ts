import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { resolveRun } from '../../../src/scan/resolve.js';

describe('resolveRun (scan.addresses all)', () => {
  it('the system resolver honours /etc/hosts: localhost gives 127.0.0.1', async () => {
    const r = await resolveRun({ timeoutMs: 3000 })('localhost');
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(r.addresses.includes('127.0.0.1'), JSON.stringify(r));
  });

  it('asks each name once per run, whatever its case', () => {
    const resolve = resolveRun({ timeoutMs: 3000 });
    assert.equal(resolve('LocalHost'), resolve('localhost'));
    assert.notEqual(resolveRun({ timeoutMs: 3000 })('localhost'), resolve('localhost'), 'a new run asks again');
  });

  it('a DNS server that does not answer: no addresses, the server and its failure named, within the budget', async () => {
    // A bound UDP socket that never replies: the query times out.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const { port } = silent.address();
    try {
      const started = Date.now();
      const r = await resolveRun({ timeoutMs: 300, resolver: `127.0.0.1:${port}` })('www.example.test');
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.message : '', new RegExp(`^DNS lookup of "www\\.example\\.test" failed: DNS server 127\\.0\\.0\\.1:${port} answered ETIMEOUT`));
      assert.ok(Date.now() - started < 2000, 'bounded by the scan timeout');
    } finally {
      silent.close();
    }
  });
});
