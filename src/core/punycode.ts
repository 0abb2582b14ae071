/**
 * Punycode decoding (RFC 3492), ours rather than node:url's: what node:url does with an invalid
 * "xn--" label changed between Node versions (Node 20 refuses "xn--abc.com", Node 24 returns it
 * unchanged), and a name must be valid or not whatever Node runs the scan. Pure.
 */

const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 0x80;
const DELIMITER = '-';
/** Far above any real label (63 characters), far below 2^53: the arithmetic below stays exact. */
const MAX_INT = 0x7fffffff;

export type PunycodeResult = { ok: true; value: string } | { ok: false; reason: string };

/** a–z and A–Z are 0–25, 0–9 are 26–35 (RFC 3492 §5); anything else is not a digit. */
function digitValue(code: number): number {
  if (code >= 0x61 && code <= 0x7a) return code - 0x61;
  if (code >= 0x41 && code <= 0x5a) return code - 0x41;
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 26;
  return BASE;
}

/** RFC 3492 §6.1. */
function adapt(delta: number, numPoints: number, firstTime: boolean): number {
  let d = firstTime ? Math.floor(delta / DAMP) : delta >> 1;
  d += Math.floor(d / numPoints);
  let k = 0;
  while (d > ((BASE - T_MIN) * T_MAX) >> 1) {
    d = Math.floor(d / (BASE - T_MIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - T_MIN + 1) * d) / (d + SKEW));
}

/**
 * Decodes the part of an A-label after "xn--" (RFC 3492 §6.2). Fails, with the reason, on a
 * non-ASCII basic part, a character that is not a base-36 digit, a number cut short, an
 * overflow, or a decoded code point that is a surrogate or beyond U+10FFFF. Quadratic in the
 * input's length: give it DNS labels (at most 63 characters), not arbitrary text.
 */
export function decodePunycode(input: string): PunycodeResult {
  const fail = (reason: string): PunycodeResult => ({ ok: false, reason });
  const delimiter = input.lastIndexOf(DELIMITER);
  const basicEnd = delimiter > 0 ? delimiter : 0;
  const output: number[] = [];
  for (let j = 0; j < basicEnd; j++) {
    const code = input.charCodeAt(j);
    if (code >= 0x80) return fail(`non-ASCII character ${JSON.stringify(input[j])} before the last "-"`);
    output.push(code);
  }
  let n = INITIAL_N;
  let i = 0;
  let bias = INITIAL_BIAS;
  for (let pos = delimiter > 0 ? delimiter + 1 : 0; pos < input.length;) {
    const oldi = i;
    let w = 1;
    for (let k = BASE; ; k += BASE) {
      if (pos >= input.length) return fail('the last encoded character is cut short');
      const digit = digitValue(input.charCodeAt(pos));
      if (digit >= BASE) return fail(`${JSON.stringify(input[pos])} is not a punycode digit (a-z, 0-9)`);
      pos++;
      if (digit > Math.floor((MAX_INT - i) / w)) return fail('the encoded number overflows');
      i += digit * w;
      const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
      if (digit < t) break;
      if (w > Math.floor(MAX_INT / (BASE - t))) return fail('the encoded number overflows');
      w *= BASE - t;
    }
    const count = output.length + 1;
    bias = adapt(i - oldi, count, oldi === 0);
    if (Math.floor(i / count) > MAX_INT - n) return fail('the encoded number overflows');
    n += Math.floor(i / count);
    i %= count;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return fail(`U+${n.toString(16).toUpperCase()} is not a Unicode scalar value`);
    output.splice(i, 0, n);
    i++;
  }
  return { ok: true, value: String.fromCodePoint(...output) };
}
