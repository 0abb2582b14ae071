import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyseNginxDump } from '../../../../src/deploy/nginx/analyse.js';
import { selectServer } from '../../../../src/deploy/nginx/select-server.js';
import { dump } from './dump-text.js';

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
