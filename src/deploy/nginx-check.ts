/**
 * `certs nginx check`: is each domain's snippet included where nginx will use it?
 *
 *   const dump = await runNginxDump(config.nginx.dumpCommand, { timeoutMs: 10_000 });
 *   const { domains, warnings } = checkSnippetIncludes({ dump, domains: [{ name, names, snippet }] });
 *
 * For every name of a domain, nginx's own choice decides: on each address:port that speaks TLS
 * (some listen there has `ssl`), the server block nginx picks for the name by server_name (exact,
 * then longest `*.x`, then longest `x.*`, then the first regex) must include the snippet at server
 * level. Different names may be served by different blocks; each block that wins a name needs the
 * include. A name no TLS block claims is a problem too (nginx would hand it to the default server,
 * which is not something to rely on). Warnings, which leave `included` true: the snippet included
 * twice in one block, in a block without TLS, in a block that serves none of the names, beside
 * another domain's snippet, or outside a server block.
 *
 * checkSnippetIncludes is pure; runNginxDump runs the dump command (argv, no shell).
 */
import { posix } from 'node:path';
import { DeployError, errorMessage } from '../core/errors.js';
import { ProcessError, runProcess } from '../lib/process.js';
import { analyseNginxDump, type NginxAnalysis } from './nginx/analyse.js';
import { includeWouldMatch } from './nginx/glob.js';
import type { NginxListenGroup } from './nginx/listen.js';
import { selectServer, type NginxMatchKind } from './nginx/select-server.js';
import { parseServerName, serverNameMatches } from './nginx/server-name.js';
import type { NginxIncludeUse, NginxServerBlock } from './nginx/servers.js';
import type { NginxDirective, NginxLimits } from './nginx/tokenizer.js';

export interface SnippetDomain {
  /** The domain's primary name (names the result). */
  name: string;
  /** Every name the certificate covers (primary included); `*.x` is checked with a probe name under x. */
  names: string[];
  /** Absolute path of the snippet file, as nginx's include would name it. */
  snippet: string;
}

export interface CheckSnippetIncludesInput {
  /** `nginx -T` output. */
  dump: string;
  domains: SnippetDomain[];
  limits?: Partial<NginxLimits>;
}

export type SnippetProblemCode =
  | 'no-tls-server'
  | 'not-included'
  | 'included-without-tls'
  | 'included-twice'
  | 'included-outside-server'
  | 'included-elsewhere'
  | 'shared-block'
  | 'uncertain-regex';

export interface SnippetProblem {
  code: SnippetProblemCode;
  /** error: some name is not served with this snippet; warning: it is, but something looks wrong. */
  severity: 'error' | 'warning';
  /** The name concerned, for per-name problems. */
  name?: string;
  message: string;
  /** What to change, with the exact line to add where there is one. */
  fix?: string;
  /** Where the problem is (a server block or an include line). */
  file?: string;
  line?: number;
}

export interface ServerRef {
  /** Where `server {` is written. */
  file: string;
  line: number;
  /** Each listen's arguments joined, e.g. "127.0.0.1:443 ssl"; "*:80 (implicit)" without any. */
  listens: string[];
  serverNames: string[];
  /** Some listen address of this block speaks TLS. */
  tls: boolean;
  /** How often the snippet is included at server level (0, 1, or more). */
  includes: number;
  /** The domain's names nginx sends to this block (on any address), in the domain's order. */
  serves: string[];
}

export interface NameVerdict {
  name: string;
  /** Served over TLS by at least one block, and every block serving it over TLS includes the snippet. */
  ok: boolean;
  /** The blocks nginx picks for this name, one entry per TLS address:port. */
  servedBy: Array<{ listen: string; file: string; line: number; by: NginxMatchKind; serverName: string; includesSnippet: boolean }>;
}

export interface SnippetCheck {
  domain: string;
  snippet: string;
  /** Every name is served over TLS by blocks that include the snippet (warnings aside). */
  included: boolean;
  /** Blocks that serve one of the names or include the snippet. */
  servers: ServerRef[];
  names: NameVerdict[];
  problems: SnippetProblem[];
  /** The problems' messages, one a line (errors first); absent when there are none. */
  problem?: string;
  /** The fixes, one a line, without repeats; absent when nothing needs changing. */
  fix?: string;
}

export interface SnippetCheckReport {
  domains: SnippetCheck[];
  /** About the dump itself (includes naming files the dump lacks, …). */
  warnings: string[];
  /** Files and http server blocks seen, for a summary line. */
  files: number;
  serverBlocks: number;
}

const WILDCARD_PROBE = 'certs-wildcard-probe';

/** Checks every domain's snippet against one `nginx -T` output. Throws ValidationError on unparsable input. */
export function checkSnippetIncludes(input: CheckSnippetIncludesInput): SnippetCheckReport {
  const a = analyseNginxDump(input.dump, input.limits);
  const ctx = checkContext(a, input.domains);
  const domains = input.domains.map((d) => checkDomain(ctx, d));
  return { domains, warnings: a.resolved.warnings, files: a.dump.files.length, serverBlocks: a.servers.length };
}

/** What every domain's check reads, built once: a check may cover many domains and blocks. */
interface CheckContext {
  tlsGroups: NginxListenGroup[];
  plainGroups: NginxListenGroup[];
  /** Some listen address of the block speaks TLS. */
  isTls: (s: NginxServerBlock) => boolean;
  /** Snippet path (normalised) → the domain it belongs to. */
  snippetOf: Map<string, string>;
  includes: IncludeIndex;
}

/** Where each file is included, by normalised path. */
interface IncludeIndex {
  /** Per server block: how often each file is included at the block's own level. */
  atServerLevel: Map<NginxServerBlock, Map<string, number>>;
  /** The server blocks that include a file, at any depth. */
  includedBy: Map<string, Set<NginxServerBlock>>;
  /** Include directives outside any http server block, in configuration order. */
  outsideList: OutsideInclude[];
  /** Those includes by the files they pull in. */
  outside: Map<string, OutsideInclude[]>;
}

function checkContext(a: NginxAnalysis, domains: readonly SnippetDomain[]): CheckContext {
  const tlsGroups = a.groups.filter((g) => g.tls);
  const tlsKeys = new Set(tlsGroups.map((g) => g.key));
  const includes = indexIncludes(a);
  countNotYetWritten(includes, a, domains);
  return {
    tlsGroups,
    plainGroups: a.groups.filter((g) => !g.tls),
    isTls: (s) => s.listens.some((l) => tlsKeys.has(l.key)),
    snippetOf: new Map(domains.map((d) => [norm(d.snippet), d.name])),
    includes,
  };
}

function indexIncludes(a: NginxAnalysis): IncludeIndex {
  const index: IncludeIndex = { atServerLevel: new Map(), includedBy: new Map(), outsideList: includesOutsideServers(a.resolved.directives), outside: new Map() };
  for (const s of a.servers) {
    index.atServerLevel.set(s, new Map());
    for (const u of s.includes) for (const f of u.files) countInclude(index, s, u, norm(f));
  }
  for (const u of index.outsideList) {
    for (const f of new Set(u.files.map(norm))) index.outside.set(f, [...(index.outside.get(f) ?? []), u]);
  }
  return index;
}

/** Records that server block `s` includes `file` (normalised) through the include `u`. */
function countInclude(index: IncludeIndex, s: NginxServerBlock, u: NginxIncludeUse, file: string): void {
  const counts = index.atServerLevel.get(s)!;
  if (u.context.length === 0) counts.set(file, (counts.get(file) ?? 0) + 1);
  const set = index.includedBy.get(file) ?? new Set();
  set.add(s);
  index.includedBy.set(file, set);
}

/**
 * A snippet that does not exist yet is in no include's file list, but an include whose path or
 * glob names it (`include /etc/nginx/certs/*.conf;`) pulls it in at the next reload: count those
 * as nginx's glob(3) would match them, so the first deploy is recognised as included.
 */
function countNotYetWritten(index: IncludeIndex, a: NginxAnalysis, domains: readonly SnippetDomain[]): void {
  const present = new Set(a.dump.files.map((f) => norm(f.path)));
  for (const snippet of new Set(domains.map((d) => norm(d.snippet)))) {
    if (present.has(snippet)) continue;
    for (const s of a.servers) {
      for (const u of s.includes) {
        if (!includeWouldMatch(norm(u.path), snippet)) continue;
        u.files.push(snippet);
        countInclude(index, s, u, snippet);
      }
    }
    for (const u of index.outsideList) {
      if (includeWouldMatch(norm(u.path), snippet)) index.outside.set(snippet, [...(index.outside.get(snippet) ?? []), u]);
    }
  }
}

/** One domain's check in progress: the problems found so far, and which blocks serve which of its names. */
interface DomainCheck {
  ctx: CheckContext;
  domain: SnippetDomain;
  /** The snippet's path, normalised. */
  snippet: string;
  /** The line a fix asks to add. */
  includeLine: string;
  problems: SnippetProblem[];
  /** Blocks nginx sends some of the names to (with TLS or without) → those names. */
  serves: Map<NginxServerBlock, string[]>;
  /** Blocks nginx picks for some name on a TLS address. */
  tlsWinners: Set<NginxServerBlock>;
}

function checkDomain(ctx: CheckContext, d: SnippetDomain): SnippetCheck {
  const dc: DomainCheck = {
    ctx,
    domain: d,
    snippet: norm(d.snippet),
    includeLine: `include ${quoteArg(d.snippet)};`,
    problems: [],
    serves: new Map(),
    tlsWinners: new Set(),
  };
  const names = judgeNames(dc);
  // Where the snippet is included, whatever it serves.
  const including = [...(ctx.includes.includedBy.get(dc.snippet) ?? [])].sort((x, y) => x.index - y.index);
  for (const s of including) judgeIncludingBlock(dc, s);
  for (const u of ctx.includes.outside.get(dc.snippet) ?? []) dc.problems.push(includedOutsideServers(dc, u));
  return summarise(dc, names, including);
}

function countAtServerLevel(dc: DomainCheck, s: NginxServerBlock): number {
  return dc.ctx.includes.atServerLevel.get(s)?.get(dc.snippet) ?? 0;
}

function addServes(dc: DomainCheck, s: NginxServerBlock, name: string): void {
  const list = dc.serves.get(s) ?? [];
  if (!list.includes(name)) list.push(name);
  dc.serves.set(s, list);
}

/** Every name's verdict; names no TLS block claims share one fix: a new server block for all of them. */
function judgeNames(dc: DomainCheck): NameVerdict[] {
  const names = dc.domain.names.map((raw) => judgeName(dc, raw));
  const unserved = names.filter((n) => n.servedBy.length === 0).map((n) => n.name);
  if (unserved.length > 0) {
    const fix = `add a server block: server { listen 443 ssl; server_name ${unserved.join(' ')}; ${dc.includeLine} … }`;
    for (const p of dc.problems) if (p.code === 'no-tls-server') p.fix = fix;
  }
  return names;
}

/** One name: on every TLS address, the block nginx picks for it must include the snippet. */
function judgeName(dc: DomainCheck, raw: string): NameVerdict {
  const name = raw.toLowerCase().replace(/\.$/, '');
  const host = name.startsWith('*.') ? `${WILDCARD_PROBE}.${name.slice(2)}` : name;
  const { servedBy, missing, uncertain, ignored } = tlsPicks(dc, raw, host);
  const plain = winners(dc.ctx.plainGroups, host);
  for (const s of plain) addServes(dc, s, raw);
  if (uncertain.size > 0) {
    dc.problems.push({
      code: 'uncertain-regex',
      severity: 'warning',
      name: raw,
      message: `"${raw}": nginx might pick a block by a server_name regex this check cannot evaluate: ${[...uncertain].join(', ')}`,
    });
  }
  if (servedBy.length === 0) {
    const also = plain.length > 0 ? ` (${plain.map((s) => `the server block at ${where(s)}`).join(' and ')} serve${plain.length > 1 ? '' : 's'} it without TLS)` : '';
    dc.problems.push({ code: 'no-tls-server', severity: 'error', name: raw, message: `"${raw}": no server block listening with ssl has a server_name for it${also}` });
  }
  for (const [s, keys] of missing) dc.problems.push(notIncluded(dc, raw, s, keys, ignored));
  return { name: raw, ok: servedBy.length > 0 && missing.size === 0, servedBy };
}

interface TlsPicks {
  servedBy: NameVerdict['servedBy'];
  /** Blocks nginx picks that lack the snippet → the addresses where they win. */
  missing: Map<NginxServerBlock, string[]>;
  /** Regexes this check cannot evaluate that nginx might pick instead, as "value (file:line)". */
  uncertain: Set<string>;
  /** server_name values nginx ignores as conflicting although they match the name. */
  ignored: Set<string>;
}

/** nginx's pick for `host` on each TLS address:port. */
function tlsPicks(dc: DomainCheck, raw: string, host: string): TlsPicks {
  const picks: TlsPicks = { servedBy: [], missing: new Map(), uncertain: new Set(), ignored: new Set() };
  for (const g of dc.ctx.tlsGroups) {
    const sel = selectServer(g, host);
    for (const u of sel.uncertain) picks.uncertain.add(`${u.serverName} (${u.file}:${u.line})`);
    for (const x of sel.ignored) if (serverNameMatches(parseServerName(x.serverName), host)) picks.ignored.add(`"server_name ${x.serverName}" in the block at ${x.file}:${x.line}`);
    if (!sel.server || !sel.by || sel.serverName === undefined) continue;
    const has = countAtServerLevel(dc, sel.server) > 0;
    picks.servedBy.push({ listen: g.key, file: sel.server.file, line: sel.server.line, by: sel.by, serverName: sel.serverName, includesSnippet: has });
    addServes(dc, sel.server, raw);
    dc.tlsWinners.add(sel.server);
    if (!has) picks.missing.set(sel.server, [...(picks.missing.get(sel.server) ?? []), g.key]);
  }
  return picks;
}

function notIncluded(dc: DomainCheck, raw: string, s: NginxServerBlock, keys: readonly string[], ignored: ReadonlySet<string>): SnippetProblem {
  const own = s.sslDirectives.filter((x) => norm(x.file) !== dc.snippet);
  const drop = own.length > 0 ? `, and remove its own ${[...new Set(own.map((x) => x.name))].join('/')} lines (${[...new Set(own.map((x) => `${x.file}:${x.line}`))].join(', ')})` : '';
  return {
    code: 'not-included',
    severity: 'error',
    name: raw,
    file: s.file,
    line: s.line,
    message: `"${raw}": served over TLS on ${keys.join(', ')} by the server block at ${where(s)} (server_name ${s.serverNames.join(' ')}), which does not include ${dc.domain.snippet}${ignored.size ? ` (nginx ignores ${[...ignored].join(' and ')}: the name is already taken on that address)` : ''}`,
    fix: `add "${dc.includeLine}" inside the server block at ${where(s)}${drop}`,
  };
}

/** Warnings about one block that includes the snippet: nested, twice, without TLS, for none of the names, beside another domain's. */
function judgeIncludingBlock(dc: DomainCheck, s: NginxServerBlock): void {
  const d = dc.domain;
  const count = countAtServerLevel(dc, s);
  for (const u of s.includes.filter((x) => x.context.length > 0 && x.files.some((f) => norm(f) === dc.snippet))) {
    dc.problems.push({
      code: 'included-outside-server',
      severity: 'warning',
      file: u.file,
      line: u.line,
      message: `${d.snippet} is included inside "${u.context.join(' > ')}" at ${u.file}:${u.line}, not at the server block's own level (${where(s)})`,
      fix: `move "${dc.includeLine}" to the server block's own level at ${where(s)}`,
    });
  }
  if (count > 1) dc.problems.push(includedTwice(dc, s, count));
  if (count === 0) return;
  if (!dc.ctx.isTls(s)) {
    dc.problems.push({
      code: 'included-without-tls',
      severity: 'warning',
      file: s.file,
      line: s.line,
      message: `${d.snippet} is included in the server block at ${where(s)}, which does not listen with ssl (listen ${listensOf(s).join('; listen ')})`,
      fix: `add "listen 443 ssl;" to the server block at ${where(s)}, or remove the include there`,
    });
  } else if (!dc.tlsWinners.has(s)) {
    dc.problems.push({
      code: 'included-elsewhere',
      severity: 'warning',
      file: s.file,
      line: s.line,
      message: `${d.snippet} is included in the server block at ${where(s)} (server_name ${s.serverNames.join(' ') || '""'}), which nginx uses for none of ${d.name}'s names`,
    });
  }
  const others = otherDomainsIncluded(dc, s);
  if (others.size > 0) {
    dc.problems.push({
      code: 'shared-block',
      severity: 'warning',
      file: s.file,
      line: s.line,
      message: `the server block at ${where(s)} also includes the snippet of ${[...others].map((o) => `"${o}"`).join(', ')}: nginx serves one certificate per key type there, the last one`,
      fix: 'include one domain\'s snippet per server block (an include glob over the snippet folder pulls in all of them)',
    });
  }
}

function includedTwice(dc: DomainCheck, s: NginxServerBlock, count: number): SnippetProblem {
  const lines = s.includes.filter((u) => u.context.length === 0 && u.files.some((f) => norm(f) === dc.snippet)).map((u) => `${u.file}:${u.line} (include ${u.pattern})`);
  return {
    code: 'included-twice',
    severity: 'warning',
    file: s.file,
    line: s.line,
    message: `${dc.domain.snippet} is included ${count} times in the server block at ${where(s)}: ${lines.join(', ')}`,
    fix: `keep one of: ${lines.join(', ')}`,
  };
}

/** Other checked domains whose snippets this block includes at its own level. */
function otherDomainsIncluded(dc: DomainCheck, s: NginxServerBlock): Set<string> {
  const others = new Set<string>();
  for (const f of dc.ctx.includes.atServerLevel.get(s)?.keys() ?? []) {
    const other = dc.ctx.snippetOf.get(f);
    if (other !== undefined && other !== dc.domain.name) others.add(other);
  }
  return others;
}

function includedOutsideServers(dc: DomainCheck, u: OutsideInclude): SnippetProblem {
  const d = dc.domain;
  return {
    code: 'included-outside-server',
    severity: 'warning',
    file: u.file,
    line: u.line,
    message: `${d.snippet} is included at ${u.file}:${u.line}${u.context.length ? ` inside "${u.context.join(' > ')}"` : ' at the top level'}, outside any server block`,
    fix: `remove that include and put "${dc.includeLine}" in the server block that serves ${d.name}`,
  };
}

/** The domain's result: blocks concerned in configuration order, errors before warnings, fixes without repeats. */
function summarise(dc: DomainCheck, names: NameVerdict[], including: readonly NginxServerBlock[]): SnippetCheck {
  const d = dc.domain;
  const refs = new Set<NginxServerBlock>([...dc.serves.keys(), ...including]);
  const servers = [...refs]
    .sort((x, y) => x.index - y.index)
    .map((s): ServerRef => ({
      file: s.file,
      line: s.line,
      listens: listensOf(s),
      serverNames: s.serverNames,
      tls: dc.ctx.isTls(s),
      includes: countAtServerLevel(dc, s),
      serves: d.names.filter((n) => dc.serves.get(s)?.includes(n)),
    }));
  const problems = dc.problems;
  problems.sort((x, y) => (x.severity === y.severity ? 0 : x.severity === 'error' ? -1 : 1));
  const included = names.length > 0 && names.every((n) => n.ok);
  const result: SnippetCheck = { domain: d.name, snippet: d.snippet, included, servers, names, problems };
  if (problems.length > 0) result.problem = problems.map((p) => p.message).join('\n');
  const fixes = [...new Set(problems.flatMap((p) => (p.fix ? [p.fix] : [])))];
  if (fixes.length > 0) result.fix = fixes.join('\n');
  return result;
}

function norm(p: string): string {
  return posix.normalize(p);
}

function where(s: NginxServerBlock): string {
  return `${s.file}:${s.line}`;
}

function listensOf(s: NginxServerBlock): string[] {
  return s.listens.map((l) => (l.implicit ? `${l.key} (implicit)` : l.args.join(' ')));
}

/** The include argument as nginx needs it written: quoted when it holds a space, `;`, `{`, quotes or `#`. */
function quoteArg(path: string): string {
  return /[\s;{}"'#\\$]/.test(path) ? `"${path.replace(/["\\]/g, (c) => `\\${c}`)}"` : path;
}

function winners(groups: readonly NginxListenGroup[], host: string): NginxServerBlock[] {
  const out: NginxServerBlock[] = [];
  for (const g of groups) {
    const s = selectServer(g, host).server;
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

interface OutsideInclude {
  file: string;
  line: number;
  /** The include's path, absolute (NginxDirective.includePath). */
  path: string;
  files: string[];
  context: string[];
}

/** Include directives that are not inside an http server block. */
function includesOutsideServers(resolved: readonly NginxDirective[]): OutsideInclude[] {
  const out: OutsideInclude[] = [];
  const walk = (list: readonly NginxDirective[], context: string[]): void => {
    for (const d of list) {
      if (d.name === 'include' && d.included) {
        out.push({ file: d.file, line: d.line, path: d.includePath ?? d.args[0] ?? '', files: d.included.map((f) => f.file), context });
        for (const f of d.included) walk(f.directives, context);
        continue;
      }
      if (!d.block) continue;
      // Server blocks inside http are the ones checked above; server blocks elsewhere (stream, mail) are not.
      if (d.name === 'server' && context.length === 1 && context[0] === 'http') continue;
      walk(d.block, [...context, d.name]);
    }
  };
  walk(resolved, []);
  return out;
}

// ---------------------------------------------------------------------------------------------

export interface RunNginxDumpOptions {
  timeoutMs: number;
  /** Largest stdout accepted; default 64 MiB (the parser's limit). */
  maxBytes?: number;
  signal?: AbortSignal;
}

/**
 * Runs the dump command (argv, no shell; e.g. [nginx, -T]) through the one process runner
 * (lib/process.ts) and returns its stdout.
 * Errors (DeployError): `nginx-not-found` "nginx not found: <argv0>"; `nginx-dump` with nginx's
 * stderr verbatim as the message when it exits non-zero; `nginx-dump` on a timeout or output
 * over the limit.
 */
export async function runNginxDump(argv: readonly string[], opts: RunNginxDumpOptions): Promise<string> {
  const program = argv[0];
  if (program === undefined || program === '') throw new DeployError('nginx-dump', 'nginx.dumpCommand is empty');
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const cmd = argv.join(' ');
  try {
    // nginx -T has nothing to clean up: SIGKILL at once on a timeout. Of stderr the start is
    // kept, since nginx says what went wrong first.
    const { stdout } = await runProcess(argv, { timeoutMs: opts.timeoutMs, killGraceMs: 0, maxStdoutBytes: maxBytes, stderr: 'head', what: cmd, ...(opts.signal ? { signal: opts.signal } : {}) });
    return stdout;
  } catch (e) {
    if (!(e instanceof ProcessError)) throw e;
    throw dumpError(e, program, cmd, maxBytes, opts.timeoutMs);
  }
}

/** The runner's failure in nginx's words: what `certs nginx check` and deploy have always said. */
function dumpError(e: ProcessError, program: string, cmd: string, maxBytes: number, timeoutMs: number): DeployError {
  const stderr = e.stderr.replace(/\n+$/, '');
  switch (e.reason) {
    case 'not-found':
      return new DeployError('nginx-not-found', `nginx not found: ${program}`, { cause: e.cause, hint: 'install nginx or set nginx.dumpCommand (argv, e.g. [/usr/sbin/nginx, -T])' });
    case 'permission':
      return new DeployError('nginx-not-found', `cannot run ${program}: permission denied`, { cause: e.cause });
    case 'spawn':
      return new DeployError('nginx-dump', `cannot run ${program}: ${errorMessage(e.cause)}`, { cause: e.cause });
    case 'timeout':
      return new DeployError('nginx-dump', `${cmd} did not finish within ${timeoutMs} ms${stderr ? `; stderr: ${stderr}` : ''}`);
    case 'too-large':
      return new DeployError('nginx-dump', `${cmd} printed more than ${maxBytes} bytes; refusing to read more`);
    case 'exit':
    case 'signal': {
      const status = e.exitCode === undefined ? `was killed by ${e.signal}` : `exited with code ${e.exitCode}`;
      return new DeployError('nginx-dump', stderr || `${cmd} ${status} and printed nothing on stderr`, { hint: `${cmd} ${status}` });
    }
  }
}
