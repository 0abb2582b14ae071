/**
 * A unified diff of two texts, line by line (`diff -u` style, 3 lines of context). Myers' O(ND)
 * algorithm: the edits certs makes to a config (a few entries added or extended in a file of
 * thousands of lines) have a small D, so a 10,000-domain file diffs in milliseconds, where a
 * plain LCS table would need N×M cells. Pure.
 */

export interface UnifiedDiffOptions {
  /** Names on the `---` / `+++` lines. */
  from: string;
  to: string;
  /** Unchanged lines shown around each change; default 3. */
  context?: number;
}

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Myers' search keeps one row per edit step, O(D²) memory: beyond this many steps the middle (after
 * the common head and tail are cut off) is shown as one block removed and one added instead.
 */
const MAX_EDITS = 2000;

/** The edit script turning a into b: the common head and tail, and Myers' script for the middle. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: ' ', line: a[i] as string, a: i, b: i });
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const middle = midA.length === 0 || midB.length === 0 ? null : myers(midA, midB);
  if (middle) for (const o of middle) ops.push({ ...o, a: o.a + head, b: o.b + head });
  else {
    midA.forEach((line, i) => ops.push({ kind: '-', line, a: head + i, b: head }));
    midB.forEach((line, i) => ops.push({ kind: '+', line, a: head + midA.length, b: head + i }));
  }
  for (let i = tail; i > 0; i--) ops.push({ kind: ' ', line: a[a.length - i] as string, a: a.length - i, b: b.length - i });
  return ops;
}

/** Myers 1986, with the trace kept to walk back; null beyond MAX_EDITS steps. */
function myers(a: readonly string[], b: readonly string[]): Op[] | null {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, MAX_EDITS) && found < 0; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number)) ? (v[offset + k + 1] as number) : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return null;
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const snap = trace[d] as Int32Array;
    const at = (k: number): number => snap[k + d + 1] as number;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: ' ', line: a[x] as string, a: x, b: y });
    }
    if (d === 0) break;
    if (x === prevX) {
      y--;
      ops.push({ kind: '+', line: b[y] as string, a: x, b: y });
    } else {
      x--;
      ops.push({ kind: '-', line: a[x] as string, a: x, b: y });
    }
  }
  return ops.reverse();
}

/** `diff -u` text of the change from `before` to `after`; '' when they are equal. */
export function unifiedDiff(before: string, after: string, opts: UnifiedDiffOptions): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = editScript(a, b);
  const context = opts.context ?? 3;
  const out = [`--- ${opts.from}`, `+++ ${opts.to}`];
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && (ops[i] as Op).kind === ' ') i++;
    if (i >= ops.length) break;
    const start = Math.max(0, i - context);
    // Extend the hunk while the next change is within 2 × context unchanged lines.
    let end = i;
    let j = i;
    while (j < ops.length) {
      if ((ops[j] as Op).kind !== ' ') {
        end = j;
        j++;
        continue;
      }
      let run = j;
      while (run < ops.length && (ops[run] as Op).kind === ' ') run++;
      if (run >= ops.length || run - j > 2 * context) break;
      j = run;
    }
    const stop = Math.min(ops.length, end + 1 + context);
    const hunk = ops.slice(start, stop);
    const first = hunk[0] as Op;
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    const range = (line: number, count: number): string => `${count === 0 ? line : line + 1}${count === 1 ? '' : `,${count}`}`;
    out.push(`@@ -${range(first.a, aCount)} +${range(first.b, bCount)} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    i = stop;
  }
  return `${out.join('\n')}\n`;
}
