// The one host:port parser (src/lib/host-port.ts) from a table, and its three users agreeing on
// the same inputs: config servers (hostPort), dns-01 propagation servers (parseServerSpec) and
// the daemon's Host header check (hostOf). Before, each had its own parser and they disagreed:
// "ns.example:http" was a bad host in the config but a bad spec in propagation, and a config
// server "[ns.example]" was accepted although brackets are for IPv6 addresses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcmeError } from '../../../src/core/errors.js';
import { formatHostPort, parseHostPort, type HostPortResult } from '../../../src/lib/host-port.js';
import { parseServerSpec } from '../../../src/acme/dns/propagation.js';
import { hostPort } from '../../../src/config/schema-common.js';
import { Checker } from '../../../src/config/kit.js';
import { hostOf } from '../../../src/service/http-access.js';

const ok = (host: string, port?: number, bracketed = false): HostPortResult => ({ ok: true, host, port, bracketed });

describe('parseHostPort', () => {
  const table: Array<[string, boolean, HostPortResult | RegExp]> = [
    // spec, bareIPv6, result (or the problem's words)
    ['example.com', false, ok('example.com')],
    ['example.com:8443', false, ok('example.com', 8443)],
    ['  example.com:53  ', false, ok('example.com', 53)],
    ['192.0.2.1:993', false, ok('192.0.2.1', 993)],
    ['[::1]', false, ok('::1', undefined, true)],
    ['[2001:db8::1]:443', false, ok('2001:db8::1', 443, true)],
    ['2001:db8::1', true, ok('2001:db8::1')],
    ['2001:db8::1', false, /IPv6 addresses need brackets/],
    // The whole is the host: the caller's host check refuses what is not an IPv6 address.
    ['a:b:c', true, ok('a:b:c')],
    ['a:b:c', false, /IPv6 addresses need brackets/],
    ['', false, /^empty$/],
    ['   ', false, /^empty$/],
    ['[::1', false, /missing "\]"/],
    ['[::1]x', false, /unexpected "x" after "\]"/],
    ['[]:53', false, /the host is missing/],
    [':443', false, /the host is missing/],
    ['example.com:', false, /port "": expected an integer from 1 to 65535/],
    ['example.com:0', false, /port "0": expected an integer from 1 to 65535/],
    ['example.com:65536', false, /port "65536"/],
    ['example.com:http', false, /port "http"/],
    ['example.com:+53', false, /port "\+53"/],
    ['example.com:1e3', false, /port "1e3"/],
    ['example.com:65535', false, ok('example.com', 65535)],
  ];
  for (const [spec, bareIPv6, want] of table) {
    it(`${JSON.stringify(spec)}${bareIPv6 ? ' (bare IPv6 allowed)' : ''}`, () => {
      const got = parseHostPort(spec, { bareIPv6 });
      if (want instanceof RegExp) {
        assert.equal(got.ok, false, JSON.stringify(got));
        if (!got.ok) assert.match(got.why, want);
      } else assert.deepEqual(got, want);
    });
  }

  it('the problem kind tells a bad port from bad syntax', () => {
    assert.deepEqual(parseHostPort('x:0'), { ok: false, problem: 'port', why: 'port "0": expected an integer from 1 to 65535' });
    assert.equal((parseHostPort('[x') as { problem: string }).problem, 'syntax');
    assert.equal((parseHostPort('') as { problem: string }).problem, 'empty');
  });

  it('formatHostPort brackets IPv6 only', () => {
    assert.equal(formatHostPort('::1', 53), '[::1]:53');
    assert.equal(formatHostPort('ns.example', 53), 'ns.example:53');
    assert.equal(formatHostPort('192.0.2.1', 53), '192.0.2.1:53');
  });
});

describe('its users agree', () => {
  const config = (v: string): string => hostPort(new Checker({ file: '/etc/certs/certs.yaml', baseDir: '/etc/certs' }), v, ['acme', 'preflight', 'resolver'], 53);
  const propagation = (v: string): string => {
    const e = parseServerSpec(v);
    return formatHostPort(e.host, e.port);
  };

  for (const [spec, want] of [
    ['ns.example', 'ns.example:53'],
    ['ns.example:5353', 'ns.example:5353'],
    ['[::1]:5353', '[::1]:5353'],
    ['::1', '[::1]:53'],
    ['127.0.0.1', '127.0.0.1:53'],
  ] as const) {
    it(`${spec} → ${want} in the config and in propagation`, () => {
      assert.equal(config(spec), want);
      assert.equal(propagation(spec), want);
    });
  }

  for (const spec of ['ns.example:http', 'ns.example:0', 'a:b:c', '[::1', ':53']) {
    it(`${JSON.stringify(spec)} is refused by both, naming the value`, () => {
      assert.throws(() => config(spec), (e: unknown) => e instanceof Error && e.message.includes(JSON.stringify(spec)) && /acme\.preflight\.resolver/.test(e.message));
      assert.throws(() => propagation(spec), (e: unknown) => e instanceof AcmeError && e.code === 'challenge' && e.message.includes(`"${spec}"`));
    });
  }

  it('a bad port reads the same way in both', () => {
    assert.throws(() => config('ns.example:http'), /expected a port from 1 to 65535 after the colon/);
    assert.throws(() => propagation('ns.example:http'), /with a port from 1 to 65535 \(port "http"/);
  });

  it('brackets are for IPv6 addresses: "[ns.example]" is refused in the config', () => {
    assert.throws(() => config('[ns.example]'), /expected an IPv6 address inside the brackets/);
  });

  it('the Host header check uses it too, and still refuses what is not a Host value', () => {
    assert.equal(hostOf('[::1]:9464'), '::1');
    assert.equal(hostOf('localhost:9464'), 'localhost');
    assert.equal(hostOf('[localhost]'), null);
    assert.equal(hostOf(' localhost'), null);
    assert.equal(hostOf('localhost:0'), null);
  });
});
