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
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

export function table(rows: string[][], header: string[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visibleLength(c)))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
