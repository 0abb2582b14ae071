/**
 * The `http > server` blocks of a dump with includes spliced in: their listens, server_names,
 * includes (with the blocks around each) and ssl_certificate lines, wherever written. Pure.
 */
import { expandIncludes } from './includes.js';
import { parseListen, type NginxListen } from './listen.js';
import { parseServerName, type NginxServerName } from './server-name.js';
import type { NginxDirective } from './tokenizer.js';

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
