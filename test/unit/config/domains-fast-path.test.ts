import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Checker } from '../../../src/config/kit.js';
import { domain, plainDomain } from '../../../src/config/schema-domains.js';
import type { AcmeConfig } from '../../../src/config/types.js';

const checker = new Checker({ file: '/etc/certs/certs.yaml', baseDir: '/etc/certs' });
// plainDomain ignores acme: what it accepts must come out the same whatever acme says.
const acmes: (AcmeConfig | undefined)[] = [
  undefined,
  { challenge: { type: 'http-01' } } as unknown as AcmeConfig,
  { challenge: { type: 'dns-01' }, profile: 'shortlived' } as unknown as AcmeConfig,
];

const hosts: unknown[] = [undefined, null, 'www.example.com', 'WWW.Example.com', ' www.example.com ', 'localhost', '192.0.2.1', '2001:DB8::1', '[2001:db8::1]', 'bücher.example', 'xn--bcher-kva.example', 'a_b.example', '', 7, 'host:443', 'exa mple.com'];
const ports: unknown[] = [undefined, null, 443, 8443, 0, 65536, 443.5, '443', 1, 65535];
const protocols: unknown[] = [undefined, null, 'tls', 'smtp', 'https', 'SMTP', 5];
const names: unknown[] = ['example.com', 'intranet', 'Example.com', 'example.com.', '*.example.com', '192.0.2.7', 'xn--bcher-kva.example', 'bücher.example', 'a'.repeat(64) + '.example', 'x-.example', '', 5, null, undefined];

function entries(): unknown[] {
  const out: unknown[] = [];
  for (const name of names) {
    for (const managed of [undefined, true, false, null, 'yes']) {
      for (const nginx of [undefined, false, true]) {
        out.push({ name, ...(managed !== undefined ? { managed } : {}), ...(nginx !== undefined ? { nginx } : {}) });
      }
      out.push({ name, managed, endpoints: [] }, { name, managed, endpoints: null }, { name, managed, altNames: [] }, { name, managed, altNames: ['www.example.com'] });
    }
    for (const host of hosts) out.push({ name, managed: false, endpoints: [{ host }] });
    for (const port of ports) out.push({ name, managed: false, endpoints: [{ port }] });
    for (const protocol of protocols) out.push({ name, managed: false, endpoints: [{ host: 'mail.example.com', port: 587, protocol }] });
    for (const address of hosts) out.push({ name, managed: false, endpoints: [{ address }] });
    out.push(
      { name, managed: false, endpoints: [{ host: 'a.example.com' }, { host: 'b.example.com', port: 8443, address: '192.0.2.1' }] },
      { name, managed: false, endpoints: [{ host: 'a.example.com', extra: 1 }] },
      { name, managed: false, endpoints: ['a.example.com'] },
      { name, managed: false, endpoints: 'a.example.com' },
      { name, managed: false, files: { cert: 'c.pem', key: 'k.pem' } },
      { name, typo: true },
      [name],
      name,
    );
  }
  return out;
}

/** The full check's verdict: the domain as JSON (key order included), or its message. */
function full(entry: unknown, acme: AcmeConfig | undefined): string {
  try {
    return JSON.stringify(domain(checker, entry, ['domains', 0], acme));
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

describe('config: the fast path for plain domain entries', () => {
  it('gives exactly what the full check gives for every entry it takes, and takes the plain ones', () => {
    let taken = 0;
    for (const entry of entries()) {
      const fast = plainDomain(entry);
      if (fast === undefined) continue;
      taken++;
      for (const acme of acmes) assert.equal(JSON.stringify(fast), full(entry, acme), `entry ${JSON.stringify(entry)}`);
    }
    // Not vacuous: the common shapes (plain names, ports, addresses, protocols) go the fast way.
    assert.ok(taken > 50, `only ${taken} entries took the fast path`);
    assert.deepEqual(plainDomain({ name: 'example.com', managed: false, endpoints: [{ host: 'example.com', port: 443 }] }), {
      name: 'example.com', altNames: [], managed: false, endpoints: [{ host: 'example.com', port: 443 }], nginx: false,
    });
  });

  it('leaves anything it does not take to the full check (which then reports it)', () => {
    for (const entry of [{ name: 'Example.com' }, { name: 'intranet' }, { name: 'a.example', managed: false, nginx: true }, { name: 'a.example', endpoints: [{ port: 0 }] }, { name: 'a.example', typo: 1 }]) {
      assert.equal(plainDomain(entry), undefined, JSON.stringify(entry));
    }
  });
});
