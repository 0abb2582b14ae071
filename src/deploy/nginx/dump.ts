/**
 * `nginx -T` output split into its files (`# configuration file <path>:` headers), each parsed by
 * the tokenizer. nginx prints every file once, in the order first read, even when it is included
 * twice; the first one printed is the main file. Pure.
 */
import { posix } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { limitsOf, parseNginxConfig, type NginxDirective, type NginxLimits } from './tokenizer.js';

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

const HEADER_RE = /^# configuration file (.+):\r?$/gm;

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
