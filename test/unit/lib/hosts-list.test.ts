// The hosts list of `certs import hosts`: host[:port] and ssl-cert-check's "host port" lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHostsList } from '../../../src/lib/hosts-list.js';

describe('parseHostsList', () => {
  it('reads both formats, skips comments and blank lines, defaults to port 443', () => {
    const r = parseHostsList('# ssl-cert-check\n\nwww.example.com 443\n  mail.example.com   993  # IMAPS\nexample.org:8443\nEXAMPLE.net\n[2001:DB8::1]:636\n192.0.2.1 465\r\nlocalhost\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.entries, [
      { line: 3, host: 'www.example.com', port: 443 },
      { line: 4, host: 'mail.example.com', port: 993 },
      { line: 5, host: 'example.org', port: 8443 },
      { line: 6, host: 'example.net', port: 443 },
      { line: 7, host: '2001:db8::1', port: 636 },
      { line: 8, host: '192.0.2.1', port: 465 },
      { line: 9, host: 'localhost', port: 443 },
    ]);
  });

  it('reads ssl-cert-check\'s "PATH FILE" lines as certificate files', () => {
    const r = parseHostsList('/etc/ssl/a.pem FILE\nssl/b.pem FILE\n');
    assert.deepEqual(r.files, [{ line: 1, path: '/etc/ssl/a.pem' }]);
    assert.deepEqual(r.errors.map((e) => [e.line, e.reason]), [[2, 'a certificate file needs an absolute path, got "ssl/b.pem"']]);
  });

  const bad: Array<[string, RegExp]> = [
    ['a b c', /3 words/],
    ['a.example:0', /port "0"/],
    ['a.example 70000', /port "70000"/],
    ['a.example:443 443', /port is given twice/],
    ['2001:db8::1', /IPv6 addresses need brackets/],
    ['[2001:db8::1', /missing "\]"/],
    ['bad_host.example', /underscores/],
    ['999.1.1.1', /invalid IPv4 address/],
    ['a.example https', /port "https"/],
  ];
  for (const [line, reason] of bad) {
    it(`refuses ${JSON.stringify(line)} with its line number`, () => {
      const r = parseHostsList(`ok.example\n${line}\n`);
      assert.deepEqual(r.entries.map((e) => e.host), ['ok.example']);
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.line, 2);
      assert.equal(r.errors[0]!.text, line);
      assert.match(r.errors[0]!.reason, reason);
    });
  }
});
