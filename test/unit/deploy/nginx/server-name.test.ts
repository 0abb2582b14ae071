import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compilePcre, parseServerName, serverNameMatches } from '../../../../src/deploy/nginx/server-name.js';

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
