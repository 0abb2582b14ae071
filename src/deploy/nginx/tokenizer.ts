/**
 * One nginx configuration file's text as a directive tree, read the way ngx_conf_read_token reads
 * it (pure: text in, data out). The dump around it is split by dump.ts; includes are spliced by
 * includes.ts.
 *
 * Facts this follows (nginx 1.22, checked against the binary): `#` starts a comment only where a
 * new word could start (`a#b` is one word); quotes only open at a word's start and must be
 * followed by a space, `;` or `{`; a backslash escapes the next character (`\"`, `\'`, `\\` lose
 * it, `\t` `\r` `\n` become controls, others keep it); `${` inside a word does not open a block;
 * `}` inside a word is part of it. A block never spans files, so each file parses on its own.
 */
import { ValidationError } from '../../core/errors.js';

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

/** The defaults, with what the caller set. */
export function limitsOf(l: Partial<NginxLimits> | undefined): NginxLimits {
  return { ...DEFAULT_NGINX_LIMITS, ...l };
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
