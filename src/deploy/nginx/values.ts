/**
 * Values written into nginx configuration by certs (template values, see core/template.ts).
 * nginx splits directives on whitespace and `;`, opens blocks with `{`, quotes with `"` and `'`,
 * expands `$variables`, escapes with `\` and comments with `#`; the same characters are shell
 * metacharacters for anyone who pastes a path into a shell. A value containing any of them
 * could end a directive and start another (`a.com;include /etc/passwd`), so it is refused
 * before anything is rendered or written, rather than quoted. Pure.
 */
import { ValidationError } from '../../core/errors.js';
import { canonicalIPv6, isIPv4, isIPv6, normalizeDomainName } from '../../core/names.js';

/** Characters that mean something to nginx or to a shell, beyond whitespace and control characters. */
const META = ';{}"\'`$#\\';

/** How a message names a character. */
function describeChar(ch: string): string {
  switch (ch) {
    case ' ': return 'a space';
    case '\t': return 'a tab';
    case '\n': return 'a newline';
    case '\r': return 'a carriage return';
    case '\0': return 'a NUL character';
    default: break;
  }
  const code = ch.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `the control character ${hex}`;
  if (/\s/u.test(ch)) return `the whitespace character ${hex}`;
  return JSON.stringify(ch);
}

/** The first character nginx or a shell would read as syntax, if any. */
function firstForbidden(value: string, extra: string): string | undefined {
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || /\s/u.test(ch)) return ch;
    if (META.includes(ch) || extra.includes(ch)) return ch;
  }
  return undefined;
}

function refuse(what: string, value: string, ch: string, kind: string): never {
  throw new ValidationError(
    `${what} ${JSON.stringify(value)}: ${describeChar(ch)} is not allowed in ${kind} written into nginx configuration ` +
      `(whitespace, control characters and ${META.split('').join(' ')} could end the directive or be expanded)`,
  );
}

/**
 * An absolute path that can stand unquoted as an nginx directive argument. `*` is refused too:
 * nginx treats it as a glob in `include`, and no path certs writes needs it.
 */
export function assertNginxSafePath(path: string, what: string): string {
  if (typeof path !== 'string' || path === '') throw new ValidationError(`${what}: expected an absolute path, got ${typeof path === 'string' ? 'an empty string' : typeof path}`);
  const bad = firstForbidden(path, '*');
  if (bad !== undefined) refuse(what, path, bad, 'a path');
  if (!path.startsWith('/')) throw new ValidationError(`${what} ${JSON.stringify(path)}: expected an absolute path (starting with "/")`);
  return path;
}

/**
 * A certificate name as the config holds it: an already-normalised DNS name (lower case,
 * A-labels, no trailing dot; a `*.` wildcard allowed) or a bare IPv4/IPv6 literal.
 */
export function assertNginxSafeName(name: string, what: string): string {
  if (typeof name !== 'string' || name === '') throw new ValidationError(`${what}: expected a DNS name or IP address, got ${typeof name === 'string' ? 'an empty string' : typeof name}`);
  const bad = firstForbidden(name, '');
  if (bad !== undefined) refuse(what, name, bad, 'a name');
  if (isIPv4(name)) return name;
  if (isIPv6(name)) {
    const canonical = canonicalIPv6(name);
    if (canonical !== name) throw new ValidationError(`${what} ${JSON.stringify(name)}: not a normalised IPv6 address; expected ${JSON.stringify(canonical)}`);
    return name;
  }
  const normal = normalizeDomainName(name, { allowWildcard: true, minLabels: 1, label: what });
  if (normal !== name) {
    throw new ValidationError(`${what} ${JSON.stringify(name)}: not a normalised name; expected ${JSON.stringify(normal)} (lower case, no trailing dot, IDN as xn-- labels)`);
  }
  return name;
}
