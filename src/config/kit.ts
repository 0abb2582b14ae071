/**
 * Small checking primitives for the config schema. Every failure is a ConfigError naming the
 * file, the key path, the value found and what was expected.
 */
import { resolve } from 'node:path';
import { ConfigError, ValidationError } from '../core/errors.js';
import { normalizeDomainName } from '../core/names.js';
import { nearest } from '../core/nearest.js';
import type { DomainConfig } from './types.js';

export type KeyPath = readonly (string | number)[];
export type Obj = Record<string, unknown>;

/** `[...path, key]` without the iterator protocol, which a cold loop over 10,000 domains pays for. */
export function child(path: KeyPath, key: string | number): KeyPath {
  const p = path.slice();
  p.push(key);
  return p;
}

export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export interface CheckContext {
  file: string;
  /** Folder relative paths are resolved against (the config file's folder). */
  baseDir: string;
  /** Key paths whose string came from ${env:…}/${file:…}, mapped to the text as written. */
  expanded?: ReadonlyMap<string, string>;
  /** A suffix like " (line 3, column 5)" for a key path, when the source is known. */
  locate?: (path: KeyPath) => string;
  /**
   * domains[] of this same text as validated before (config/parse-cache.ts): `validated` is used
   * instead of validating the list again; `allPlain` is set when validation took the fast path
   * (plainDomain) for every domain, whose result depends on nothing but the domain's own text.
   */
  domains?: { validated?: DomainConfig[]; allPlain?: boolean };
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export class Checker {
  constructor(readonly ctx: CheckContext) {}

  fail(path: KeyPath, message: string): never {
    const keyPath = formatKeyPath(path);
    throw new ConfigError(message + (this.ctx.locate?.(path) ?? ''), { file: this.ctx.file, ...(keyPath ? { keyPath } : {}) });
  }

  /** A value as messages show it; values that came from an expansion are never shown. */
  show(path: KeyPath, value: unknown): string {
    const expr = this.ctx.expanded?.get(formatKeyPath(path));
    return expr === undefined ? describe(value) : `${JSON.stringify(expr)} (expanded value not shown)`;
  }

  expected(path: KeyPath, value: unknown, expected: string): never {
    return this.fail(path, `expected ${expected}, got ${this.show(path, value)}`);
  }

  /** A mapping with only the given keys; unknown keys fail with the nearest valid one. */
  mapping(v: unknown, path: KeyPath, keys: readonly string[]): Obj {
    if (!isObj(v)) return this.expected(path, v, `a mapping (keys: ${keys.join(', ')})`);
    for (const key of Object.keys(v)) {
      if (keys.includes(key)) continue;
      const near = nearest(key, keys);
      this.fail([...path, key], near ? `unknown key; did you mean "${near}"?` : `unknown key; expected one of: ${keys.join(', ')}`);
    }
    return v;
  }

  /**
   * `o[key]` checked at `path.key` when set: like optional(o[key], [...path, key], check), but the
   * key path is built only for a value that is there (a 10,000-domain config has ~100,000
   * absent keys, and the paths were most of what validating it allocated).
   */
  field<T>(o: Obj, key: string, path: KeyPath, check: (v: unknown, path: KeyPath) => T): T | undefined {
    const v = o[key];
    return v === undefined || v === null ? undefined : check(v, child(path, key));
  }

  /** Absent and YAML null (`key:` with nothing after it) both mean "not set". */
  optional<T>(v: unknown, path: KeyPath, check: (v: unknown, path: KeyPath) => T): T | undefined {
    return v === undefined || v === null ? undefined : check(v, path);
  }

  required<T>(v: unknown, path: KeyPath, what: string, check: (v: unknown, path: KeyPath) => T): T {
    if (v === undefined || v === null) this.fail(path, `missing; expected ${what}`);
    return check(v, path);
  }

  string(v: unknown, path: KeyPath, what = 'a non-empty string'): string {
    if (typeof v !== 'string' || v.trim() === '') return this.expected(path, v, what);
    return v;
  }

  boolean(v: unknown, path: KeyPath): boolean {
    if (typeof v !== 'boolean') return this.expected(path, v, 'true or false');
    return v;
  }

  integer(v: unknown, path: KeyPath, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return this.expected(path, v, `an integer from ${min} to ${max}`);
    }
    return v;
  }

  list(v: unknown, path: KeyPath, what: string): unknown[] {
    if (!Array.isArray(v)) return this.expected(path, v, what);
    return v;
  }

  /** A command as an argv list (no shell): at least the program, all non-empty strings. */
  argv(v: unknown, path: KeyPath): string[] {
    const what = 'a command as a list of strings, like [nginx, -t]';
    const items = this.list(v, path, what);
    if (items.length === 0) this.fail(path, `empty; expected ${what}`);
    return items.map((item, i) => this.string(item, [...path, i], 'a non-empty string (one argument)'));
  }

  oneOf<T extends string>(v: unknown, path: KeyPath, values: readonly T[]): T {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const near = typeof v === 'string' ? nearest(v, values) : undefined;
    return this.expected(path, v, `one of ${values.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}`);
  }

  /** A path, resolved against the config file's folder. */
  path(v: unknown, path: KeyPath): string {
    const s = this.string(v, path, 'a file or directory path');
    if (s.includes('\0')) this.fail(path, 'a path must not contain NUL characters');
    return resolve(this.ctx.baseDir, s);
  }

  /** Run a core normalizer; its ValidationError becomes a ConfigError at `path`. */
  via<T>(v: unknown, path: KeyPath, what: string, normalize: (s: string) => T): T {
    const s = this.string(v, path, what);
    try {
      return normalize(s);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const expr = this.ctx.expanded?.get(formatKeyPath(path));
      const message = expr === undefined ? err.message : err.message.split(JSON.stringify(s)).join(this.show(path, s));
      return this.fail(path, message);
    }
  }

  email(v: unknown, path: KeyPath): string {
    const what = 'an email address like "ops@example.com"';
    const s = this.string(v, path, what).trim();
    const at = s.lastIndexOf('@');
    const local = s.slice(0, at);
    // Dot-atom local part (RFC 5322) only: quoted local parts are legal but never needed here.
    const okLocal = at > 0 && local.length <= 64 && /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local);
    if (!okLocal) return this.expected(path, v, what);
    const domain = this.via(s.slice(at + 1), path, what, (d) => normalizeDomainName(d, { label: 'email domain' }));
    return `${local}@${domain}`;
  }

  url(v: unknown, path: KeyPath, schemes: readonly string[]): string {
    const what = `a URL (${schemes.map((x) => `${x}://`).join(' or ')})`;
    const s = this.string(v, path, what).trim();
    let parsed: URL;
    try {
      parsed = new URL(s);
    } catch {
      return this.expected(path, v, what);
    }
    if (!schemes.includes(parsed.protocol.slice(0, -1)) || parsed.hostname === '') return this.expected(path, v, what);
    return s;
  }
}
