/**
 * `${env:VAR}` and `${file:PATH}` in string values, so secrets stay out of the config file.
 * Messages name the expression and key path, never the value.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, errorMessage } from '../core/errors.js';
import { formatKeyPath, type KeyPath } from './kit.js';

export interface ExpandOptions {
  /** The config file, for messages. */
  file: string;
  /** `${file:…}` paths are relative to this folder (the config file's). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /**
   * "error" (default): a missing variable or file fails. "keep": leave the expression as written,
   * so `certs add` can check and edit a config whose secrets only the service can see.
   */
  missing?: 'error' | 'keep';
  /** A suffix like " (line 3, column 5)" for a key path. */
  locate?: (path: KeyPath) => string;
}

export interface ExpandResult {
  value: unknown;
  /** Formatted key path → the original text, for every string that contained an expression. */
  expanded: Map<string, string>;
}

// `$${` is the escape for a literal `${`; a `${` without `}` is an error, not text.
const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SYNTAX = 'expected ${env:NAME} or ${file:PATH} (write $${ for a literal "${")';

function readSecretFile(path: string): string | { problem: string } {
  try {
    // Trailing newlines are what editors and `echo >` add, never part of the secret.
    return readFileSync(path, 'utf8').replace(/[\r\n]+$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `file ${path} not found` };
    if (code === 'EACCES' || code === 'EPERM') return { problem: `file ${path} is not readable (permission denied)` };
    if (code === 'EISDIR') return { problem: `${path} is a directory; expected a file` };
    return { problem: `cannot read ${path}: ${errorMessage(err)}` };
  }
}

export function expandString(text: string, path: KeyPath, opts: ExpandOptions): string {
  const fail = (message: string): never => {
    throw new ConfigError(message + (opts.locate?.(path) ?? ''), { file: opts.file, keyPath: formatKeyPath(path) });
  };
  return text.replace(TOKEN, (match: string, body: string | undefined) => {
    if (match === '$${') return '${';
    if (body === undefined) return fail(`unterminated "\${" in the value; ${SYNTAX}`);
    const colon = body.indexOf(':');
    const scheme = colon < 0 ? body : body.slice(0, colon);
    const arg = colon < 0 ? '' : body.slice(colon + 1);
    if (scheme === 'env') {
      if (!ENV_NAME.test(arg)) return fail(`"${match}": invalid environment variable name; expected letters, digits and underscores`);
      const value = opts.env[arg];
      if (value !== undefined && value !== '') return value;
      if (opts.missing === 'keep') return match;
      return fail(`"${match}": environment variable ${arg} is ${value === undefined ? 'not set' : 'set but empty'}`);
    }
    if (scheme === 'file') {
      if (arg.trim() === '') return fail(`"${match}": the file path is empty; ${SYNTAX}`);
      const got = readSecretFile(resolve(opts.baseDir, arg));
      if (typeof got === 'string') return got;
      if (opts.missing === 'keep') return match;
      return fail(`"${match}": ${got.problem}`);
    }
    return fail(`unknown expansion "${match}"; ${SYNTAX}`);
  });
}

/**
 * Expand every string value of a parsed config (keys are left alone). One pass only: an expanded
 * value is never expanded again, so a secret containing "${file:…}" cannot read other files.
 */
export function expandTree(tree: unknown, opts: ExpandOptions): ExpandResult {
  const expanded = new Map<string, string>();
  // One path, pushed and popped (a copy per node was most of a 100,000-domain walk), and a
  // subtree with nothing to expand is returned as it was: the caller can tell by identity, and
  // config/load.ts does (parse-cache keeps domains[] validated only when nothing in it expanded).
  const path: (string | number)[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('${')) return v;
      const at = [...path];
      const out = expandString(v, at, opts);
      expanded.set(formatKeyPath(at), v);
      return out;
    }
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const item = walk(v[i]);
        path.pop();
        if (item !== v[i]) (copy ??= v.slice())[i] = item;
      }
      return copy ?? v;
    }
    if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
      const entries = Object.entries(v);
      let changed = false;
      for (const entry of entries) {
        path.push(entry[0]);
        const item = walk(entry[1]);
        path.pop();
        if (item !== entry[1]) {
          entry[1] = item;
          changed = true;
        }
      }
      return changed ? Object.fromEntries(entries) : v;
    }
    return v;
  };
  return { value: walk(tree), expanded };
}
