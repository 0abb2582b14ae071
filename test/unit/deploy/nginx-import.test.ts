// The pure mapping behind `certs import nginx`: `nginx -T` text → domains (names, endpoints,
// files) and what was skipped. Written dumps, so every listen form can be covered, wildcards
// included (the integration test serves loopback only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certNamesOf, domainsFromNginxDump } from '../../../src/deploy/nginx-import.js';

const dump = (files: Record<string, string>): string => Object.entries(files).map(([path, text]) => `# configuration file ${path}:\n${text}\n`).join('\n');

describe('domainsFromNginxDump', () => {
  const text = dump({
    '/etc/nginx/nginx.conf': `events {}
http {
  ssl_certificate /etc/ssl/fallback.pem;      # inherited by blocks without their own
  ssl_certificate_key /etc/ssl/fallback.key;
  include sites/*.conf;
  server { listen 80; server_name plain.example; }
}`,
    '/etc/nginx/sites/a.conf': `server {
  listen 443 ssl http2;
  listen [::]:443 ssl;
  listen 192.0.2.7:8443 ssl default_server;
  listen [2001:DB8::7]:8443 ssl;
  listen 443 quic;
  listen unix:/run/a.sock ssl;
  server_name a.example "*.a.example" .b.example www.a.example ~^x\\d+$ c.example.*;
  ssl_certificate certs/a.pem;
  ssl_certificate_key /etc/ssl/private/a.key;
  ssl_certificate /etc/ssl/a-rsa.pem;
}`,
    '/etc/nginx/sites/b.conf': `server {
  listen 127.0.0.1:443 ssl;
  server_name shared-1.example;
  ssl_certificate /etc/ssl/shared.pem;
  ssl_certificate_key /etc/ssl/shared.key;
}
server {
  listen [::1]:443 ssl;
  listen 127.0.0.1:443 ssl;
  server_name shared-2.example shared-1.example;
  ssl_certificate /etc/ssl/shared.pem;
  ssl_certificate_key /etc/ssl/shared.key;
}`,
    '/etc/nginx/sites/c.conf': `server { listen 443 ssl; server_name _; ssl_certificate /etc/ssl/default.pem; ssl_certificate_key /etc/ssl/default.key; }
server { listen 443 ssl; server_name dyn.example; ssl_certificate /etc/ssl/$ssl_server_name.pem; ssl_certificate_key /etc/ssl/$ssl_server_name.key; }
server { listen 443; server_name tls-by-group.example; }
server { listen 8080; server_name nossl.example; ssl_certificate /etc/ssl/nossl.pem; }
server { listen 443 ssl; server_name "*.wild.example"; ssl_certificate /etc/ssl/wild.pem; }`,
  });
  const result = domainsFromNginxDump(text);
  const byName = new Map(result.domains.map((d) => [d.name, d]));

  it('one domain per certificate file, from the TLS server blocks only', () => {
    assert.deepEqual([...byName.keys()], ['a.example', 'shared-1.example', 'tls-by-group.example']);
    assert.equal(result.serverBlocks, 9);
    assert.equal(result.tlsServerBlocks, 7, 'not plain.example (port 80) nor nossl.example (8080, ssl_certificate but no ssl listen)');
  });

  it('names: the first DNS name is primary; *.x kept, .x as x and *.x; _, regexes and x.* left out', () => {
    const a = byName.get('a.example')!;
    assert.deepEqual(a.altNames, ['*.a.example', 'b.example', '*.b.example', 'www.a.example']);
    const skipped = result.skipped.map((s) => `${s.what}: ${s.reason}`).join('\n');
    assert.match(skipped, /server_name "~\^x.* not a certificate name: a regular expression/);
    assert.match(skipped, /server_name "c\.example\.\*" .*trailing wildcard/);
  });

  it('endpoints: one per TLS address and port; wildcards dialled without an address; QUIC and unix left out', () => {
    assert.deepEqual(byName.get('a.example')!.endpoints, [
      { host: 'a.example', port: 443 },
      { host: 'a.example', port: 8443, address: '192.0.2.7' },
      { host: 'a.example', port: 8443, address: '2001:db8::7' },
    ]);
    assert.match(result.skipped.map((s) => s.reason).join('\n'), /listen unix:\/run\/a\.sock ssl cannot be dialled/);
  });

  it('files: relative paths resolved against the main file, the first certificate of several kept', () => {
    assert.deepEqual(byName.get('a.example')!.files, { cert: '/etc/nginx/certs/a.pem', key: '/etc/ssl/private/a.key' });
    assert.match(result.skipped.map((s) => s.reason).join('\n'), /more than one ssl_certificate; importing the first \(\/etc\/nginx\/certs\/a\.pem\)/);
  });

  it('two blocks sharing a certificate file make one domain, each endpoint dialled with its block\'s name', () => {
    const s = byName.get('shared-1.example')!;
    assert.deepEqual(s.altNames, ['shared-2.example']);
    assert.deepEqual(s.endpoints, [
      { host: 'shared-1.example', port: 443, address: '127.0.0.1' },
      { host: 'shared-2.example', port: 443, address: '::1' },
      { host: 'shared-2.example', port: 443, address: '127.0.0.1' },
    ]);
    assert.deepEqual(s.sources, ['/etc/nginx/sites/b.conf:1', '/etc/nginx/sites/b.conf:7']);
  });

  it('a block on a TLS address:port without ssl of its own inherits http-level certificate files', () => {
    const t = byName.get('tls-by-group.example')!;
    assert.deepEqual(t.files, { cert: '/etc/ssl/fallback.pem', key: '/etc/ssl/fallback.key' });
    assert.deepEqual(t.endpoints, [{ host: 'tls-by-group.example', port: 443 }]);
  });

  it('skips, with the reason, blocks without a usable name and certificates chosen at run time', () => {
    const reasons = result.skipped.map((s) => s.reason);
    assert.ok(reasons.some((r) => r.startsWith('no server_name certs can scan ("_")')), reasons.join('\n'));
    assert.ok(reasons.some((r) => r.startsWith('no server_name certs can scan ("*.wild.example")')), reasons.join('\n'));
    assert.ok(reasons.some((r) => /\$ssl_server_name\.pem.*chosen at run time/.test(r)), reasons.join('\n'));
    assert.ok(result.skipped.every((s) => s.file && s.line && s.line > 0));
  });

  it('refuses text that is not a dump', () => {
    assert.throws(() => domainsFromNginxDump('nginx: [emerg] unknown directive'), /does not look like the output of nginx -T/);
  });
});

describe('certNamesOf', () => {
  const cases: Array<[string, string[], RegExp?]> = [
    ['Example.COM', ['example.com']],
    ['example.com.', ['example.com']],
    ['*.example.com', ['*.example.com']],
    ['.example.com', ['example.com', '*.example.com']],
    ['bücher.example', ['xn--bcher-kva.example']],
    ['_', [], /catch-all/],
    ['', [], /catch-all/],
    ['~^www\\.', [], /regular expression/],
    ['www.example.*', [], /trailing wildcard/],
    ['192.0.2.1', [], /IP address/],
    ['$hostname', [], /variable/],
    ['under_score.example', [], /underscores/],
  ];
  for (const [raw, names, reason] of cases) {
    it(JSON.stringify(raw), () => {
      const r = certNamesOf(raw);
      assert.deepEqual(r.names, names);
      if (reason) assert.match(r.reason ?? '', reason);
      else assert.equal(r.reason, undefined);
    });
  }
});
