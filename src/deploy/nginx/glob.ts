/**
 * nginx's include globs, matched the way glob(3) matches them: sorted in byte order by the
 * caller, `*` and `?` never cross `/` nor match a leading dot, `[…]` / `[!…]` are classes. Pure.
 */

/**
 * Whether an include would pull in `file` once it exists: the same path, or a glob matching it.
 * Both are absolute and normalised (NginxDirective.includePath, a snippet path).
 */
export function includeWouldMatch(includePath: string, file: string): boolean {
  return isNginxGlob(includePath) ? matchNginxGlob(includePath, file) : includePath === file;
}

/** True when an include argument is a glob to nginx (it tests for `*`, `?` and `[`). */
export function isNginxGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/**
 * glob(3) matching of one path against a pattern, component by component: `*` and `?` never cross
 * `/`, `[…]` / `[!…]` are classes, and a leading dot must be matched literally.
 */
export function matchNginxGlob(pattern: string, path: string): boolean {
  const pp = pattern.split('/');
  const cp = path.split('/');
  if (pp.length !== cp.length) return false;
  for (const [i, p] of pp.entries()) {
    const c = cp[i] as string;
    if (c.startsWith('.') && !p.startsWith('.')) return false;
    if (!globComponentRe(p).test(c)) return false;
  }
  return true;
}

const globCache = new Map<string, RegExp>();

function globComponentRe(p: string): RegExp {
  const cached = globCache.get(p);
  if (cached) return cached;
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = p.indexOf(']', i + 2);
      if (close === -1) {
        re += '\\[';
        continue;
      }
      let body = p.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (x) => `\\${x}`)}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const compiled = new RegExp(`^${re}$`, 's');
  if (globCache.size > 1000) globCache.clear();
  globCache.set(p, compiled);
  return compiled;
}
