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
import { spawn } from 'node:child_process';
import { posix } from 'node:path';
import { DeployError, errorMessage } from '../core/errors.js';
import { programEnv } from '../acme/hook-env.js';
import {
  analyseNginxDump,
  includeWouldMatch,
  parseServerName,
  selectServer,
  serverNameMatches,
  type NginxDirective,
  type NginxLimits,
  type NginxListenGroup,
  type NginxMatchKind,
  type NginxServerBlock,
} from '../core/nginx-conf.js';

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
  const tlsGroups = a.groups.filter((g) => g.tls);
  const plainGroups = a.groups.filter((g) => !g.tls);
  const tlsKeys = new Set(tlsGroups.map((g) => g.key));
  const isTls = (s: NginxServerBlock): boolean => s.listens.some((l) => tlsKeys.has(l.key));
  const snippetOf = new Map(input.domains.map((d) => [norm(d.snippet), d.name]));
  // Indexes by normalised file path, built once: a check may cover many domains and blocks.
  const atServerLevel = new Map<NginxServerBlock, Map<string, number>>();
  const includedBy = new Map<string, Set<NginxServerBlock>>();
  for (const s of a.servers) {
    const counts = new Map<string, number>();
    for (const u of s.includes) {
      for (const f of u.files) {
        const n = norm(f);
        if (u.context.length === 0) counts.set(n, (counts.get(n) ?? 0) + 1);
        const set = includedBy.get(n) ?? new Set();
        set.add(s);
        includedBy.set(n, set);
      }
    }
    atServerLevel.set(s, counts);
  }
  const outsideList = includesOutsideServers(a.resolved.directives);
  const outside = new Map<string, OutsideInclude[]>();
  for (const u of outsideList) {
    for (const f of new Set(u.files.map(norm))) outside.set(f, [...(outside.get(f) ?? []), u]);
  }
  // A snippet that does not exist yet is in no include's file list, but an include whose path or
  // glob names it (`include /etc/nginx/certs/*.conf;`) pulls it in at the next reload: count those
  // as nginx's glob(3) would match them, so the first deploy is recognised as included.
  const present = new Set(a.dump.files.map((f) => norm(f.path)));
  for (const snippet of new Set(input.domains.map((d) => norm(d.snippet)))) {
    if (present.has(snippet)) continue;
    for (const s of a.servers) {
      for (const u of s.includes) {
        if (!includeWouldMatch(norm(u.path), snippet)) continue;
        u.files.push(snippet);
        const counts = atServerLevel.get(s)!;
        if (u.context.length === 0) counts.set(snippet, (counts.get(snippet) ?? 0) + 1);
        const set = includedBy.get(snippet) ?? new Set();
        set.add(s);
        includedBy.set(snippet, set);
      }
    }
    for (const u of outsideList) {
      if (includeWouldMatch(norm(u.path), snippet)) outside.set(snippet, [...(outside.get(snippet) ?? []), u]);
    }
  }

  const domains = input.domains.map((d): SnippetCheck => {
    const snippet = norm(d.snippet);
    const includeLine = `include ${quoteArg(d.snippet)};`;
    const problems: SnippetProblem[] = [];
    const serves = new Map<NginxServerBlock, string[]>();
    const addServes = (s: NginxServerBlock, name: string): void => {
      const list = serves.get(s) ?? [];
      if (!list.includes(name)) list.push(name);
      serves.set(s, list);
    };
    const countAtServerLevel = (s: NginxServerBlock): number => atServerLevel.get(s)?.get(snippet) ?? 0;
    const names: NameVerdict[] = [];
    const tlsWinners = new Set<NginxServerBlock>();
    const unserved: Array<{ name: string; plain: NginxServerBlock[] }> = [];

    for (const raw of d.names) {
      const name = raw.toLowerCase().replace(/\.$/, '');
      const host = name.startsWith('*.') ? `${WILDCARD_PROBE}.${name.slice(2)}` : name;
      const verdict: NameVerdict = { name: raw, ok: false, servedBy: [] };
      const missing = new Map<NginxServerBlock, string[]>();
      const uncertain = new Set<string>();
      const ignored = new Set<string>();
      for (const g of tlsGroups) {
        const sel = selectServer(g, host);
        for (const u of sel.uncertain) uncertain.add(`${u.serverName} (${u.file}:${u.line})`);
        for (const x of sel.ignored) if (serverNameMatches(parseServerName(x.serverName), host)) ignored.add(`"server_name ${x.serverName}" in the block at ${x.file}:${x.line}`);
        if (!sel.server || !sel.by || sel.serverName === undefined) continue;
        const has = countAtServerLevel(sel.server) > 0;
        verdict.servedBy.push({ listen: g.key, file: sel.server.file, line: sel.server.line, by: sel.by, serverName: sel.serverName, includesSnippet: has });
        addServes(sel.server, raw);
        tlsWinners.add(sel.server);
        if (!has) missing.set(sel.server, [...(missing.get(sel.server) ?? []), g.key]);
      }
      const plain = winners(plainGroups, host);
      for (const s of plain) addServes(s, raw);
      if (uncertain.size > 0) {
        problems.push({
          code: 'uncertain-regex',
          severity: 'warning',
          name: raw,
          message: `"${raw}": nginx might pick a block by a server_name regex this check cannot evaluate: ${[...uncertain].join(', ')}`,
        });
      }
      if (verdict.servedBy.length === 0) {
        unserved.push({ name: raw, plain });
        const also = plain.length > 0 ? ` (${plain.map((s) => `the server block at ${where(s)}`).join(' and ')} serve${plain.length > 1 ? '' : 's'} it without TLS)` : '';
        problems.push({ code: 'no-tls-server', severity: 'error', name: raw, message: `"${raw}": no server block listening with ssl has a server_name for it${also}` });
      }
      for (const [s, keys] of missing) {
        const own = s.sslDirectives.filter((x) => norm(x.file) !== snippet);
        const drop = own.length > 0 ? `, and remove its own ${[...new Set(own.map((x) => x.name))].join('/')} lines (${[...new Set(own.map((x) => `${x.file}:${x.line}`))].join(', ')})` : '';
        problems.push({
          code: 'not-included',
          severity: 'error',
          name: raw,
          file: s.file,
          line: s.line,
          message: `"${raw}": served over TLS on ${keys.join(', ')} by the server block at ${where(s)} (server_name ${s.serverNames.join(' ')}), which does not include ${d.snippet}${ignored.size ? ` (nginx ignores ${[...ignored].join(' and ')}: the name is already taken on that address)` : ''}`,
          fix: `add "${includeLine}" inside the server block at ${where(s)}${drop}`,
        });
      }
      verdict.ok = verdict.servedBy.length > 0 && missing.size === 0;
      names.push(verdict);
    }
    if (unserved.length > 0) {
      const fix = `add a server block: server { listen 443 ssl; server_name ${unserved.map((u) => u.name).join(' ')}; ${includeLine} … }`;
      for (const p of problems) if (p.code === 'no-tls-server') p.fix = fix;
    }

    // Where the snippet is included, whatever it serves.
    const including = [...(includedBy.get(snippet) ?? [])].sort((x, y) => x.index - y.index);
    for (const s of including) {
      const count = countAtServerLevel(s);
      for (const u of s.includes.filter((x) => x.context.length > 0 && x.files.some((f) => norm(f) === snippet))) {
        problems.push({
          code: 'included-outside-server',
          severity: 'warning',
          file: u.file,
          line: u.line,
          message: `${d.snippet} is included inside "${u.context.join(' > ')}" at ${u.file}:${u.line}, not at the server block's own level (${where(s)})`,
          fix: `move "${includeLine}" to the server block's own level at ${where(s)}`,
        });
      }
      if (count > 1) {
        const lines = s.includes.filter((u) => u.context.length === 0 && u.files.some((f) => norm(f) === snippet)).map((u) => `${u.file}:${u.line} (include ${u.pattern})`);
        problems.push({
          code: 'included-twice',
          severity: 'warning',
          file: s.file,
          line: s.line,
          message: `${d.snippet} is included ${count} times in the server block at ${where(s)}: ${lines.join(', ')}`,
          fix: `keep one of: ${lines.join(', ')}`,
        });
      }
      if (count > 0 && !isTls(s)) {
        problems.push({
          code: 'included-without-tls',
          severity: 'warning',
          file: s.file,
          line: s.line,
          message: `${d.snippet} is included in the server block at ${where(s)}, which does not listen with ssl (listen ${listensOf(s).join('; listen ')})`,
          fix: `add "listen 443 ssl;" to the server block at ${where(s)}, or remove the include there`,
        });
      } else if (count > 0 && !tlsWinners.has(s)) {
        problems.push({
          code: 'included-elsewhere',
          severity: 'warning',
          file: s.file,
          line: s.line,
          message: `${d.snippet} is included in the server block at ${where(s)} (server_name ${s.serverNames.join(' ') || '""'}), which nginx uses for none of ${d.name}'s names`,
        });
      }
      if (count > 0) {
        const others = new Set<string>();
        for (const f of atServerLevel.get(s)?.keys() ?? []) {
          const other = snippetOf.get(f);
          if (other !== undefined && other !== d.name) others.add(other);
        }
        if (others.size > 0) {
          problems.push({
            code: 'shared-block',
            severity: 'warning',
            file: s.file,
            line: s.line,
            message: `the server block at ${where(s)} also includes the snippet of ${[...others].map((o) => `"${o}"`).join(', ')}: nginx serves one certificate per key type there, the last one`,
            fix: 'include one domain\'s snippet per server block (an include glob over the snippet folder pulls in all of them)',
          });
        }
      }
    }
    for (const u of outside.get(snippet) ?? []) {
      problems.push({
        code: 'included-outside-server',
        severity: 'warning',
        file: u.file,
        line: u.line,
        message: `${d.snippet} is included at ${u.file}:${u.line}${u.context.length ? ` inside "${u.context.join(' > ')}"` : ' at the top level'}, outside any server block`,
        fix: `remove that include and put "${includeLine}" in the server block that serves ${d.name}`,
      });
    }

    const refs = new Set<NginxServerBlock>([...serves.keys(), ...including]);
    const servers = [...refs]
      .sort((x, y) => x.index - y.index)
      .map((s): ServerRef => ({
        file: s.file,
        line: s.line,
        listens: listensOf(s),
        serverNames: s.serverNames,
        tls: isTls(s),
        includes: countAtServerLevel(s),
        serves: d.names.filter((n) => serves.get(s)?.includes(n)),
      }));
    problems.sort((x, y) => (x.severity === y.severity ? 0 : x.severity === 'error' ? -1 : 1));
    const included = names.length > 0 && names.every((n) => n.ok);
    const result: SnippetCheck = { domain: d.name, snippet: d.snippet, included, servers, names, problems };
    if (problems.length > 0) result.problem = problems.map((p) => p.message).join('\n');
    const fixes = [...new Set(problems.flatMap((p) => (p.fix ? [p.fix] : [])))];
    if (fixes.length > 0) result.fix = fixes.join('\n');
    return result;
  });
  return { domains, warnings: a.resolved.warnings, files: a.dump.files.length, serverBlocks: a.servers.length };
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
 * Runs the dump command (argv, no shell; e.g. [nginx, -T]) and returns its stdout.
 * Errors (DeployError): `nginx-not-found` "nginx not found: <argv0>"; `nginx-dump` with nginx's
 * stderr verbatim as the message when it exits non-zero; `nginx-dump` on a timeout or output
 * over the limit.
 */
export function runNginxDump(argv: readonly string[], opts: RunNginxDumpOptions): Promise<string> {
  const [program, ...args] = argv;
  if (program === undefined || program === '') return Promise.reject(new DeployError('nginx-dump', 'nginx.dumpCommand is empty'));
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const cmd = argv.join(' ');
  return new Promise((resolve, reject) => {
    const signal = opts.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    // nginx -T gets the minimal environment of every program we run (acme/hook-env.ts).
    const child = spawn(program, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: programEnv() });
    const out: Buffer[] = [];
    let outBytes = 0;
    const err: Buffer[] = [];
    let errBytes = 0;
    let killedBy: 'timeout' | 'abort' | 'size' | undefined;
    let settled = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch (e) {
        // ESRCH: already gone.
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    };
    const stop = (why: 'timeout' | 'abort' | 'size'): void => {
      if (killedBy) return;
      killedBy = why;
      killGroup();
    };
    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
    const onAbort = (): void => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (e: unknown, value?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (e === undefined) resolve(value ?? '');
      else reject(e);
    };
    child.stdout?.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > maxBytes) stop('size');
      else out.push(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      // Keep the first 64 KiB: nginx says what went wrong first.
      if (errBytes < 65536) err.push(d);
      errBytes += d.length;
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') settle(new DeployError('nginx-not-found', `nginx not found: ${program}`, { cause: e, hint: 'install nginx or set nginx.dumpCommand (argv, e.g. [/usr/sbin/nginx, -T])' }));
      else if (e.code === 'EACCES') settle(new DeployError('nginx-not-found', `cannot run ${program}: permission denied`, { cause: e }));
      else settle(new DeployError('nginx-dump', `cannot run ${program}: ${errorMessage(e)}`, { cause: e }));
    });
    child.once('close', (code, sig) => {
      const stderr = Buffer.concat(err).toString('utf8').replace(/\n+$/, '');
      if (killedBy === 'abort') return settle(signal?.reason);
      if (killedBy === 'timeout') return settle(new DeployError('nginx-dump', `${cmd} did not finish within ${opts.timeoutMs} ms${stderr ? `; stderr: ${stderr}` : ''}`));
      if (killedBy === 'size') return settle(new DeployError('nginx-dump', `${cmd} printed more than ${maxBytes} bytes; refusing to read more`));
      if (code !== 0) {
        const status = code === null ? `was killed by ${sig}` : `exited with code ${code}`;
        return settle(new DeployError('nginx-dump', stderr || `${cmd} ${status} and printed nothing on stderr`, { hint: `${cmd} ${status}` }));
      }
      settle(undefined, Buffer.concat(out).toString('utf8'));
    });
  });
}
