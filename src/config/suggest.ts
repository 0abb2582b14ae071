/** "Did you mean …?" for unknown keys and names (the distance itself lives in core/nearest). */
import { editDistance } from '../core/nearest.js';

/**
 * The candidate closest to `input`, ignoring case, or undefined when none is close enough to be
 * a plausible typo (the allowance grows with the length of the input).
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  const allowance = needle.length <= 3 ? 1 : needle.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(needle, c.toLowerCase());
    if (distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  if (bestDistance <= allowance) return best;
  // "hostname" for "host", "timeout" for "timeoutMs": one is the other plus a word.
  return candidates.find((c) => {
    const lower = c.toLowerCase();
    return Math.min(lower.length, needle.length) >= 4 && (needle.startsWith(lower) || lower.startsWith(needle));
  });
}
