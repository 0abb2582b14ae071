import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';

const FILE = '/etc/certs/certs.yaml';
const parse = (yaml: string) => parseConfigText(yaml, FILE);

describe('config: scan.addresses and scan.resolver', () => {
  it('defaults to every address and the system resolver', () => {
    const c = parse('domains: []\n');
    assert.equal(c.scan.addresses, 'all');
    assert.equal(c.scan.resolver, undefined);
  });

  it('accepts first, and a resolver as ip, ip:port or [v6]:port (port 53 by default)', () => {
    assert.equal(parse('scan: {addresses: first}\n').scan.addresses, 'first');
    assert.equal(parse('scan: {resolver: "127.0.0.1:5353"}\n').scan.resolver, '127.0.0.1:5353');
    assert.equal(parse('scan: {resolver: 192.0.2.53}\n').scan.resolver, '192.0.2.53:53');
    assert.equal(parse('scan: {resolver: "[2001:db8::53]:5300"}\n').scan.resolver, '[2001:db8::53]:5300');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['addresses typo', 'scan: {addresses: al}\n', /scan\.addresses: expected one of all, first .*did you mean "all"/],
    ['addresses not a string', 'scan: {addresses: 3}\n', /scan\.addresses: expected one of all, first/],
    ['resolver a name', 'scan: {resolver: "dns.example:53"}\n', /scan\.resolver: expected the IP address of a DNS server .*"dns\.example"/],
    ['resolver port 0', 'scan: {resolver: "127.0.0.1:0"}\n', /scan\.resolver: expected a port from 1 to 65535/],
    ['resolver empty', 'scan: {resolver: ""}\n', /scan\.resolver/],
  ];
  for (const [what, yaml, re] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => parse(yaml), re));
  }
});
