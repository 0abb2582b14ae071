/**
 * Every `include` of a parsed dump spliced in place, as nginx does: a relative path resolves
 * against the main file's folder, a glob matches the files present in the dump (byte order), a
 * file including itself is an error. Pure.
 */
import { posix } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { NginxDump, NginxDumpFile } from './dump.js';
import { isNginxGlob, matchNginxGlob } from './glob.js';
import { limitsOf, type NginxDirective, type NginxLimits } from './tokenizer.js';

export interface NginxResolved {
  /** The main file's directives with every include spliced in (see NginxDirective.included). */
  directives: NginxDirective[];
  /** Includes that matched nothing although they name one file, includes with a wrong argument count. */
  warnings: string[];
}

/** Splices every include into a copy of the main file's tree. Throws on include cycles and limits. */
export function resolveNginxIncludes(dump: NginxDump, limits?: Partial<NginxLimits>): NginxResolved {
  const lim = limitsOf(limits);
  const byPath = new Map<string, NginxDumpFile>();
  for (const f of dump.files) {
    byPath.set(f.path, f);
    const n = posix.normalize(f.path);
    if (!byPath.has(n)) byPath.set(n, f);
  }
  const normalized = dump.files.map((f) => ({ norm: posix.normalize(f.path), file: f }));
  const warnings: string[] = [];
  let count = 0;

  const targets = (d: NginxDirective): NginxDumpFile[] => {
    const arg = d.args[0] as string;
    const full = arg.startsWith('/') ? arg : dump.confPrefix + arg;
    if (!isNginxGlob(full)) {
      const f = byPath.get(full) ?? byPath.get(posix.normalize(full));
      if (!f) warnings.push(`${d.file}:${d.line}: include ${arg}: ${full} is not in the nginx -T output (was the dump taken from another configuration?)`);
      return f ? [f] : [];
    }
    const pattern = posix.normalize(full);
    return normalized
      .filter((x) => matchNginxGlob(pattern, x.norm))
      .sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : 0))
      .map((x) => x.file);
  };

  const resolve = (list: NginxDirective[], depth: number, chain: string[]): NginxDirective[] => {
    const out: NginxDirective[] = [];
    for (const d of list) {
      if (++count > lim.maxDirectives) throw new ValidationError(`${d.file}:${d.line}: more than ${lim.maxDirectives} directives once includes are spliced in; refusing to go on`);
      const copy: NginxDirective = { name: d.name, args: d.args, file: d.file, line: d.line };
      if (d.block) {
        if (depth + 1 > lim.maxDepth) throw new ValidationError(`${d.file}:${d.line}: blocks and includes nested deeper than ${lim.maxDepth}`);
        copy.block = resolve(d.block, depth + 1, chain);
      } else if (d.name === 'include') {
        if (d.args.length !== 1) {
          warnings.push(`${d.file}:${d.line}: include takes one argument, not ${d.args.length}`);
        } else {
          const arg = d.args[0] as string;
          copy.includePath = posix.normalize(arg.startsWith('/') ? arg : dump.confPrefix + arg);
          copy.included = targets(d).map((f) => {
            if (chain.includes(f.path)) {
              throw new ValidationError(`${d.file}:${d.line}: include ${d.args[0]} includes itself (${[...chain, f.path].join(' → ')})`);
            }
            if (depth + 1 > lim.maxDepth) throw new ValidationError(`${d.file}:${d.line}: blocks and includes nested deeper than ${lim.maxDepth}`);
            return { file: f.path, directives: resolve(f.directives, depth + 1, [...chain, f.path]) };
          });
        }
      }
      out.push(copy);
    }
    return out;
  };
  const main = dump.files[0] as NginxDumpFile;
  return { directives: resolve(main.directives, 0, [main.path]), warnings };
}

/** Yields the directives of a list with includes flattened in place (the include itself first). */
export function* expandIncludes(list: readonly NginxDirective[]): Generator<NginxDirective> {
  for (const d of list) {
    yield d;
    if (d.included) for (const f of d.included) yield* expandIncludes(f.directives);
  }
}
