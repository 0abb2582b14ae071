// unifiedDiff: hunks with 3 lines of context, like `diff -u`, checked against the diff binary.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unifiedDiff } from '../../../src/core/text-diff.js';

function gnuDiff(a: string, b: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'certs-diff-'));
  try {
    writeFileSync(join(dir, 'a'), a);
    writeFileSync(join(dir, 'b'), b);
    try {
      execFileSync('diff', ['-u', '--label', 'a', '--label', 'b', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
      return '';
    } catch (err) {
      return (err as { stdout: string }).stdout;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Applies a unified diff (as unifiedDiff prints it) to `text`. */
function applyPatch(text: string, patch: string): string {
  const src = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let at = 0;
  for (const hunk of patch.split(/^(?=@@ )/m).slice(1)) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+/.exec(hunk);
    assert.ok(m, hunk.slice(0, 80));
    const count = m[2] === undefined ? 1 : Number(m[2]);
    const start = count === 0 ? Number(m[1]) : Number(m[1]) - 1;
    while (at < start) out.push(src[at++] as string);
    for (const l of hunk.split('\n').slice(1)) {
      if (l === '') continue;
      if (l[0] === ' ') {
        assert.equal(src[at], l.slice(1));
        out.push(src[at++] as string);
      } else if (l[0] === '-') {
        assert.equal(src[at], l.slice(1));
        at++;
      } else if (l[0] === '+') out.push(l.slice(1));
    }
  }
  while (at < src.length) out.push(src[at++] as string);
  return out.length ? `${out.join('\n')}\n` : '';
}

const lines = (n: number, f = (i: number) => `line ${i}`): string => Array.from({ length: n }, (_, i) => `${f(i)}\n`).join('');

describe('unifiedDiff', () => {
  const cases: Array<[string, string, string]> = [
    ['equal', lines(5), lines(5)],
    ['append', lines(10), `${lines(10)}new 1\nnew 2\n`],
    ['prepend', lines(10), `new\n${lines(10)}`],
    ['from empty', '', lines(3)],
    ['to empty', lines(3), ''],
    ['one changed line in the middle', lines(20), lines(20, (i) => (i === 10 ? 'changed' : `line ${i}`))],
    ['two far changes: two hunks', lines(40), lines(40, (i) => (i === 5 || i === 30 ? `x${i}` : `line ${i}`))],
    ['two near changes: one hunk', lines(40), lines(40, (i) => (i === 5 || i === 10 ? `x${i}` : `line ${i}`))],
    ['insert and delete', lines(12), lines(12, (i) => `line ${i}`).replace('line 3\n', '').replace('line 8\n', 'line 8\ninserted\n')],
    ['repeated lines', 'a\nb\na\nb\na\n', 'b\na\nb\nb\na\nc\n'],
  ];
  for (const [name, a, b] of cases) {
    it(`${name}: as diff -u prints it`, () => {
      assert.equal(unifiedDiff(a, b, { from: 'a', to: 'b' }), gnuDiff(a, b));
    });
  }

  it('10,000 lines added between 100 kept lines: as diff -u prints it (common head and tail cut off first)', () => {
    const a = lines(100);
    const b = a.replace('line 50\n', `line 50\n${lines(10_000, (i) => `new ${i}`)}`);
    assert.equal(unifiedDiff(a, b, { from: 'a', to: 'b' }), gnuDiff(a, b));
  });

  it('beyond 2,000 edits the middle is one block removed and one added, and the diff still applies', () => {
    const a = lines(6000, (i) => `old ${i}`);
    const b = lines(6000, (i) => (i % 2 === 0 ? `new ${i}` : `old ${i}`));
    const d = unifiedDiff(a, b, { from: 'a', to: 'b' });
    assert.equal(applyPatch(a, d), b);
    assert.equal((d.match(/^@@/gm) ?? []).length, 1);
  });

  it('a few lines added to 100,000 stays fast (Myers, not an LCS table)', () => {
    const a = lines(100_000);
    const b = a.replace('line 500\n', 'line 500\nadded\n') + 'tail\n';
    const start = process.hrtime.bigint();
    const d = unifiedDiff(a, b, { from: 'a', to: 'b' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(d, gnuDiff(a, b));
    assert.ok(ms < 2000, `${ms} ms`);
  });
});
