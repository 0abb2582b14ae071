import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../src/core/errors.js';
import {
  analyseNginxDump,
  compilePcre,
  extractHttpServers,
  matchNginxGlob,
  parseListen,
  parseNginxConfig,
  parseNginxDump,
  parseServerName,
  resolveNginxIncludes,
  selectServer,
  serverNameMatches,
  type NginxDirective,
  type NginxServerBlock,
} from '../../../src/core/nginx-conf.js';

/** A dump the way nginx -T prints it: header, content, one extra newline. */
function dump(files: Array<[path: string, content: string]>): string {
  return files.map(([p, c]) => `# configuration file ${p}:\n${c}\n`).join('');
}

/** Directives as [name, ...args] with blocks as nested arrays, for compact expectations. */
type Shape = Array<string | Shape[]>;
function shape(list: NginxDirective[]): Shape[] {
  return list.map((d) => (d.block ? [d.name, ...d.args, shape(d.block)] : [d.name, ...d.args]) as Shape);
}

describe('parseNginxConfig: tokens as nginx reads them', () => {
  const cases: Array<[string, string, Shape[]]> = [
    ['plain directives', 'a b c;\nd;', [['a', 'b', 'c'], ['d']]],
    ['blocks, nested and empty', 'http { server { listen 80; } events {} }', [['http', [['server', [['listen', '80']]], ['events', []]]]]],
    ['no space before { or ;', 'server{listen 80;}', [['server', [['listen', '80']]]]],
    ['double and single quotes keep spaces', `server_name "a b" 'c d';`, [['server_name', 'a b', 'c d']]],
    ['escaped quotes and backslash', `x "a\\"b" 'c\\'d' "e\\\\f";`, [['x', 'a"b', "c'd", 'e\\f']]],
    ['\\t \\r \\n become controls, other escapes stay', 'x "1\\t2\\n3\\r" "\\d\\." a\\.b;', [['x', '1\t2\n3\r', '\\d\\.', 'a\\.b']]],
    ['braces and ; inside quotes', 'return 200 "x;{}";', [['return', '200', 'x;{}']]],
    ['comment containing braces and ;', 'a; # } { ; "\nb { # {\n}', [['a'], ['b', []]]],
    ['# inside a word is not a comment', 'a b#c;', [['a', 'b#c']]],
    ['${var} inside a word does not open a block', 'set $x ${host}abc;', [['set', '$x', '${host}abc']]],
    ['} inside a word belongs to it', 'a b};', [['a', 'b}']]],
    ['escaped space joins a word (backslash kept)', 'a b\\ c;', [['a', 'b\\ c']]],
    ['quote in the middle of a word is literal', `a b"c'd;`, [['a', `b"c'd`]]],
    ['if with ) right after a quote', 'if ($a = "b") { return 404; }', [['if', '($a', '=', 'b', ')', [['return', '404']]]]],
    ['quoted directive name and empty string', `"listen" '' "";`, [['listen', '', '']]],
    ['CRLF line endings', 'a 1;\r\nb {\r\n  c;\r\n}\r\n', [['a', '1'], ['b', [['c']]]]],
    ['multi-line quoted value', 'a "x\ny";\nb;', [['a', 'x\ny'], ['b']]],
    ['empty file and comment-only file', '# nothing {\n', []],
  ];
  for (const [title, text, expected] of cases) {
    it(title, () => assert.deepEqual(shape(parseNginxConfig(text, '/t.conf')), expected));
  }

  it('records the line of each directive\'s first word', () => {
    const t = parseNginxConfig('a "x\ny";\n\n  server {\n    listen\n      443;\n  }\n', '/t.conf');
    assert.deepEqual(t.map((d) => d.line), [1, 4]);
    assert.equal(t[1]?.block?.[0]?.line, 5);
    assert.equal(t[1]?.file, '/t.conf');
  });

  const errors: Array<[string, string, RegExp]> = [
    ['unterminated quote', 'a "b;', /\/t\.conf:1: unexpected end of file, expecting ";" or "}"/],
    ['missing ;', 'a b', /unexpected end of file, expecting ";"/],
    ['stray }', 'a;\n}', /\/t\.conf:2: unexpected "}"/],
    ['} right after words', 'a b }', /unexpected "}"/],
    ['unclosed block', 'http {\n  server {\n', /expecting "}" \(the block "server" opened at line 2/],
    ['lone ;', ';', /unexpected ";"/],
    ['lone {', '{ }', /unexpected "{"/],
    ['text glued after a quote', 'a "b"c;', /unexpected "c"/],
  ];
  for (const [title, text, re] of errors) {
    it(`refuses: ${title}`, () => assert.throws(() => parseNginxConfig(text, '/t.conf'), (e: unknown) => e instanceof ValidationError && re.test(e.message)));
  }

  it('bounds nesting: 50 blocks pass, 51 do not', () => {
    const nest = (n: number): string => `${'a {'.repeat(n)}${'}'.repeat(n)}`;
    assert.doesNotThrow(() => parseNginxConfig(nest(50), '/t.conf'));
    assert.throws(() => parseNginxConfig(nest(51), '/t.conf'), /nested deeper than 50/);
  });

  it('bounds the number of directives and the size', () => {
    assert.throws(() => parseNginxConfig('a;b;c;d;', '/t.conf', { maxDirectives: 3 }), /more than 3 directives/);
    assert.throws(() => parseNginxConfig('a;b;', '/t.conf', { maxChars: 3 }), /refusing more than 3/);
  });
});

describe('parseNginxDump', () => {
  it('splits files, keeps each file\'s own line numbers and the main file\'s folder', () => {
    const d = parseNginxDump(dump([
      ['/etc/nginx/nginx.conf', 'events {}\nhttp {\n  include conf.d/*.conf;\n}'],
      ['/etc/nginx/conf.d/a.conf', '\nserver { listen 80; }'],
    ]));
    assert.equal(d.main, '/etc/nginx/nginx.conf');
    assert.equal(d.confPrefix, '/etc/nginx/');
    assert.deepEqual(d.files.map((f) => [f.path, f.dumpLine]), [['/etc/nginx/nginx.conf', 1], ['/etc/nginx/conf.d/a.conf', 6]]);
    assert.equal(d.files[1]?.directives[0]?.line, 2);
    assert.equal(d.files[1]?.directives[0]?.file, '/etc/nginx/conf.d/a.conf');
  });

  it('a header line repeating a printed path is a comment inside the file', () => {
    const d = parseNginxDump(dump([
      ['/n/nginx.conf', 'a;\n'],
      ['/n/b.conf', '# configuration file /n/nginx.conf:\nb;'],
    ]));
    assert.equal(d.files.length, 2);
    assert.deepEqual(shape(d.files[1]?.directives ?? []), [['b']]);
  });

  it('a file without a trailing newline and an empty file', () => {
    const d = parseNginxDump('# configuration file /n/nginx.conf:\na;\n# configuration file /n/empty.conf:\n\n# configuration file /n/c.conf:\nc;');
    assert.deepEqual(d.files.map((f) => shape(f.directives)), [[['a']], [], [['c']]]);
  });

  it('refuses text that is not nginx -T output, and oversized input', () => {
    assert.throws(() => parseNginxDump('events {}\n'), /does not look like the output of nginx -T/);
    assert.throws(() => parseNginxDump(`nginx: [emerg] x\n${dump([['/n/nginx.conf', 'a;']])}`), /text before the first/);
    assert.throws(() => parseNginxDump(dump([['/n/nginx.conf', 'a;']]), { maxChars: 10 }), /refusing more than 10/);
    assert.throws(() => parseNginxDump(dump([['/n/nginx.conf', 'http {']])), (e: unknown) => e instanceof ValidationError && /\/n\/nginx\.conf:\d+: unexpected end of file/.test(e.message));
  });
});

describe('matchNginxGlob', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/e/conf.d/*.conf', '/e/conf.d/a.conf', true],
    ['/e/conf.d/*.conf', '/e/conf.d/a.conf.bak', false],
    ['/e/conf.d/*.conf', '/e/conf.d/sub/a.conf', false],
    ['/e/conf.d/*.conf', '/e/conf.d/.hidden.conf', false],
    ['/e/conf.d/.*.conf', '/e/conf.d/.hidden.conf', true],
    ['/e/conf.d/*', '/e/conf.d/a', true],
    ['/e/*/x.conf', '/e/sites/x.conf', true],
    ['/e/s?.conf', '/e/s1.conf', true],
    ['/e/s?.conf', '/e/s12.conf', false],
    ['/e/[ab].conf', '/e/b.conf', true],
    ['/e/[!ab].conf', '/e/b.conf', false],
    ['/e/[!ab].conf', '/e/c.conf', true],
    ['/e/a+b(1).conf', '/e/a+b(1).conf', true],
    ['/e/*.conf', '/e/a.conf', true],
  ];
  for (const [p, path, want] of cases) it(`${p} ~ ${path} → ${want}`, () => assert.equal(matchNginxGlob(p, path), want));
});

describe('resolveNginxIncludes', () => {
  const names = (list: NginxDirective[]): string[] => {
    const out: string[] = [];
    const walk = (l: NginxDirective[]): void => {
      for (const d of l) {
        out.push(d.name === 'include' ? `include ${d.args[0]} [${(d.included ?? []).map((f) => f.file).join(' ')}]` : d.name);
        if (d.block) walk(d.block);
        for (const f of d.included ?? []) walk(f.directives);
      }
    };
    walk(list);
    return out;
  };

  it('relative paths against the main file\'s folder, globs sorted, hidden files and subfolders skipped, nested includes', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([
      ['/etc/nginx/nginx.conf', 'http { include sites/*.conf; include /etc/nginx/common.conf; }'],
      ['/etc/nginx/sites/b.conf', 'b;'],
      ['/etc/nginx/common.conf', 'include snippets/x?.conf;'],
      ['/etc/nginx/sites/a.conf', 'a; include ../nginx/./snippets//deep.conf;'],
      ['/etc/nginx/sites/.hidden.conf', 'hidden;'],
      ['/etc/nginx/sites/sub/c.conf', 'c;'],
      ['/etc/nginx/snippets/x1.conf', 'x1;'],
      ['/etc/nginx/snippets/deep.conf', 'deep;'],
    ])));
    assert.deepEqual(names(r.directives), [
      'http',
      'include sites/*.conf [/etc/nginx/sites/a.conf /etc/nginx/sites/b.conf]',
      'a',
      'include ../nginx/./snippets//deep.conf [/etc/nginx/snippets/deep.conf]',
      'deep',
      'b',
      'include /etc/nginx/common.conf [/etc/nginx/common.conf]',
      'include snippets/x?.conf [/etc/nginx/snippets/x1.conf]',
      'x1',
    ]);
    assert.deepEqual(r.warnings, []);
  });

  it('the same file included twice is spliced twice (nginx -T printed it once)', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([
      ['/n/nginx.conf', 'include s.conf; include /n/s.conf;'],
      ['/n/s.conf', 's;'],
    ])));
    assert.deepEqual(names(r.directives), ['include s.conf [/n/s.conf]', 's', 'include /n/s.conf [/n/s.conf]', 's']);
  });

  it('an empty glob is fine; a named file missing from the dump is a warning', () => {
    const r = resolveNginxIncludes(parseNginxDump(dump([['/n/nginx.conf', 'include none/*.conf;\ninclude gone.conf;\ninclude a b;']])));
    assert.deepEqual(r.warnings, [
      '/n/nginx.conf:2: include gone.conf: /n/gone.conf is not in the nginx -T output (was the dump taken from another configuration?)',
      '/n/nginx.conf:3: include takes one argument, not 2',
    ]);
  });

  it('refuses include cycles, include chains past the depth limit and exponential expansion', () => {
    assert.throws(() => resolveNginxIncludes(parseNginxDump(dump([['/n/nginx.conf', 'include a.conf;'], ['/n/a.conf', 'include b.conf;'], ['/n/b.conf', 'include a.conf;']]))), /includes itself \(\/n\/nginx\.conf → \/n\/a\.conf → \/n\/b\.conf → \/n\/a\.conf\)/);
    const chain: Array<[string, string]> = [['/n/nginx.conf', 'include f0.conf;']];
    for (let i = 0; i < 60; i++) chain.push([`/n/f${i}.conf`, `include f${i + 1}.conf;`]);
    chain.push(['/n/f60.conf', 'x;']);
    assert.throws(() => resolveNginxIncludes(parseNginxDump(dump(chain))), /nested deeper than 50/);
    const bomb: Array<[string, string]> = [['/n/nginx.conf', 'include f0.conf; include f0.conf;']];
    for (let i = 0; i < 30; i++) bomb.push([`/n/f${i}.conf`, `include f${i + 1}.conf; include f${i + 1}.conf;`]);
    bomb.push(['/n/f30.conf', 'x;']);
    assert.throws(() => resolveNginxIncludes(parseNginxDump(dump(bomb)), { maxDirectives: 100_000 }), /more than 100000 directives once includes are spliced in/);
  });
});

describe('parseListen', () => {
  const cases: Array<[string[], Partial<ReturnType<typeof parseListen>>]> = [
    [['443', 'ssl'], { key: '*:443', address: '*', port: 443, ssl: true }],
    [['*:443', 'ssl', 'http2'], { key: '*:443', ssl: true, http2: true }],
    [['0.0.0.0:443'], { key: '*:443', ssl: false }],
    [['[::]:443', 'ssl', 'ipv6only=on'], { key: '[::]:443', address: '[::]', port: 443, ssl: true }],
    [['[0:0::1]:8443', 'ssl', 'default_server'], { key: '[::1]:8443', defaultServer: true }],
    [['[::1]'], { key: '[::1]:80', port: 80 }],
    [['127.0.0.1:8443', 'ssl', 'default'], { key: '127.0.0.1:8443', defaultServer: true }],
    [['Localhost'], { key: 'localhost:80' }],
    [['unix:/run/n.sock', 'ssl'], { key: 'unix:/run/n.sock', port: null, ssl: true }],
    [['443', 'quic', 'reuseport'], { key: '*:443 quic', quic: true, ssl: false }],
  ];
  for (const [args, want] of cases) {
    it(args.join(' '), () => {
      const l = parseListen(args);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(l[k as keyof typeof l], v, k);
    });
  }
});

describe('server_name values', () => {
  const cases: Array<[string, string, Array<[string, boolean | null]>]> = [
    ['Example.COM', 'exact', [['example.com', true], ['www.example.com', false]]],
    ['*.example.com', 'head', [['www.example.com', true], ['a.b.example.com', true], ['example.com', false], ['xexample.com', false]]],
    ['.example.com', 'dot', [['example.com', true], ['www.example.com', true], ['badexample.com', false]]],
    ['www.example.*', 'tail', [['www.example.com', true], ['www.example.co.uk', true], ['www.example', false], ['www.examplex.com', false]]],
    ['~^(?P<sub>[a-z]+)\\.EXAMPLE\\.com$', 'regex', [['www.example.com', true], ['example.com', false]]],
    ['~^(www|api)++\\.example\\.com$', 'regex', [['www.example.com', null]]],
    ['www.*.example.com', 'invalid', [['www.a.example.com', false]]],
    ['', 'exact', [['example.com', false]]],
    ['_', 'exact', [['example.com', false]]],
  ];
  for (const [raw, kind, tests] of cases) {
    it(`${JSON.stringify(raw)} is ${kind}`, () => {
      const n = parseServerName(raw);
      assert.equal(n.kind, kind);
      for (const [host, want] of tests) assert.equal(serverNameMatches(n, host), want, host);
    });
  }

  it('PCRE spellings JavaScript lacks', () => {
    assert.ok(compilePcre('^(?P<a>x)(?P=a)$')?.test('xx'));
    assert.ok(compilePcre('(?i)^ABC$')?.test('abc'));
    assert.equal(compilePcre('a*+'), null);
  });
});

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

describe('selectServer: nginx\'s choice by server_name on one address (checked against nginx 1.22)', () => {
  function pick(conf: string, host: string): { line: number | undefined; by: string | undefined; ignored: string[]; uncertain: string[] } {
    const a = analyseNginxDump(dump([['/n/nginx.conf', `http {\n${conf}\n}`]]));
    const g = a.groups[0];
    assert.ok(g);
    const sel = selectServer(g, host);
    return { line: sel.server?.line, by: sel.by, ignored: sel.ignored.map((x) => x.serverName), uncertain: sel.uncertain.map((x) => x.serverName) };
  }
  const s = (names: string): string => `server { listen 443 ssl; server_name ${names}; }`;
  const cases: Array<[string, string[], string, { line: number | undefined; by?: string; ignored?: string[]; uncertain?: string[] }]> = [
    ['exact beats wildcard and regex', [s('~^www\\.a\\.test$'), s('*.a.test'), s('www.a.test')], 'www.a.test', { line: 4, by: 'exact' }],
    ['longest leading wildcard wins', [s('*.test'), s('*.a.test')], 'www.a.test', { line: 3, by: 'head' }],
    ['leading wildcard beats trailing', [s('www.a.*'), s('*.test')], 'www.a.test', { line: 3, by: 'head' }],
    ['trailing wildcard beats regex', [s('~.*'), s('www.a.*')], 'www.a.test', { line: 3, by: 'tail' }],
    ['first matching regex wins', [s('~^w'), s('~^www')], 'www.a.test', { line: 2, by: 'regex' }],
    ['regex is caseless', [s('~^WWW\\.A\\.TEST$')], 'www.a.test', { line: 2, by: 'regex' }],
    ['.a.test covers a.test and its subdomains', [s('.a.test')], 'a.test', { line: 2, by: 'exact' }],
    ['.a.test after a.test is ignored', [s('a.test'), s('.a.test')], 'www.a.test', { line: undefined, ignored: ['.a.test'] }],
    ['a.test after .a.test is ignored', [s('.a.test'), s('a.test')], 'a.test', { line: 2, by: 'exact', ignored: ['a.test'] }],
    ['.a.test after *.a.test is ignored', [s('*.a.test'), s('.a.test')], 'a.test', { line: undefined, ignored: ['.a.test'] }],
    ['a duplicate exact name: the first block keeps it', [s('a.test'), s('a.test')], 'a.test', { line: 2, by: 'exact', ignored: ['a.test'] }],
    ['nothing matches', [s('b.test')], 'a.test', { line: undefined }],
    ['a regex JavaScript cannot compile makes it uncertain', [s('~^(www)++\\.a\\.test$'), s('~^www')], 'www.a.test', { line: 3, by: 'regex', uncertain: ['~^(www)++\\.a\\.test$'] }],
  ];
  for (const [title, blocks, host, want] of cases) {
    it(title, () => {
      const got = pick(blocks.join('\n'), host);
      assert.equal(got.line, want.line);
      assert.equal(got.by, want.by);
      assert.deepEqual(got.ignored, want.ignored ?? []);
      assert.deepEqual(got.uncertain, want.uncertain ?? []);
    });
  }

  it('ssl on one listen makes the whole address:port speak TLS; other addresses stay plain', () => {
    const a = analyseNginxDump(dump([['/n/nginx.conf', 'http {\nserver { listen 127.0.0.1:443 ssl; }\nserver { listen 127.0.0.1:443; server_name b; }\nserver { listen 443; }\nserver { listen 127.0.0.1:443 quic; }\n}']]));
    assert.deepEqual(a.groups.map((g) => [g.key, g.tls, g.servers.map((x) => x.line)]), [['127.0.0.1:443', true, [2, 3]], ['*:443', false, [4]], ['127.0.0.1:443 quic', false, [5]]]);
  });

  it('the default server is default_server, else the first', () => {
    const a = analyseNginxDump(dump([['/n/nginx.conf', 'http {\nserver { listen 80; }\nserver { listen 80 default_server; }\nserver { listen 81; }\n}']]));
    assert.deepEqual(a.groups.map((g) => g.defaultServer.line), [3, 4]);
  });
});
