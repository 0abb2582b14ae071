/**
 * Plain-text digests for chat services (issue 17), pure. One line per event, its fix under it;
 * the lines are packed into as few messages as fit the service's limit, at most MAX_PARTS, and
 * what does not fit even then is counted in a last line ("…and 120 more: …") so nothing is
 * dropped without saying so.
 */
import { STATUS_LABELS, type DigestRow } from '../../core/digest.js';
import type { FormatInput } from './types.js';

/** More messages than this in one go is a flood, not a digest: the rest is counted instead. */
export const MAX_PARTS = 5;

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
export const chars = (s: string): number => s.length;

export function rowLines(r: DigestRow): string {
  const days = r.daysLeft === null || r.daysLeft < 0 ? '' : ` (${r.daysLeft} days left)`;
  const line = `${STATUS_LABELS[r.status]} ${r.domain} ${r.endpoint}: ${r.problem}${r.problem.includes('days') ? '' : days}`;
  return r.fix ? `${line}\n  fix: ${r.fix}` : line;
}

/** Cut to `limit` by `measure`, ending in "…" (a single over-long line; code-point safe). */
export function cut(s: string, limit: number, measure: (s: string) => number): string {
  if (measure(s) <= limit) return s;
  const cps = [...s];
  let lo = 0;
  let hi = cps.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(`${cps.slice(0, mid).join('')}…`) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return `${cps.slice(0, lo).join('')}…`;
}

export interface Packed {
  /** Each part's text (head, then as many lines as fit). */
  parts: string[];
  /** Lines counted in the last part's tail instead of sent. */
  omitted: number;
}

/**
 * `head` then `lines` (one entry per event, which may span two text lines), packed into parts of
 * at most `limit` (by `measure`), at most `maxParts`; the entries that do not fit are counted by
 * `moreLine(n)` at the end of the last part.
 */
export function pack(head: string, lines: readonly string[], limit: number, measure: (s: string) => number, maxParts = MAX_PARTS, moreLine: (n: number) => string = (n) => `…and ${n} more`): Packed {
  const parts: string[][] = [];
  let current: string[] = head === '' ? [] : [head];
  const text = (entries: readonly string[]): string => entries.join('\n');
  const fits = (entries: readonly string[]): boolean => measure(text(entries)) <= limit;
  let i = 0;
  for (; i < lines.length; i++) {
    // One event longer than half a message is cut: it never takes a whole part alone.
    const line = cut(lines[i]!, Math.floor(limit / 2), measure);
    if (fits([...current, line])) {
      current.push(line);
      continue;
    }
    if (parts.length + 1 >= maxParts) break;
    parts.push(current);
    current = [line];
  }
  let omitted = 0;
  if (i < lines.length) {
    omitted = lines.length - i;
    const floor = parts.length === 0 && head !== '' ? 1 : 0;
    while (!fits([...current, moreLine(omitted)]) && current.length > floor) {
      current = current.slice(0, -1);
      omitted += 1;
    }
    current = [...current, moreLine(omitted)];
  }
  parts.push(current);
  return { parts: parts.map((p) => cut(text(p), limit, measure)), omitted };
}

/** The digest's first lines: subject, story, summary. */
export function headOf(input: FormatInput): string {
  const d = input.digest;
  return [d.story, d.summary].filter((x) => x !== '').join('\n');
}

export function bodyLines(input: FormatInput): string[] {
  return input.digest.rows.map(rowLines);
}

/** "…and 12 more: see the dashboard" with the digest's links. */
export function moreLineOf(input: FormatInput): (n: number) => string {
  const rest = input.digest.rest;
  const where = rest?.includes('; all of them') ? rest.slice(rest.indexOf('; all of them') + 2) : 'all of them: certs status';
  return (n) => `…and ${n} more (${where})`;
}

export const partSubject = (subject: string, i: number, n: number): string => (n > 1 ? `${subject} (${i + 1}/${n})` : subject);
