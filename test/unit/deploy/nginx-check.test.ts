import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import { checkSnippetIncludes, type SnippetCheck, type SnippetDomain } from '../../../src/deploy/nginx-check.js';

const S = '/etc/nginx/snippets/certs';
const A: SnippetDomain = { name: 'a.test', names: ['a.test', 'www.a.test'], snippet: `${S}/a.test.conf` };
const B: SnippetDomain = { name: 'b.test', names: ['b.test'], snippet: `${S}/b.test.conf` };

/** A dump: nginx.conf wraps `http` around the given text; other files as given; snippets exist for A and B. */
function dump(http: string, files: Array<[string, string]> = []): string {
  const all: Array<[string, string]> = [
    ['/etc/nginx/nginx.conf', `events {}\nhttp {\n${http}\n}\n`],
    ...files,
    [`${S}/a.test.conf`, 'ssl_certificate /var/lib/certs/a.test/current/fullchain.pem;\nssl_certificate_key /var/lib/certs/a.test/current/privkey.pem;\n'],
    [`${S}/b.test.conf`, 'ssl_certificate /var/lib/certs/b.test/current/fullchain.pem;\nssl_certificate_key /var/lib/certs/b.test/current/privkey.pem;\n'],
  ];
  return all.map(([p, c]) => `# configuration file ${p}:\n${c}\n`).join('');
}

function check(text: string, domains: SnippetDomain[] = [A]): SnippetCheck[] {
  return checkSnippetIncludes({ dump: text, domains }).domains;
}

const codes = (r: SnippetCheck | undefined): string[] => (r?.problems ?? []).map((p) => `${p.code}${p.name ? `:${p.name}` : ''}`);

describe('checkSnippetIncludes', () => {
  it('one TLS block serving both names and including the snippet: included, no problem', () => {
    const [r] = check(dump(`server {\n  listen 443 ssl;\n  listen [::]:443 ssl;\n  server_name a.test www.a.test;\n  include ${S}/a.test.conf;\n}`));
    assert.ok(r);
    assert.equal(r.included, true);
    assert.deepEqual(r.problems, []);
    assert.equal(r.problem, undefined);
    assert.equal(r.fix, undefined);
    assert.deepEqual(r.servers, [{ file: '/etc/nginx/nginx.conf', line: 3, listens: ['443 ssl', '[::]:443 ssl'], serverNames: ['a.test', 'www.a.test'], tls: true, includes: 1, serves: ['a.test', 'www.a.test'] }]);
    assert.deepEqual(r.names.map((n) => [n.name, n.ok, n.servedBy.map((x) => `${x.listen}=${x.file}:${x.line}/${x.by}`)]), [
      ['a.test', true, ['*:443=/etc/nginx/nginx.conf:3/exact', '[::]:443=/etc/nginx/nginx.conf:3/exact']],
      ['www.a.test', true, ['*:443=/etc/nginx/nginx.conf:3/exact', '[::]:443=/etc/nginx/nginx.conf:3/exact']],
    ]);
  });

  it('names split over two blocks: the block without the include is named, with the exact line and place', () => {
    const [r] = check(dump('include /etc/nginx/sites/*.conf;', [
      ['/etc/nginx/sites/a.conf', `server { listen 443 ssl; server_name a.test; include snippets/certs/a.test.conf; }\n\nserver {\n  listen 443 ssl;\n  server_name www.a.test;\n  ssl_certificate /old/www.pem;\n  ssl_certificate_key /old/www.key;\n}`],
    ]));
    assert.ok(r);
    assert.equal(r.included, false);
    assert.deepEqual(codes(r), ['not-included:www.a.test']);
    assert.equal(r.problem, '"www.a.test": served over TLS on *:443 by the server block at /etc/nginx/sites/a.conf:3 (server_name www.a.test), which does not include /etc/nginx/snippets/certs/a.test.conf');
    assert.equal(r.fix, 'add "include /etc/nginx/snippets/certs/a.test.conf;" inside the server block at /etc/nginx/sites/a.conf:3, and remove its own ssl_certificate/ssl_certificate_key lines (/etc/nginx/sites/a.conf:6, /etc/nginx/sites/a.conf:7)');
    assert.deepEqual([r.problems[0]?.file, r.problems[0]?.line], ['/etc/nginx/sites/a.conf', 3]);
    assert.deepEqual(r.names.map((n) => [n.name, n.ok]), [['a.test', true], ['www.a.test', false]]);
    assert.deepEqual(r.servers.map((s) => [s.line, s.includes, s.serves]), [[1, 1, ['a.test']], [3, 0, ['www.a.test']]]);
  });

  it('no TLS block for the names: one server block to add, naming the plain-HTTP block that serves them', () => {
    const [r] = check(dump(`server { listen 80; server_name a.test www.a.test; return 301 https://$host$request_uri; }`));
    assert.ok(r);
    assert.equal(r.included, false);
    assert.deepEqual(codes(r), ['no-tls-server:a.test', 'no-tls-server:www.a.test']);
    assert.match(r.problem ?? '', /^"a\.test": no server block listening with ssl has a server_name for it \(the server block at \/etc\/nginx\/nginx\.conf:3 serves it without TLS\)$/m);
    assert.equal(r.fix, `add a server block: server { listen 443 ssl; server_name a.test www.a.test; include ${S}/a.test.conf; … }`);
  });

  it('nothing at all for the domain', () => {
    const [r] = check(dump('server { listen 443 ssl; server_name other.test; }'));
    assert.ok(r);
    assert.deepEqual(codes(r), ['no-tls-server:a.test', 'no-tls-server:www.a.test']);
    assert.deepEqual(r.servers, []);
    assert.equal(r.problem, '"a.test": no server block listening with ssl has a server_name for it\n"www.a.test": no server block listening with ssl has a server_name for it');
  });

  it('included only in a block that does not listen with ssl', () => {
    const [r] = check(dump(`server { listen 8080; server_name a.test www.a.test; include ${S}/a.test.conf; }`));
    assert.ok(r);
    assert.equal(r.included, false);
    assert.deepEqual(codes(r), ['no-tls-server:a.test', 'no-tls-server:www.a.test', 'included-without-tls']);
    assert.match(r.problem ?? '', /is included in the server block at \/etc\/nginx\/nginx\.conf:3, which does not listen with ssl \(listen 8080\)/);
    assert.match(r.fix ?? '', /add "listen 443 ssl;" to the server block at \/etc\/nginx\/nginx\.conf:3, or remove the include there/);
    assert.deepEqual(r.servers.map((s) => [s.tls, s.includes, s.serves]), [[false, 1, ['a.test', 'www.a.test']]]);
  });

  it('a block without ssl on an address:port where another block has ssl does speak TLS', () => {
    const [r] = check(dump(`server { listen 127.0.0.1:443 ssl default_server; server_name _; ssl_certificate /x.pem; ssl_certificate_key /x.key; }\nserver { listen 127.0.0.1:443; server_name a.test www.a.test; include ${S}/a.test.conf; }`));
    assert.ok(r);
    assert.equal(r.included, true);
    assert.deepEqual(codes(r), []);
  });

  it('included twice in one block (directly and through a glob): a warning, still included', () => {
    const [r] = check(dump(`server {\n  listen 443 ssl;\n  server_name a.test www.a.test;\n  include ${S}/a.test.conf;\n  include snippets/certs/a*.conf;\n}`));
    assert.ok(r);
    assert.equal(r.included, true);
    assert.deepEqual(codes(r), ['included-twice']);
    assert.equal(r.problems[0]?.message, `${S}/a.test.conf is included 2 times in the server block at /etc/nginx/nginx.conf:3: /etc/nginx/nginx.conf:6 (include ${S}/a.test.conf), /etc/nginx/nginx.conf:7 (include snippets/certs/a*.conf)`);
    assert.equal(r.servers[0]?.includes, 2);
  });

  it('a glob over the snippet folder in one block: both domains included, each warned about the other', () => {
    const [ra, rb] = check(dump('server { listen 443 ssl; server_name a.test www.a.test b.test; include snippets/certs/*.conf; }'), [A, B]);
    assert.ok(ra && rb);
    assert.deepEqual([ra.included, rb.included], [true, true]);
    assert.deepEqual(codes(ra), ['shared-block']);
    assert.match(ra.problem ?? '', /also includes the snippet of "b\.test": nginx serves one certificate per key type there, the last one/);
    assert.match(rb.problem ?? '', /also includes the snippet of "a\.test"/);
  });

  it('an include through another file counts at server level', () => {
    const [r] = check(dump('server { listen 443 ssl; server_name .a.test; include common/tls.conf; }', [
      ['/etc/nginx/common/tls.conf', `ssl_protocols TLSv1.2 TLSv1.3;\ninclude ${S}/a.test.conf;\n`],
    ]));
    assert.ok(r);
    assert.equal(r.included, true);
    assert.deepEqual(r.names.map((n) => n.servedBy.map((x) => x.by)), [['exact'], ['head']]);
  });

  it('a later duplicate server_name on the same address is ignored by nginx, so the first block serves it', () => {
    const [r] = check(dump(`server { listen 443 ssl; server_name a.test www.a.test; include ${S}/a.test.conf; }\nserver { listen 443 ssl; server_name www.a.test; include ${S}/b.test.conf; }`));
    assert.deepEqual([r?.included, codes(r)], [true, []]);
    const [b] = check(dump(`server { listen 443 ssl; server_name a.test www.a.test; ssl_certificate /x.pem; ssl_certificate_key /x.key; }\nserver { listen 443 ssl; server_name www.a.test a.test; include ${S}/a.test.conf; }`));
    assert.deepEqual(codes(b), ['not-included:a.test', 'not-included:www.a.test', 'included-elsewhere']);
    assert.match(b?.problem ?? '', /^"a\.test": served over TLS on \*:443 by the server block at \/etc\/nginx\/nginx\.conf:3 \(server_name a\.test www\.a\.test\), which does not include \/etc\/nginx\/snippets\/certs\/a\.test\.conf \(nginx ignores "server_name a\.test" in the block at \/etc\/nginx\/nginx\.conf:4: the name is already taken on that address\)$/m);
  });

  it('nginx\'s precedence decides: an exact block without the snippet beats a regex block with it', () => {
    const [r] = check(dump(`server { listen 443 ssl; server_name ~^(www\\.)?a\\.test$; include ${S}/a.test.conf; }\nserver { listen 443 ssl; server_name www.a.test; ssl_certificate /x.pem; ssl_certificate_key /x.key; }`));
    assert.ok(r);
    assert.equal(r.included, false);
    assert.deepEqual(codes(r), ['not-included:www.a.test']);
    assert.deepEqual(r.names.map((n) => n.servedBy.map((x) => `${x.line}/${x.by}/${x.includesSnippet}`)), [['3/regex/true'], ['4/exact/false']]);
  });

  it('one address served by another block: the address is named', () => {
    const [r] = check(dump(`server { listen 127.0.0.1:443 ssl; server_name a.test www.a.test; include ${S}/a.test.conf; }\nserver { listen [::1]:443 ssl; server_name www.a.test; include ${S}/b.test.conf; }`));
    assert.ok(r);
    assert.deepEqual(codes(r), ['not-included:www.a.test']);
    assert.deepEqual(r.names.map((n) => [n.name, n.ok, n.servedBy.map((x) => x.listen)]), [['a.test', true, ['127.0.0.1:443']], ['www.a.test', false, ['127.0.0.1:443', '[::1]:443']]]);
    assert.match(r.problem ?? '', /"www\.a\.test": served over TLS on \[::1\]:443 by the server block at \/etc\/nginx\/nginx\.conf:4/);
  });

  it('a wildcard name is checked with a probe name under it', () => {
    const W: SnippetDomain = { name: 'a.test', names: ['a.test', '*.a.test'], snippet: `${S}/a.test.conf` };
    const ok = check(dump(`server { listen 443 ssl; server_name a.test *.a.test; include ${S}/a.test.conf; }`), [W])[0];
    assert.deepEqual([ok?.included, codes(ok)], [true, []]);
    const dot = check(dump(`server { listen 443 ssl; server_name .a.test; include ${S}/a.test.conf; }`), [W])[0];
    assert.deepEqual([dot?.included, codes(dot)], [true, []]);
    const only = check(dump(`server { listen 443 ssl; server_name a.test www.a.test; include ${S}/a.test.conf; }`), [W])[0];
    assert.deepEqual([only?.included, codes(only)], [false, ['no-tls-server:*.a.test']]);
  });

  it('included in a block that serves none of the names', () => {
    const [r] = check(dump(`server { listen 443 ssl; server_name a.test www.a.test; include ${S}/a.test.conf; }\nserver { listen 443 ssl; server_name c.test; include ${S}/a.test.conf; }`));
    assert.ok(r);
    assert.equal(r.included, true);
    assert.deepEqual(codes(r), ['included-elsewhere']);
    assert.match(r.problem ?? '', /server block at \/etc\/nginx\/nginx\.conf:4 \(server_name c\.test\), which nginx uses for none of a\.test's names/);
  });

  it('included inside a location, or at http level: not at server level', () => {
    const [r] = check(dump(`include ${S}/a.test.conf;\nserver { listen 443 ssl; server_name a.test www.a.test; location / { include ${S}/a.test.conf; } }`));
    assert.ok(r);
    assert.equal(r.included, false);
    assert.deepEqual(codes(r), ['not-included:a.test', 'not-included:www.a.test', 'included-outside-server', 'included-outside-server']);
    assert.match(r.problem ?? '', /is included inside "location \/" at \/etc\/nginx\/nginx\.conf:4, not at the server block's own level/);
    assert.match(r.problem ?? '', /is included at \/etc\/nginx\/nginx\.conf:3 inside "http", outside any server block/);
  });

  it('a server_name regex JavaScript cannot compile is reported, not guessed', () => {
    const [r] = check(dump(`server { listen 443 ssl; server_name ~^(www)++\\.a\\.test$; }\nserver { listen 443 ssl; server_name a.test www.a.test; include ${S}/a.test.conf; }`));
    assert.ok(r);
    // The exact names win before any regex is tried, so nothing is uncertain here.
    assert.deepEqual(codes(r), []);
    const [u] = check(dump(`server { listen 443 ssl; server_name ~^(www)++\\.a\\.test$; }\nserver { listen 443 ssl; server_name ~^(www\\.)?a\\.test$; include ${S}/a.test.conf; }`));
    assert.deepEqual(codes(u), ['uncertain-regex:a.test', 'uncertain-regex:www.a.test']);
    assert.equal(u?.included, true);
  });

  it('a snippet path needing quotes gets a quoted include line', () => {
    const D: SnippetDomain = { name: 'a.test', names: ['a.test'], snippet: '/etc/nginx/my snippets/a.test.conf' };
    const [r] = check(dump('server { listen 443 ssl; server_name a.test; }'), [D]);
    assert.equal(r?.fix, 'add "include "/etc/nginx/my snippets/a.test.conf";" inside the server block at /etc/nginx/nginx.conf:3');
  });

  it('names match case-insensitively and without a trailing dot', () => {
    const D: SnippetDomain = { name: 'A.test', names: ['A.Test.'], snippet: `${S}/a.test.conf` };
    const [r] = check(dump(`server { listen 443 ssl; server_name A.TEST; include ${S}/a.test.conf; }`), [D]);
    assert.equal(r?.included, true);
  });

  it('dump warnings are passed on; bad input throws ValidationError', () => {
    const rep = checkSnippetIncludes({ dump: dump('include missing.conf;'), domains: [] });
    assert.deepEqual(rep.warnings, ['/etc/nginx/nginx.conf:3: include missing.conf: /etc/nginx/missing.conf is not in the nginx -T output (was the dump taken from another configuration?)']);
    assert.deepEqual([rep.files, rep.serverBlocks], [3, 0]);
    assert.throws(() => checkSnippetIncludes({ dump: 'nginx: [emerg] bad', domains: [A] }), ValidationError);
  });
});
