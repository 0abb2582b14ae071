/**
 * A fast path for loading large configs. The `yaml` package is the reference parser here (it
 * keeps comments and positions for `certs add/remove` and for line numbers in errors), but for
 * a 10,000-domain inventory it needs over a second and ~250 MB; js-yaml builds the same plain
 * tree in a tenth of the time and memory. It is used only for large files, only with YAML 1.2's
 * core schema (as `yaml` uses), and only when it succeeds: any error, an empty or non-mapping
 * document, or alias expansion beyond the text's own size (a "billion laughs" document) falls
 * back to `yaml`, whose messages and protections then apply.
 */
import { createRequire } from 'node:module';

export const FAST_PATH_MIN_BYTES = 64 * 1024;

type JsYaml = typeof import('js-yaml');
let jsYaml: JsYaml | undefined;
function lib(): JsYaml {
  return (jsYaml ??= createRequire(import.meta.url)('js-yaml') as JsYaml);
}

/** Counts nodes as a walk would visit them (aliases count again), stopping past `limit`. */
function withinBudget(tree: unknown, limit: number): boolean {
  let visits = 0;
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const v = stack.pop();
    if (++visits > limit) return false;
    // One push per child: push(...children) passes them as arguments, and V8 throws a
    // RangeError past ~125k of them (a long list of domains or endpoints).
    if (Array.isArray(v)) for (const child of v) stack.push(child);
    else if (typeof v === 'object' && v !== null) for (const child of Object.values(v)) stack.push(child);
  }
  return true;
}

/** The plain tree of a large config, or undefined when the reference parser must decide. */
export function fastTree(text: string): Record<string, unknown> | undefined {
  if (text.length < FAST_PATH_MIN_BYTES) return undefined;
  let tree: unknown;
  try {
    const { load, CORE_SCHEMA } = lib();
    tree = load(text, { schema: CORE_SCHEMA });
  } catch (err) {
    // The reference parser reports it, with its line numbers and wording.
    void err;
    return undefined;
  }
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) return undefined;
  // Without aliases every node costs at least one character of text.
  return withinBudget(tree, text.length) ? (tree as Record<string, unknown>) : undefined;
}
