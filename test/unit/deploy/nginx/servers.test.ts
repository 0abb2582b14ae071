import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyseNginxDump } from '../../../../src/deploy/nginx/analyse.js';
import { parseNginxDump } from '../../../../src/deploy/nginx/dump.js';
import { resolveNginxIncludes } from '../../../../src/deploy/nginx/includes.js';
import { extractHttpServers, type NginxServerBlock } from '../../../../src/deploy/nginx/servers.js';
import { dump } from './dump-text.js';

describe('extractHttpServers', () => {
  it('reads listens, names, includes with their context, files and ssl lines, through includes at every level', () => {
    const a = analyseNginxDump(dump([
      ['/n/nginx.conf', [
        'events {}',
        'include http.conf;',
        'stream { server { listen 993 ssl; include s/a.conf; } }',
      ].join('\n')],
      ['/n/http.conf', [
        'http {',
        '  upstream u { server 127.0.0.1:1; }',
        '  server {',
        '    listen 443 ssl; listen [::]:443 ssl;',
        '    server_name a.test',
        '      www.a.test;',
        '    server_name "~^x$";',
        '    include s/a.conf;',
        '    location / { include s/loc.conf; }',
        '  }',
        '  include sites/*;',
        '}',
      ].join('\n')],
      ['/n/s/a.conf', 'ssl_certificate /c/a.pem; ssl_certificate_key /c/a.key; include s/inner.conf;'],
      ['/n/s/inner.conf', 'add_header X-Inner 1;'],
      ['/n/s/loc.conf', 'return 204;'],
      ['/n/sites/b', 'server { return 404; }'],
    ]));
    assert.equal(a.servers.length, 2);
    const [s, b] = a.servers as [NginxServerBlock, NginxServerBlock];
    assert.deepEqual([s.file, s.line, s.index], ['/n/http.conf', 3, 0]);
    assert.deepEqual(s.listens.map((l) => [l.key, l.ssl, l.line]), [['*:443', true, 4], ['[::]:443', true, 4]]);
    assert.deepEqual(s.serverNames, ['a.test', 'www.a.test', '~^x$']);
    assert.deepEqual(s.names.map((n) => n.kind), ['exact', 'exact', 'regex']);
    assert.deepEqual(s.includes.map((u) => [u.pattern, u.file, u.line, u.files, u.context]), [
      ['s/a.conf', '/n/http.conf', 8, ['/n/s/a.conf'], []],
      ['s/inner.conf', '/n/s/a.conf', 1, ['/n/s/inner.conf'], []],
      ['s/loc.conf', '/n/http.conf', 9, ['/n/s/loc.conf'], ['location /']],
    ]);
    assert.deepEqual(s.files, ['/n/s/a.conf', '/n/s/inner.conf', '/n/s/loc.conf']);
    assert.deepEqual(s.sslDirectives.map((x) => [x.name, x.value, x.file]), [['ssl_certificate', '/c/a.pem', '/n/s/a.conf'], ['ssl_certificate_key', '/c/a.key', '/n/s/a.conf']]);
    // No listen: nginx's *:80; no server_name: "".
    assert.deepEqual([b.file, b.line, b.listens[0]?.key, b.listens[0]?.implicit, b.serverNames], ['/n/sites/b', 1, '*:80', true, ['']]);
    assert.deepEqual(a.groups.map((g) => [g.key, g.tls, g.servers.length]), [['*:443', true, 1], ['[::]:443', true, 1], ['*:80', false, 1]]);
  });

  it('ignores server blocks outside http', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([['/n/nginx.conf', 'mail { server { listen 25; } } stream { server { listen 1; } }']])));
    assert.deepEqual(extractHttpServers(r.directives), []);
  });
});
