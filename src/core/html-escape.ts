/** HTML escaping for the pages (src/web, core/charts.ts) and the notification emails (src/notify). */

/** Escapes text for HTML/SVG content and double- or single-quoted attribute values. */
export function escapeHtml(value: string): string {
  // A scan for the five characters first: almost every name has none, and then no copy is made.
  let i = 0;
  const n = value.length;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 38 || c === 60 || c === 62 || c === 34 || c === 39) break;
  }
  if (i === n) return value;
  let out = value.slice(0, i);
  for (; i < n; i++) {
    const ch = value[i]!;
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '"': out += '&quot;'; break;
      case '\'': out += '&#39;'; break;
      default: out += ch;
    }
  }
  return out;
}
