/** cli/style.ts table(): the loop version must lay out exactly what the first (map/spread) one did. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { paint, table, TableText, visibleLength } from '../../../src/cli/style.js';

// The version before the fleet rewrite, kept here as the reference.
function referenceVisible(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}
function referenceTable(rows: string[][], header: string[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => referenceVisible(r[i] ?? ''))));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - referenceVisible(c)))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

/** A small deterministic generator (no Math.random: a failure must reproduce). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('table', () => {
  it('lays out exactly as the reference, with colours, empty cells, short rows and trailing blanks', () => {
    const rnd = lcg(7);
    const word = () => ['', 'a', 'example.com', 'CRITICAL', 'ünïcödé', '  spaced  ', '-', 'x'.repeat(40)][Math.floor(rnd() * 8)]!;
    const header = ['DOMAIN', 'ENDPOINT', 'DAYS', 'STATUS', 'PROBLEMS'];
    for (let round = 0; round < 50; round++) {
      const rows: string[][] = [];
      const n = Math.floor(rnd() * 30);
      for (let i = 0; i < n; i++) {
        const len = 1 + Math.floor(rnd() * header.length);
        rows.push(Array.from({ length: len }, () => (rnd() < 0.3 ? paint(true, 'red', word()) : word())));
      }
      assert.equal(table(rows, header), referenceTable(rows, header), `round ${round}`);
      // The row-at-a-time builder: the same lines, each ending in a newline, in chunks of any size.
      const text = new TableText(header);
      for (const r of rows) text.add(r);
      assert.equal([...text.chunks(1 + (round % 4))].join(''), `${referenceTable(rows, header)}\n`, `TableText, round ${round}`);
    }
  });

  it('measures text without escapes by its length and ignores SGR escapes', () => {
    assert.equal(visibleLength('abc'), 3);
    assert.equal(visibleLength(paint(true, 'green', 'OK')), 2);
    assert.equal(visibleLength('\x1b[1;31mX\x1b[0m and \x1b[90mY\x1b[0m'), 7);
  });
});
