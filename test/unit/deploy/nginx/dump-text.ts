// Shared by the nginx reader's tests: dump text as nginx -T prints it, and directive trees in a compact shape.
import type { NginxDirective } from '../../../../src/deploy/nginx/tokenizer.js';

/** A dump the way nginx -T prints it: header, content, one extra newline. */
export function dump(files: Array<[path: string, content: string]>): string {
  return files.map(([p, c]) => `# configuration file ${p}:\n${c}\n`).join('');
}

/** Directives as [name, ...args] with blocks as nested arrays, for compact expectations. */
export type Shape = Array<string | Shape[]>;
export function shape(list: NginxDirective[]): Shape[] {
  return list.map((d) => (d.block ? [d.name, ...d.args, shape(d.block)] : [d.name, ...d.args]) as Shape);
}
