/**
 * IP literal parsing without node:net, so core/ stays free of I/O modules.
 * IPv6 output is the RFC 5952 canonical text, so two spellings of one address compare equal.
 */

const V4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
// Leading zeros are refused: "010" means 8 to inet_aton and 10 to humans.
const V4_RE = new RegExp(`^${V4_OCTET}(?:\\.${V4_OCTET}){3}$`);
const HEX_GROUP_RE = /^[0-9a-f]{1,4}$/i;

export function isIPv4(s: string): boolean {
  return V4_RE.test(s);
}

/** The eight 16-bit groups of an IPv6 address, or null when `s` is not one (zone IDs are refused). */
export function parseIPv6(s: string): number[] | null {
  if (!s.includes(':') || s.includes('%')) return null;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return null;
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const split = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = split(halves[0] ?? '');
  const rest = halves.length === 2 ? split(halves[1] ?? '') : [];
  const groups = [...head, ...rest];
  if (!groups.every((g) => HEX_GROUP_RE.test(g))) return null;
  if (halves.length === 1 ? groups.length !== 8 : groups.length > 7) return null;
  const zeros = new Array<string>(8 - groups.length).fill('0');
  return [...head, ...zeros, ...rest].map((g) => parseInt(g, 16));
}

export function isIPv6(s: string): boolean {
  return parseIPv6(s) !== null;
}

/** RFC 5952 text form: lower case, no leading zeros, longest zero run (≥ 2 groups) as `::`. */
export function canonicalIPv6(s: string): string | null {
  const g = parseIPv6(s);
  if (!g) return null;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const v4 = [(g[6] ?? 0) >> 8, (g[6] ?? 0) & 255, (g[7] ?? 0) >> 8, (g[7] ?? 0) & 255];
    return `::ffff:${v4.join('.')}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
