// Which destinations a fetch of certificate data (AIA) may go to: public ones only, unless
// fetch.allowPrivateAddresses is set. Table-driven over both families and the v4-in-v6 forms.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyAddress, refusedDestination, type AddressClass } from '../../../src/core/address-class.js';

const TABLE: [string, AddressClass | null][] = [
  // IPv4
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['172.15.255.255', 'public'],
  ['172.32.0.1', 'public'],
  ['100.63.255.255', 'public'],
  ['100.128.0.1', 'public'],
  ['169.253.1.1', 'public'],
  ['223.255.255.255', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local'],
  ['169.254.0.1', 'link-local'],
  ['100.64.0.1', 'shared'],
  ['100.127.255.255', 'shared'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['192.0.0.8', 'reserved'],
  // IPv6
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450:4001:80b::200e', 'public'],
  ['[2606:4700:4700::1111]', 'public'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['[::1]', 'loopback'],
  ['::', 'unspecified'],
  ['fc00::1', 'private'],
  ['fd12:3456:789a::1', 'private'],
  ['fec0::1', 'private'],
  ['fe80::1', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['2001:db8::1', 'reserved'],
  // IPv4-mapped, NAT64 and 6to4 go where their v4 address goes
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::a9fe:a9fe', 'link-local'],
  ['64:ff9b::808:808', 'public'],
  ['2002:c0a8:0101::1', 'private'],
  ['2002:0808:0808::1', 'public'],
  ['::127.0.0.1', 'reserved'],
  // not addresses
  ['localhost', null],
  ['example.com', null],
  ['fe80::1%eth0', null],
  ['010.0.0.1', null],
  ['', null],
];

describe('classifyAddress', () => {
  for (const [address, expected] of TABLE) {
    it(`${JSON.stringify(address)} → ${expected}`, () => {
      assert.equal(classifyAddress(address), expected);
    });
  }
});

describe('refusedDestination', () => {
  it('allows public addresses', () => {
    assert.equal(refusedDestination('93.184.216.34'), null);
    assert.equal(refusedDestination('2606:2800:220:1:248:1893:25c8:1946'), null);
  });
  it('names the address and its class', () => {
    assert.equal(refusedDestination('127.0.0.1'), '127.0.0.1 is a loopback address');
    assert.equal(refusedDestination('169.254.169.254'), '169.254.169.254 is a link-local address');
    assert.equal(refusedDestination('::ffff:10.0.0.1'), '::ffff:10.0.0.1 is a private address');
    assert.equal(refusedDestination('0.0.0.0'), '0.0.0.0 is the unspecified address');
  });
  it('refuses what is not an address (callers must resolve first)', () => {
    assert.equal(refusedDestination('metadata.internal'), '"metadata.internal" is not an IP address');
  });
});
