import type { Status } from '../core/problems.js';

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour(stream: NodeJS.WriteStream, flag?: boolean): boolean {
  if (flag === false) return false;
  if (process.env['NO_COLOR']) return false;
  if (process.env['FORCE_COLOR'] && process.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

const CODES = { red: 31, yellow: 33, green: 32, grey: 90, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
}

export function statusColour(status: Status): Colour {
  switch (status) {
    case 'ok': return 'green';
    case 'warning': return 'yellow';
    case 'critical': return 'red';
    case 'unknown': return 'grey';
  }
}

/** Width of a string as a terminal shows it (ANSI escapes take no room). */
export function visibleLength(text: string): number {
  // Most cells have no escape: no regex, no copy (a 100,000-row table measures ~1.4 M cells twice).
  if (!text.includes('\x1b')) return text.length;
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** Columns padded to their widest cell, two spaces apart, the last one unpadded, trailing blanks trimmed (TableText, all at once). */
export function table(rows: string[][], header: string[]): string {
  const text = new TableText(header);
  for (const r of rows) text.add(r);
  // Every line of the chunks ends in a newline; a table() string does not end in one.
  return [...text.chunks(Number.MAX_SAFE_INTEGER)].join('').slice(0, -1);
}

/**
 * A table laid out row by row (table() is this, all at once). A row is kept as ONE string
 * (its cells joined) and its cells' ends, and the text is given back in chunks of lines: a
 * 100,000-row status table kept as 100,000 arrays of 7 strings, and its 100,000 lines, was
 * garbage collection moving them all out of the young generation, ~0.2 s.
 */
export class TableText {
  private readonly widths: number[];
  private readonly rows: string[] = [];
  /** Per row, flat: its cell count, then each cell's end in the row's string. */
  private readonly ends: number[] = [];

  constructor(private readonly header: string[]) {
    this.widths = header.map((h) => h.length);
  }

  get size(): number {
    return this.rows.length;
  }

  add(cells: readonly string[]): void {
    this.ends.push(cells.length);
    let end = 0;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i]!;
      if (i < this.widths.length) {
        const w = visibleLength(c);
        if (w > this.widths[i]!) this.widths[i] = w;
      }
      end += c.length;
      this.ends.push(end);
    }
    this.rows.push(cells.join(''));
  }

  /** The table's lines (header first), each ending in a newline, `linesPerChunk` at a time. */
  *chunks(linesPerChunk = 1000): Generator<string> {
    const fmt = (cells: readonly string[]): string => {
      const last = cells.length - 1;
      let line = '';
      for (let i = 0; i <= last; i++) {
        const c = cells[i]!;
        if (i > 0) line += '  ';
        line += c;
        if (i < last) line += ' '.repeat((this.widths[i] ?? 0) - visibleLength(c));
      }
      return line.trimEnd();
    };
    let lines: string[] = [fmt(this.header)];
    let at = 0;
    const cells: string[] = [];
    for (let r = 0; r < this.rows.length; r++) {
      const text = this.rows[r]!;
      const n = this.ends[at++]!;
      cells.length = n;
      let start = 0;
      for (let i = 0; i < n; i++) {
        const end = this.ends[at++]!;
        cells[i] = text.slice(start, end);
        start = end;
      }
      lines.push(fmt(cells));
      if (lines.length >= linesPerChunk) {
        yield `${lines.join('\n')}\n`;
        lines = [];
      }
    }
    if (lines.length > 0) yield `${lines.join('\n')}\n`;
  }
}
