/**
 * Names as certificates and TLS use them. Pure (node:url's IDNA functions do no I/O).
 */
import { domainToASCII } from 'node:url';
import { ValidationError } from './errors.js';
import { canonicalIPv6, isIPv4, isIPv6 } from './ip.js';
import { decodePunycode } from './punycode.js';

export { isIPv4, isIPv6, canonicalIPv6 } from './ip.js';

export interface NameOptions {
  /** Accept `*.` as the whole left-most label. */
  allowWildcard?: boolean;
  /** How the value is called in messages (default "domain"). */
  label?: string;
  /**
   * Fewest labels (not counting a wildcard). Default 2: public CAs never issue for single-label
   * names; pass 1 for hosts to connect to (`localhost`) or monitor-only inventory entries.
   */
  minLabels?: number;
}

const MAX_NAME = 253;
const MAX_LABEL = 63;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
const EXPECTED = 'expected a DNS name of letters, digits and hyphens separated by dots, like "example.com"';

function fail(label: string, input: string, reason: string): never {
  return failWith(`${label} ${JSON.stringify(input)}: invalid name: ${reason}`);
}

function failWith(message: string): never {
  throw new ValidationError(message);
}

function checkLabel(label: string, fail: (reason: string) => never): void {
  if (label.length === 0) fail(`empty label (a leading dot or two dots in a row); ${EXPECTED}`);
  if (label.length > MAX_LABEL) fail(`label "${label}" is ${label.length} characters long; expected at most ${MAX_LABEL}`);
  const bad = /[^a-z0-9-]/.exec(label);
  if (bad) {
    if (bad[0] === '_') {
      // Underscores are legal in DNS (SRV, DKIM) but not in host names a CA will certify.
      fail(`underscores are not allowed in certificate host names (only letters, digits and hyphens: LDH)`);
    }
    fail(`character ${JSON.stringify(bad[0])} is not allowed; ${EXPECTED}`);
  }
  if (label.startsWith('-') || label.endsWith('-')) fail(`label "${label}" starts or ends with a hyphen; ${EXPECTED}`);
}

type ALabel = { ok: true; unicode: string } | { ok: false; reason: string };

/** Quoted, with invisible characters (controls, joiners, odd spaces) shown as \u{…}. */
function shown(text: string): string {
  return JSON.stringify(text).replace(/[\p{C}\p{Z}]/gu, (ch) => (ch === ' ' ? ch : `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`));
}

/**
 * An "xn--" label is valid when it decodes (our RFC 3492 decoder) to non-ASCII text whose IDNA
 * form is the label itself (RFC 5891 §5.4). node:url is asked only about Unicode, where Node
 * versions agree; its verdict on invalid punycode changed (Node 24 passes "xn--abc" through).
 */
function checkALabel(label: string): ALabel {
  // Before decoding: decoding is quadratic in the label's length, and a DNS label is short.
  if (label.length > MAX_LABEL) return { ok: false, reason: `label "${label}" is ${label.length} characters long; expected at most ${MAX_LABEL}` };
  const decoded = decodePunycode(label.slice(4));
  if (!decoded.ok) return { ok: false, reason: `an "xn--" label is not valid punycode: "${label}" (${decoded.reason})` };
  const unicode = decoded.value;
  if (!NON_ASCII.test(unicode)) {
    const what = unicode === '' ? 'nothing' : `the plain ASCII ${shown(unicode)}`;
    return { ok: false, reason: `the "xn--" label "${label}" decodes to ${what}; an "xn--" label must stand for non-ASCII characters` };
  }
  const back = domainToASCII(unicode);
  if (back === label) return { ok: true, unicode };
  return {
    ok: false,
    reason: back === ''
      ? `the "xn--" label "${label}" decodes to ${shown(unicode)}, which IDNA does not allow in a host name`
      : `the "xn--" label "${label}" is not the IDNA form of ${shown(unicode)} (that is "${back}")`,
  };
}

function checkALabels(name: string, bad: (reason: string) => never): void {
  for (const l of name.split('.')) {
    if (!l.startsWith('xn--')) continue;
    const checked = checkALabel(l);
    if (!checked.ok) bad(checked.reason);
  }
}

/**
 * The common case, already in canonical form: lower-case LDH labels, no trailing dot, a last
 * label that starts with a letter (so never numeric, never an IP address), no A-label (those are
 * decoded and checked). Names like that are returned as they are without the full walk, which is
 * most of what loading a 10,000-domain config costs (`certs status` has a 0.5 s budget).
 */
const PLAIN_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isPlainName(s: string, minLabels: number): boolean {
  if (s.length > MAX_NAME || !PLAIN_NAME.test(s) || s.includes('xn--')) return false;
  if (minLabels <= 1) return true;
  let labels = 1;
  for (let i = s.indexOf('.'); i !== -1; i = s.indexOf('.', i + 1)) labels++;
  return labels >= minLabels;
}

/**
 * Trim, lower-case, convert IDN to A-labels (punycode), drop one trailing dot and check the
 * result is an LDH host name, optionally with a left-most `*` label. Throws ValidationError
 * naming the input and what was expected.
 */
export function normalizeDomainName(input: string, opts: NameOptions = {}): string {
  if (typeof input === 'string' && isPlainName(input, opts.minLabels ?? 2)) return input;
  return normalizeDomainNameFully(input, opts);
}

/** normalizeDomainName without the plain-name shortcut (exported so a test can compare the two). */
export function normalizeDomainNameFully(input: string, opts: NameOptions = {}): string {
  const label = opts.label ?? 'domain';
  const minLabels = opts.minLabels ?? 2;
  const bad = (reason: string): never => fail(label, input, reason);
  if (typeof input !== 'string') failWith(`${label}: expected a string, got ${typeof input}`);
  let s = input.trim();
  if (s === '') bad(`the name is empty; ${EXPECTED}`);
  if (/ /.test(s)) bad('spaces are not allowed');
  if (/\s/.test(s)) bad('whitespace characters (tabs, newlines) are not allowed');
  if (isIPv4(s) || isIPv6(s.replace(/^\[(.*)\]$/, '$1'))) bad('an IP address is not a domain name; expected a DNS name like "example.com"');
  if (s.includes('://') || s.includes('/')) bad(`expected a bare host name, not a URL or path (drop the scheme and path)`);
  s = s.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);

  let wildcard = false;
  if (s.includes('*')) {
    if (!opts.allowWildcard) bad('wildcards are not allowed here');
    if (s === '*') bad('a bare "*" is not a name; expected a wildcard like "*.example.com"');
    const labels = s.split('.');
    if (labels[0] !== '*' && labels[0]?.includes('*')) {
      bad('a wildcard must be the whole left-most label, like "*.example.com", not part of a label');
    }
    if (labels.slice(1).some((l) => l.includes('*'))) {
      bad(labels[0] === '*'
        ? 'only one wildcard is allowed, as the whole left-most label, like "*.example.com"'
        : 'a wildcard is allowed only as the whole left-most label, like "*.example.com"');
    }
    wildcard = true;
    s = labels.slice(1).join('.');
  }

  // "xn--" labels as typed first, so that a bad one is named the same way on every Node version.
  checkALabels(s, bad);
  // Only non-ASCII input goes through IDNA: for ASCII, domainToASCII would also rewrite
  // numeric hosts ("0x7f.1" → "127.0.0.1") and accept characters we refuse.
  let ascii = s;
  if (NON_ASCII.test(s)) {
    ascii = domainToASCII(s);
    if (ascii === '') bad('not a valid internationalized domain name (IDNA conversion failed)');
    // Mapping can make new ones: fullwidth "ｘｎ--" becomes "xn--".
    checkALabels(ascii, bad);
  }
  const labels = ascii.split('.');
  for (const l of labels) checkLabel(l, bad);
  const last = labels[labels.length - 1] ?? '';
  if (/^(\d+|0x[0-9a-f]*)$/.test(last)) bad(`the last label "${last}" is numeric, which reads as an IP address; ${EXPECTED}`);
  if (labels.length < minLabels) {
    bad(wildcard
      ? `expected at least ${minLabels === 2 ? 'two labels' : `${minLabels} labels`} after "*.", like "*.example.com"`
      : `expected at least ${minLabels === 2 ? 'two labels' : `${minLabels} labels`}, like "example.com"`);
  }
  const result = wildcard ? `*.${ascii}` : ascii;
  if (result.length > MAX_NAME) bad(`the name is ${result.length} characters long; expected at most ${MAX_NAME}`);
  return result;
}

/** True for a bare IPv4 or IPv6 literal, or an IPv6 literal in brackets. */
export function isIpLiteral(s: string): boolean {
  if (typeof s !== 'string') return false;
  const bracketed = /^\[(.*)\]$/.exec(s);
  return bracketed ? isIPv6(bracketed[1] ?? '') : isIPv4(s) || (s.includes(':') && isIPv6(s));
}

/**
 * A host to connect to: an IPv4 literal, an IPv6 literal (brackets allowed and stripped,
 * returned in RFC 5952 form) or a DNS name (single labels such as `localhost` allowed).
 */
export function normalizeHost(input: string, opts: { label?: string } = {}): string {
  const label = opts.label ?? 'host';
  if (typeof input !== 'string') failWith(`${label}: expected a string, got ${typeof input}`);
  if (isPlainName(input, 1)) return input;
  const s = input.trim();
  const bracketed = /^\[(.*)\]$/.exec(s);
  if (bracketed) {
    const v6 = canonicalIPv6(bracketed[1] ?? '');
    if (v6 === null) failWith(`${label} ${JSON.stringify(input)}: expected an IPv6 address inside the brackets, like "[2001:db8::1]"`);
    return v6;
  }
  if (isIPv4(s)) return s;
  if (s.includes(':')) {
    const v6 = canonicalIPv6(s);
    if (v6 !== null) return v6;
    if (/^[^:]+:\d+$/.test(s)) failWith(`${label} ${JSON.stringify(input)}: expected a host without a port (give the port separately)`);
    failWith(`${label} ${JSON.stringify(input)}: invalid IPv6 address; expected a DNS name, an IPv4 address or an IPv6 address like "2001:db8::1"`);
  }
  if (/^[\d.]+$/.test(s)) failWith(`${label} ${JSON.stringify(input)}: invalid IPv4 address; expected four numbers from 0 to 255 without leading zeros, like "192.0.2.10"`);
  return normalizeDomainName(s, { label, minLabels: 1 });
}

/** A TCP port: an integer (or decimal string, for command-line input) from 1 to 65535. */
export function validatePort(n: unknown, label = 'port'): number {
  const value = typeof n === 'string' && /^\s*\d+\s*$/.test(n) ? Number(n) : n;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  const shown = typeof n === 'string' ? JSON.stringify(n) : String(n);
  return failWith(`${label} ${shown}: expected an integer from 1 to 65535`);
}

/** The Unicode form of a name, for display: each valid A-label decoded, every other label as it is. */
export function toUnicode(name: string): string {
  if (!name.includes('xn--')) return name;
  return name
    .split('.')
    .map((l) => {
      if (!l.startsWith('xn--')) return l;
      const checked = checkALabel(l);
      return checked.ok ? checked.unicode : l;
    })
    .join('.');
}
