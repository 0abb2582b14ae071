/**
 * nginx configuration as `nginx -T` prints it, read the way nginx reads it (pure: text in, data out).
 *
 *   parseNginxDump(text)          split the dump into its files (`# configuration file <path>:`)
 *                                 and parse each into a directive tree (nginx's own tokenizer rules)
 *   resolveNginxIncludes(dump)    splice every `include` (relative to the main file's folder,
 *                                 globs against the files present in the dump), as nginx does
 *   extractHttpServers(resolved)  the `http > server` blocks: listens, server_names, includes
 *   selectServer(group, host)     which block nginx picks for a Host/SNI on one listen address
 *
 * Facts this follows (nginx 1.22, checked against the binary):
 * - The tokenizer: `#` starts a comment only where a new word could start (`a#b` is one word);
 *   quotes only open at a word's start and must be followed by a space, `;` or `{`; a backslash
 *   escapes the next character (`\"`, `\'`, `\\` lose it, `\t` `\r` `\n` become controls, others
 *   keep it); `${` inside a word does not open a block; `}` inside a word is part of it.
 * - A block never spans files, so each file parses on its own.
 * - `nginx -T` prints every file once, in the order first read, even when it is included twice.
 * - Glob includes are sorted (byte order) and `*` / `?` do not cross `/` nor match a leading dot.
 * - server_name: exact names win, then the longest `*.x` / `.x`, then the longest `x.*`, then the
 *   first matching regex (caseless, PCRE); `.x` and `x` (or `.x` and `*.x`) on one address
 *   conflict and the later one is ignored entirely; `ssl` on any listen of an address:port makes
 *   every server block on that address:port speak TLS.
 */
import { posix } from 'node:path';
import { ValidationError } from './errors.js';
import { canonicalIPv6 } from './ip.js';

export interface NginxLimits {
  /** Largest dump accepted, in UTF-16 code units (≈ bytes for ASCII); default 64 MiB. */
  maxChars: number;
  /** Deepest nesting of blocks and includes together; default 50. */
  maxDepth: number;
  /** Most directives parsed, and again most directives after includes are spliced; default 2,000,000. */
  maxDirectives: number;
}

export const DEFAULT_NGINX_LIMITS: NginxLimits = { maxChars: 64 * 1024 * 1024, maxDepth: 50, maxDirectives: 2_000_000 };

export interface NginxDirective {
  name: string;
  args: string[];
  /** The file it is written in, as the dump names it. */
  file: string;
  /** 1-based line of the directive's first word in that file. */
  line: number;
  /** Present when the directive opened a block (`{ … }`), even an empty one. */
  block?: NginxDirective[];
  /** Set by resolveNginxIncludes on `include` directives: the files pulled in, in nginx's order. */
  included?: NginxIncludedFile[];
  /**
   * Set by resolveNginxIncludes on `include` directives: the argument as an absolute, normalised
   * path (relative ones resolved against the main file's folder, as nginx does), so a file that
   * does not exist yet can be matched against a glob.
   */
  includePath?: string;
}

export interface NginxIncludedFile {
  file: string;
  directives: NginxDirective[];
}

export interface NginxDumpFile {
  path: string;
  /** 1-based line of its `# configuration file` header in the dump. */
  dumpLine: number;
  directives: NginxDirective[];
}

export interface NginxDump {
  files: NginxDumpFile[];
  /** The main configuration file (the first one printed). */
  main: string;
  /** Folder relative include paths resolve against: the main file's folder, with a trailing `/`. */
  confPrefix: string;
}

export interface NginxResolved {
  /** The main file's directives with every include spliced in (see NginxDirective.included). */
  directives: NginxDirective[];
  /** Includes that matched nothing although they name one file, includes with a wrong argument count. */
  warnings: string[];
}

const HEADER_RE = /^# configuration file (.+):\r?$/gm;

function limitsOf(l: Partial<NginxLimits> | undefined): NginxLimits {
  return { ...DEFAULT_NGINX_LIMITS, ...l };
}

/** Splits `nginx -T` output into its files and parses each one. Throws ValidationError naming file:line. */
export function parseNginxDump(text: string, limits?: Partial<NginxLimits>): NginxDump {
  const lim = limitsOf(limits);
  if (text.length > lim.maxChars) {
    throw new ValidationError(`nginx -T output is ${text.length} characters long; refusing more than ${lim.maxChars}`);
  }
  const headers: Array<{ path: string; index: number; contentStart: number }> = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(HEADER_RE)) {
    const path = m[1] as string;
    // nginx prints each file once: a repeated header can only be a comment inside a file.
    if (seen.has(path)) continue;
    seen.add(path);
    const index = m.index ?? 0;
    const nl = text.indexOf('\n', index);
    headers.push({ path, index, contentStart: nl === -1 ? text.length : nl + 1 });
  }
  const first = headers[0];
  if (!first) {
    throw new ValidationError('this does not look like the output of nginx -T: no "# configuration file <path>:" line', {
      hint: 'nginx.dumpCommand must print the configuration the way `nginx -T` does',
    });
  }
  if (text.slice(0, first.index).trim() !== '') {
    throw new ValidationError(`this does not look like the output of nginx -T: text before the first "# configuration file" line: ${JSON.stringify(text.slice(0, Math.min(first.index, 80)))}`);
  }
  const counter = { n: 0 };
  const files: NginxDumpFile[] = [];
  let line = 1;
  let lineAt = 0;
  for (const [i, h] of headers.entries()) {
    line += countNewlines(text, lineAt, h.index);
    lineAt = h.index;
    const end = headers[i + 1]?.index ?? text.length;
    const content = text.slice(h.contentStart, end);
    files.push({ path: h.path, dumpLine: line, directives: parseNginxConfig(content, h.path, lim, counter) });
  }
  const main = first.path;
  return { files, main, confPrefix: posix.dirname(main).replace(/\/?$/, '/') };
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i !== -1 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

const isSpace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';

/** nginx's copy of a word: `\"` `\'` `\\` lose the backslash, `\t` `\r` `\n` become controls. */
function unescape(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === '\\' && i + 1 < raw.length) {
      const n = raw[i + 1] as string;
      if (n === '"' || n === "'" || n === '\\') {
        out += n;
        i++;
        continue;
      }
      if (n === 't' || n === 'r' || n === 'n') {
        out += n === 't' ? '\t' : n === 'r' ? '\r' : '\n';
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/**
 * Parses one configuration file's text into a directive tree, following ngx_conf_read_token.
 * Throws ValidationError `<file>:<line>: <what nginx would say>` on a syntax error.
 */
export function parseNginxConfig(text: string, file: string, limits?: Partial<NginxLimits>, counter: { n: number } = { n: 0 }): NginxDirective[] {
  const lim = limitsOf(limits);
  if (text.length > lim.maxChars) throw new ValidationError(`${file}: ${text.length} characters; refusing more than ${lim.maxChars}`);
  const root: NginxDirective[] = [];
  const stack: Array<{ list: NginxDirective[]; opener: NginxDirective | null }> = [{ list: root, opener: null }];
  let words: Array<{ value: string; line: number }> = [];
  let line = 1;
  let lastSpace = true;
  let needSpace = false;
  let sharp = false;
  let quoted = false;
  let sQuoted = false;
  let dQuoted = false;
  let variable = false;
  let start = 0;
  let startLine = 1;
  const fail = (msg: string): ValidationError => new ValidationError(`${file}:${line}: ${msg}`);
  const reset = (): void => {
    lastSpace = true;
    needSpace = false;
    variable = false;
    quoted = false;
    sQuoted = false;
    dQuoted = false;
  };
  const end = (ch: ';' | '{'): void => {
    const [first, ...rest] = words;
    if (!first) throw fail(`unexpected "${ch}"`);
    if (++counter.n > lim.maxDirectives) throw fail(`more than ${lim.maxDirectives} directives; refusing to go on`);
    const d: NginxDirective = { name: first.value, args: rest.map((w) => w.value), file, line: first.line };
    (stack[stack.length - 1] as (typeof stack)[number]).list.push(d);
    if (ch === '{') {
      if (stack.length > lim.maxDepth) throw fail(`blocks nested deeper than ${lim.maxDepth}`);
      d.block = [];
      stack.push({ list: d.block, opener: d });
    }
    words = [];
    reset();
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\n') {
      line++;
      sharp = false;
    }
    if (sharp) continue;
    if (quoted) {
      quoted = false;
      continue;
    }
    if (needSpace) {
      if (isSpace(ch)) {
        lastSpace = true;
        needSpace = false;
        continue;
      }
      if (ch === ';' || ch === '{') {
        end(ch);
        continue;
      }
      if (ch !== ')') throw fail(`unexpected "${ch}"`);
      lastSpace = true;
      needSpace = false;
    }
    if (lastSpace) {
      start = i;
      startLine = line;
      if (isSpace(ch)) continue;
      switch (ch) {
        case ';':
        case '{':
          end(ch);
          continue;
        case '}': {
          if (words.length > 0) throw fail('unexpected "}"');
          if (stack.length === 1) throw fail('unexpected "}"');
          stack.pop();
          reset();
          continue;
        }
        case '#':
          sharp = true;
          continue;
        case '\\':
          quoted = true;
          lastSpace = false;
          continue;
        case '"':
          start = i + 1;
          dQuoted = true;
          lastSpace = false;
          continue;
        case "'":
          start = i + 1;
          sQuoted = true;
          lastSpace = false;
          continue;
        case '$':
          variable = true;
          lastSpace = false;
          continue;
        default:
          lastSpace = false;
          continue;
      }
    }
    if (ch === '{' && variable) continue;
    variable = false;
    if (ch === '\\') {
      quoted = true;
      continue;
    }
    if (ch === '$') {
      variable = true;
      continue;
    }
    let found = false;
    if (dQuoted) {
      if (ch === '"') {
        dQuoted = false;
        needSpace = true;
        found = true;
      }
    } else if (sQuoted) {
      if (ch === "'") {
        sQuoted = false;
        needSpace = true;
        found = true;
      }
    } else if (isSpace(ch) || ch === ';' || ch === '{') {
      lastSpace = true;
      found = true;
    }
    if (found) {
      words.push({ value: unescape(text.slice(start, i)), line: startLine });
      if (ch === ';' || ch === '{') end(ch);
    }
  }
  if (words.length > 0 || !lastSpace) throw fail('unexpected end of file, expecting ";" or "}"');
  if (stack.length > 1) {
    const open = stack[stack.length - 1]?.opener as NginxDirective;
    throw fail(`unexpected end of file, expecting "}" (the block "${open.name}" opened at line ${open.line} is not closed)`);
  }
  return root;
}

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

// ---------------------------------------------------------------------------------------------
// http > server blocks

export interface NginxListen {
  file: string;
  line: number;
  /** As written, e.g. ["[::]:443", "ssl", "http2"]; empty for the implicit `listen *:80`. */
  args: string[];
  /** How nginx groups listeners: `*:443`, `[::]:443`, `127.0.0.1:443`, `unix:/run/x.sock`; QUIC adds ` quic`. */
  key: string;
  /** `*` (IPv4 any), an IPv4 address, `[v6]`, a host name, or `unix:/path`. */
  address: string;
  port: number | null;
  ssl: boolean;
  http2: boolean;
  quic: boolean;
  defaultServer: boolean;
  /** True for the `*:80` nginx assumes in a server block without any listen. */
  implicit: boolean;
}

export type NginxServerNameKind = 'exact' | 'head' | 'dot' | 'tail' | 'regex' | 'invalid';

export interface NginxServerName {
  raw: string;
  kind: NginxServerNameKind;
  /** Lower case: the name (exact), the part after `*.` or `.` (head, dot), before `.*` (tail), the pattern (regex). */
  key: string;
  /** regex kind: the pattern compiled as a JavaScript RegExp, or null when it does not compile. */
  regex?: RegExp | null;
}

export interface NginxIncludeUse {
  /** The include directive itself. */
  file: string;
  line: number;
  pattern: string;
  /** The pattern as an absolute, normalised path (see NginxDirective.includePath). */
  path: string;
  /** Files it pulled in directly. */
  files: string[];
  /** Blocks between the server block and this include, e.g. ["location /"]; [] at server level. */
  context: string[];
}

export interface NginxServerBlock {
  /** Where `server {` is written. */
  file: string;
  line: number;
  /** Position among all http server blocks, in configuration order. */
  index: number;
  listens: NginxListen[];
  /** server_name values as written (several server_name directives add up). */
  serverNames: string[];
  names: NginxServerName[];
  /** Every include inside the block, transitively, in order. */
  includes: NginxIncludeUse[];
  /** Every file pulled in (transitively, at any depth), in order of first appearance. */
  files: string[];
  /** ssl_certificate / ssl_certificate_key at server level, wherever written (the block or an include). */
  sslDirectives: Array<{ name: string; value: string; file: string; line: number }>;
}

/** Server blocks of every `http` block, with includes followed. */
export function extractHttpServers(resolved: readonly NginxDirective[]): NginxServerBlock[] {
  const servers: NginxServerBlock[] = [];
  for (const top of expandIncludes(resolved)) {
    if (top.name !== 'http' || !top.block) continue;
    for (const s of expandIncludes(top.block)) {
      if (s.name === 'server' && s.block) servers.push(readServer(s, servers.length));
    }
  }
  return servers;
}

function readServer(s: NginxDirective, index: number): NginxServerBlock {
  const server: NginxServerBlock = { file: s.file, line: s.line, index, listens: [], serverNames: [], names: [], includes: [], files: [], sslDirectives: [] };
  const files = new Set<string>();
  const walk = (list: readonly NginxDirective[], context: string[]): void => {
    for (const d of list) {
      if (d.name === 'include' && d.included) {
        const pulled = d.included.map((f) => f.file);
        server.includes.push({ file: d.file, line: d.line, pattern: d.args[0] ?? '', path: d.includePath ?? d.args[0] ?? '', files: pulled, context });
        for (const f of d.included) {
          files.add(f.file);
          walk(f.directives, context);
        }
        continue;
      }
      if (context.length === 0) {
        if (d.name === 'listen') server.listens.push(parseListen(d.args, d.file, d.line));
        else if (d.name === 'server_name') server.serverNames.push(...d.args);
        else if (d.name === 'ssl_certificate' || d.name === 'ssl_certificate_key') server.sslDirectives.push({ name: d.name, value: d.args[0] ?? '', file: d.file, line: d.line });
      }
      if (d.block) walk(d.block, [...context, [d.name, ...d.args].join(' ')]);
    }
  };
  walk(s.block ?? [], []);
  if (server.listens.length === 0) server.listens.push({ ...parseListen(['*:80'], s.file, s.line), args: [], implicit: true });
  if (server.serverNames.length === 0) server.serverNames.push('');
  server.names = server.serverNames.map(parseServerName);
  server.files = [...files];
  return server;
}

/** Parses a listen directive's arguments (address part and the flags this tool cares about). */
export function parseListen(args: readonly string[], file = '', line = 0): NginxListen {
  const spec = args[0] ?? '';
  let address: string;
  let port: number | null = 80;
  if (spec.startsWith('unix:')) {
    address = spec;
    port = null;
  } else if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    const inner = close === -1 ? spec.slice(1) : spec.slice(1, close);
    address = `[${canonicalIPv6(inner) ?? inner.toLowerCase()}]`;
    const rest = close === -1 ? '' : spec.slice(close + 1);
    if (rest.startsWith(':')) port = Number(rest.slice(1));
  } else if (/^\d+$/.test(spec)) {
    address = '*';
    port = Number(spec);
  } else {
    const colon = spec.lastIndexOf(':');
    address = (colon === -1 ? spec : spec.slice(0, colon)).toLowerCase();
    if (colon !== -1) port = Number(spec.slice(colon + 1));
    if (address === '0.0.0.0' || address === '') address = '*';
  }
  const flags = new Set(args.slice(1));
  const quic = flags.has('quic');
  return {
    file,
    line,
    args: [...args],
    key: `${port === null ? address : `${address}:${port}`}${quic ? ' quic' : ''}`,
    address,
    port: port !== null && Number.isFinite(port) ? port : null,
    ssl: flags.has('ssl'),
    http2: flags.has('http2'),
    quic,
    defaultServer: flags.has('default_server') || flags.has('default'),
    implicit: false,
  };
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

export interface NginxListenGroup {
  key: string;
  /** Some server block listens on this address:port with `ssl`, so all of them speak TLS here. */
  tls: boolean;
  /** Server blocks listening here, in configuration order. */
  servers: NginxServerBlock[];
  /** Where nginx sends a name nothing matches: the default_server, else the first. */
  defaultServer: NginxServerBlock;
}

/** Groups server blocks by listen address:port (nginx's unit for `ssl` and for name lookup). */
export function groupByListen(servers: readonly NginxServerBlock[]): NginxListenGroup[] {
  const groups = new Map<string, { servers: NginxServerBlock[]; tls: boolean; def?: NginxServerBlock }>();
  for (const s of servers) {
    const keys = new Set<string>();
    for (const l of s.listens) {
      let g = groups.get(l.key);
      if (!g) groups.set(l.key, (g = { servers: [], tls: false }));
      if (!keys.has(l.key)) g.servers.push(s);
      keys.add(l.key);
      if (l.ssl) g.tls = true;
      if (l.defaultServer && !g.def) g.def = s;
    }
  }
  return [...groups].map(([key, g]) => ({ key, tls: g.tls, servers: g.servers, defaultServer: g.def ?? (g.servers[0] as NginxServerBlock) }));
}

export type NginxMatchKind = 'exact' | 'head' | 'tail' | 'regex';

export interface NginxSelection {
  /** The block nginx picks for the host by server_name, or null when none matches (the default server gets it). */
  server: NginxServerBlock | null;
  by?: NginxMatchKind;
  /** The server_name value that won. */
  serverName?: string;
  /** Regexes JavaScript could not compile that come before the winner (or anywhere, without one): nginx might pick them instead. */
  uncertain: Array<{ serverName: string; file: string; line: number }>;
  /** Values nginx ignores here as "conflicting server name", with the block they are written in. */
  ignored: Array<{ serverName: string; file: string; line: number }>;
}

interface NameIndex {
  exact: Map<string, { s: NginxServerBlock; raw: string }>;
  head: Map<string, { s: NginxServerBlock; raw: string }>;
  tail: Map<string, { s: NginxServerBlock; raw: string }>;
  regexes: Array<{ s: NginxServerBlock; n: NginxServerName }>;
  ignored: NginxSelection['ignored'];
}

// Indexed once per server list: a check asks about many names on the same groups.
const nameIndexes = new WeakMap<readonly NginxServerBlock[], NameIndex>();

function nameIndex(servers: readonly NginxServerBlock[]): NameIndex {
  const cached = nameIndexes.get(servers);
  if (cached) return cached;
  const idx: NameIndex = { exact: new Map(), head: new Map(), tail: new Map(), regexes: [], ignored: [] };
  const { exact, head, tail, regexes, ignored } = idx;
  for (const s of servers) {
    for (const n of s.names) {
      const entry = { s, raw: n.raw };
      const conflict = (): void => {
        ignored.push({ serverName: n.raw, file: s.file, line: s.line });
      };
      switch (n.kind) {
        case 'exact':
          if (exact.has(n.key)) conflict();
          else exact.set(n.key, entry);
          break;
        case 'dot':
          if (exact.has(n.key) || head.has(n.key)) conflict();
          else {
            exact.set(n.key, entry);
            head.set(n.key, entry);
          }
          break;
        case 'head':
          if (head.has(n.key)) conflict();
          else head.set(n.key, entry);
          break;
        case 'tail':
          if (tail.has(n.key)) conflict();
          else tail.set(n.key, entry);
          break;
        case 'regex':
          regexes.push({ s, n });
          break;
        case 'invalid':
          break;
      }
    }
  }
  nameIndexes.set(servers, idx);
  return idx;
}

/**
 * Which server block of one listen group nginx picks for `host` (lower case) by server_name.
 * The group's server list is indexed on first use: do not change it afterwards.
 */
export function selectServer(group: Pick<NginxListenGroup, 'servers'>, host: string): NginxSelection {
  const { exact, head, tail, regexes, ignored } = nameIndex(group.servers);
  const hit = (e: { s: NginxServerBlock; raw: string }, by: NginxMatchKind): NginxSelection => ({ server: e.s, by, serverName: e.raw, uncertain: [], ignored: [...ignored] });
  const e = exact.get(host);
  if (e) return hit(e, 'exact');
  // Longest `*.x` first: try every suffix of the host from the longest.
  for (let i = host.indexOf('.'); i !== -1; i = host.indexOf('.', i + 1)) {
    const h = head.get(host.slice(i + 1));
    if (h) return hit(h, 'head');
  }
  for (let i = host.lastIndexOf('.'); i > 0; i = host.lastIndexOf('.', i - 1)) {
    const t = tail.get(host.slice(0, i));
    if (t) return hit(t, 'tail');
  }
  const uncertain: NginxSelection['uncertain'] = [];
  for (const { s, n } of regexes) {
    const m = serverNameMatches(n, host);
    if (m === null) uncertain.push({ serverName: n.raw, file: s.file, line: s.line });
    else if (m) return { server: s, by: 'regex', serverName: n.raw, uncertain, ignored: [...ignored] };
  }
  return { server: null, uncertain, ignored: [...ignored] };
}

/** Everything the checks need from one dump. */
export interface NginxAnalysis {
  dump: NginxDump;
  resolved: NginxResolved;
  servers: NginxServerBlock[];
  groups: NginxListenGroup[];
}

export function analyseNginxDump(text: string, limits?: Partial<NginxLimits>): NginxAnalysis {
  const dump = parseNginxDump(text, limits);
  const resolved = resolveNginxIncludes(dump, limits);
  const servers = extractHttpServers(resolved.directives);
  return { dump, resolved, servers, groups: groupByListen(servers) };
}
