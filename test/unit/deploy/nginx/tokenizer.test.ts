import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../../src/core/errors.js';
import { parseNginxConfig } from '../../../../src/deploy/nginx/tokenizer.js';
import { shape, type Shape } from './dump-text.js';

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
