// The endpoint `protocol` field (issue 12 §2): validated with a clear error, `tls` is the default
// and is not kept (an endpoint reads the same whether or not it says tls), and `certs add`'s
// smtp://… endpoints are written to the YAML with their protocol and read back the same.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import { addDomain } from '../../../src/config/edit.js';
import { parseEndpointSpec } from '../../../src/lib/host-port.js';
import { endpointKey, targetsOf } from '../../../src/core/report.js';

let dir: string;
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-protocol-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(text: string): string {
  const file = join(dir, `c${++seq}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('endpoint protocol', () => {
  it('accepts every protocol; tls is the default and is not kept', () => {
    const config = loadConfig(write(`domains:
  - name: mail.example.com
    managed: false
    endpoints:
      - {port: 587, protocol: smtp}
      - {port: 143, protocol: imap}
      - {port: 110, protocol: pop3}
      - {port: 21, protocol: ftp}
      - {port: 389, protocol: ldap}
      - {port: 5432, protocol: postgres}
      - {port: 5222, protocol: xmpp}
      - {port: 993, protocol: tls}
      - {port: 465}
`), { env: {} });
    const eps = config.domains[0]!.endpoints;
    assert.deepEqual(eps.map((e) => e.protocol ?? '-'), ['smtp', 'imap', 'pop3', 'ftp', 'ldap', 'postgres', 'xmpp', '-', '-']);
    assert.deepEqual(eps[7], { host: 'mail.example.com', port: 993 });
  });

  it('refuses an unknown protocol, naming the key, the value and the choices', () => {
    const file = write('domains:\n  - name: mail.example.com\n    endpoints: [{port: 587, protocol: stmp}]\n');
    assert.throws(() => loadConfig(file, { env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.keyPath, 'domains[0].endpoints[0].protocol');
      assert.match(e.message, /expected one of tls, smtp, imap, pop3, ftp, ldap, postgres, xmpp \(did you mean "smtp"\?\), got "stmp"/);
      return true;
    });
  });

  it('explains that smtps, imaps and the like are protocol tls', () => {
    const file = write('domains:\n  - name: mail.example.com\n    endpoints: [{port: 465, protocol: smtps}]\n');
    assert.throws(() => loadConfig(file, { env: {} }), /domains\[0\]\.endpoints\[0\]\.protocol: "smtps" is TLS from the first byte: that is protocol tls \(the default\), on port 465/);
  });

  it('is not part of the endpoint identity: the key of a tls endpoint is unchanged, and one host:port is listed once', () => {
    const config = loadConfig(write('domains:\n  - name: mail.example.com\n    endpoints: [{port: 587, protocol: smtp}]\n'), { env: {} });
    const [target] = targetsOf(config.domains);
    assert.equal(target?.protocol, 'smtp');
    assert.equal(endpointKey({ ...target!, domain: 'mail.example.com' }), 'tls|mail.example.com|mail.example.com|587|');
    const twice = write('domains:\n  - name: mail.example.com\n    endpoints: [{port: 587, protocol: smtp}, {port: 587}]\n');
    assert.throws(() => loadConfig(twice, { env: {} }), /endpoint mail\.example\.com:587 is already listed/);
  });

  it('certs add -e smtp://… writes the protocol and reads back the same', () => {
    const file = write('domains: []\n');
    addDomain(file, { name: 'mail.example.com', monitorOnly: true, endpoints: [parseEndpointSpec('smtp://mail.example.com:587'), parseEndpointSpec('imaps://mail.example.com')] });
    assert.match(readFileSync(file, 'utf8'), /- \{ ?host: mail\.example\.com, port: 587, protocol: smtp ?\}\n/);
    assert.deepEqual(loadConfig(file, { env: {} }).domains[0]!.endpoints, [
      { host: 'mail.example.com', port: 587, protocol: 'smtp' },
      { host: 'mail.example.com', port: 993 },
    ]);
  });
});
