import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodePunycode } from '../../../src/core/punycode.js';

describe('decodePunycode (RFC 3492)', () => {
  // RFC 3492 §7.1 samples (A), (B), (L), (S), and labels seen in certificates.
  const valid: Array<[string, string]> = [
    ['egbpdaj6bu4bxfgehfvwxn', 'ليهمابتكلموشعربي؟'],
    ['ihqwcrb4cv8a8dqg056pqjye', '他们为什么不说中文'],
    ['3B-ww4c5e180e575a65lsy2b', '3年B組金八先生'],
    ['-> $1.00 <--', '-> $1.00 <-'],
    ['bcher-kva', 'bücher'],
    ['zca', 'ß'],
    ['ls8h', '💩'],
    ['ab-', 'ab'],
    ['', ''],
  ];
  for (const [input, expected] of valid) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.deepEqual(decodePunycode(input), { ok: true, value: expected }));
  }

  const invalid: Array<[string, RegExp]> = [
    ['0', /^the last encoded character is cut short$/],
    ['abc-de!', /^"!" is not a punycode digit \(a-z, 0-9\)$/],
    ['ü-abc', /^non-ASCII character "ü" before the last "-"$/],
    ['99999999', /^the encoded number overflows$/],
    ['oy9b', /^U\+DB2B is not a Unicode scalar value$/],
    ['ko22hy', /^U\+12D9E4 is not a Unicode scalar value$/],
  ];
  for (const [input, reason] of invalid) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      const r = decodePunycode(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    });
  }
});
