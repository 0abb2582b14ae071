import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeJsonDocument } from '../../../src/cli/json-out.js';

function written(doc: object, key: string): { text: string; writes: number } {
  const chunks: string[] = [];
  writeJsonDocument({ write: (c: string) => chunks.push(c) }, doc, key);
  return { text: chunks.join(''), writes: chunks.length };
}

describe('writeJsonDocument', () => {
  it('writes exactly JSON.stringify(doc, null, 2) + newline, in slices of rows', () => {
    const endpoints = Array.from({ length: 1234 }, (_, i) => ({
      host: `e${i}.example`,
      port: 443,
      problems: i % 7 === 0 ? [{ code: 'expiring-soon', message: 'line one\nline two "quoted"' }] : [],
      chain: [],
      nested: { empty: {}, list: [1, [2, 3]], none: null, skipped: undefined },
    }));
    const doc = { generatedAt: '2026-01-01T00:00:00.000Z', summary: { ok: 1234 }, endpoints, after: { x: 1 } };
    const { text, writes } = written(doc, 'endpoints');
    assert.equal(text, `${JSON.stringify(doc, null, 2)}\n`);
    assert.ok(writes > 3, `expected the rows in several writes, got ${writes}`);
  });

  it('an empty or missing array is written in one piece, as JSON.stringify does', () => {
    for (const doc of [{ summary: {}, endpoints: [] }, { summary: {} }]) {
      assert.equal(written(doc, 'endpoints').text, `${JSON.stringify(doc, null, 2)}\n`);
    }
  });

  it('a row holding the marker text itself is still written verbatim', () => {
    const doc = { endpoints: [{ note: '\u0000rows:endpoints\u0000' }], tail: true };
    assert.equal(written(doc, 'endpoints').text, `${JSON.stringify(doc, null, 2)}\n`);
  });
});
