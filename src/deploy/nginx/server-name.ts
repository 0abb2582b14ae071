/**
 * server_name values classified and matched the way nginx does: exact, `*.x` (head), `.x` (dot:
 * the name and its subdomains), `x.*` (tail), `~regex` (PCRE, caseless; compiled as a JavaScript
 * RegExp where possible). Precedence between them is select-server.ts's business. Pure.
 */

export type NginxServerNameKind = 'exact' | 'head' | 'dot' | 'tail' | 'regex' | 'invalid';

export interface NginxServerName {
  raw: string;
  kind: NginxServerNameKind;
  /** Lower case: the name (exact), the part after `*.` or `.` (head, dot), before `.*` (tail), the pattern (regex). */
  key: string;
  /** regex kind: the pattern compiled as a JavaScript RegExp, or null when it does not compile. */
  regex?: RegExp | null;
}

/** Classifies one server_name value the way nginx does. */
export function parseServerName(raw: string): NginxServerName {
  if (raw.startsWith('~')) return { raw, kind: 'regex', key: raw.slice(1), regex: compilePcre(raw.slice(1)) };
  const v = raw.toLowerCase();
  if (v.startsWith('*.')) {
    const key = v.slice(2);
    return key && !key.includes('*') ? { raw, kind: 'head', key } : { raw, kind: 'invalid', key: v };
  }
  if (v.endsWith('.*')) {
    const key = v.slice(0, -2);
    return key && !key.includes('*') ? { raw, kind: 'tail', key } : { raw, kind: 'invalid', key: v };
  }
  if (v.includes('*')) return { raw, kind: 'invalid', key: v };
  if (v.startsWith('.') && v.length > 1) return { raw, kind: 'dot', key: v.slice(1) };
  return { raw, kind: 'exact', key: v };
}

/** A PCRE server_name pattern as a caseless JavaScript RegExp, or null when JavaScript cannot compile it. */
export function compilePcre(pattern: string): RegExp | null {
  let src = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  src = src.replace(/^\(\?i\)/, '');
  try {
    return new RegExp(src, 'i');
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}

/** How a server_name value matches a host (lower case), ignoring precedence; null when it does not. */
export function serverNameMatches(n: NginxServerName, host: string): boolean | null {
  switch (n.kind) {
    case 'exact':
      return n.key === host;
    case 'head':
      return host.length > n.key.length + 1 && host.endsWith(`.${n.key}`);
    case 'dot':
      return host === n.key || host.endsWith(`.${n.key}`);
    case 'tail':
      return host.length > n.key.length + 1 && host.startsWith(`${n.key}.`);
    case 'regex':
      return n.regex ? n.regex.test(host) : null;
    case 'invalid':
      return false;
  }
}
