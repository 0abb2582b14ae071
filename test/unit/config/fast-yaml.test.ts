import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FAST_PATH_MIN_BYTES, fastTree } from '../../../src/config/fast-yaml.js';

/** Pads a document past the fast-path threshold with a comment, which changes no value. */
function large(text: string): string {
  return `${text}\n${'# padding\n'.repeat(Math.ceil(FAST_PATH_MIN_BYTES / 10) + 1)}`;
}

describe('fastTree', () => {
  test('small files always go to the reference parser', () => {
    assert.equal(fastTree('dataDir: ./data\n'), undefined);
  });

  test('gives the same tree as the reference parser (example config, many domains)', () => {
    const example = readFileSync(new URL('../../../config/certs.example.yaml', import.meta.url), 'utf8');
    let domains = 'domains:\n';
    for (let i = 0; i < 2000; i++) {
      domains += `  - name: "e${i}.example.com"\n    altNames: [www.e${i}.example.com]\n    managed: ${i % 2 === 0}\n    endpoints: [{ host: e${i}.example.com, port: ${443 + (i % 3)}, address: "2001:db8::${i.toString(16)}" }]\n`;
    }
    for (const text of [large(example), domains, large('scan: {concurrency: 0x10, timeoutMs: 1e3}\nflag: True\nnothing: ~\nwhen: 2026-01-01\n')]) {
      assert.ok(text.length >= FAST_PATH_MIN_BYTES);
      assert.deepEqual(fastTree(text), parse(text));
    }
  });

  const fallbacks: Array<[string, string]> = [
    ['a syntax error', 'domains: [unclosed\n'],
    ['an empty document', '\n'],
    ['a list at the top', '- a\n- b\n'],
    ['an unknown tag', 'dataDir: !secret x\n'],
    ['a duplicate key', 'dataDir: a\ndataDir: b\n'],
    ['an alias bomb', `a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n`],
  ];
  for (const [name, text] of fallbacks) {
    test(`${name} falls back to the reference parser`, () => assert.equal(fastTree(large(text)), undefined));
  }
});
