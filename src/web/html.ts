/**
 * Small helpers for building HTML as strings (pages are array joins, not templates). Every text
 * and attribute value goes through esc(); the escaping itself is core/charts.ts's, shared with
 * the SVG.
 */
import { escapeText } from '../core/charts.js';

export { escapeText as esc };

/** "2026-12-04 08:41 UTC" from an ISO time; the raw text when unreadable, "–" for null. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = new Date(t).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
}

/** `<time datetime=…>2026-12-04 08:41 UTC</time>`, escaped. */
export function timeEl(iso: string | null | undefined): string {
  if (!iso) return '–';
  return `<time datetime="${escapeText(iso)}">${escapeText(when(iso))}</time>`;
}

/** "1,234" without depending on the server's locale. */
export function num(n: number): string {
  const s = String(Math.trunc(Math.abs(n)));
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ',';
    out += s[i];
  }
  return (n < 0 ? '-' : '') + out;
}

/** "1 endpoint" / "2 endpoints". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}
