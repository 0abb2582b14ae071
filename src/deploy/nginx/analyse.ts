/**
 * nginx configuration as `nginx -T` prints it, read the way nginx reads it (pure: text in, data out).
 *
 *   parseNginxDump(text)          split the dump into its files and parse each (dump.ts, tokenizer.ts)
 *   resolveNginxIncludes(dump)    splice every `include`, globs included (includes.ts, glob.ts)
 *   extractHttpServers(resolved)  the `http > server` blocks (servers.ts, listen.ts, server-name.ts)
 *   groupByListen(servers)        by address:port, with TLS and the default server (listen.ts)
 *   selectServer(group, host)     which block nginx picks for a Host/SNI (select-server.ts)
 *
 * Facts these follow were checked against nginx 1.22; each module names its own.
 */
import { parseNginxDump, type NginxDump } from './dump.js';
import { resolveNginxIncludes, type NginxResolved } from './includes.js';
import { groupByListen, type NginxListenGroup } from './listen.js';
import { extractHttpServers, type NginxServerBlock } from './servers.js';
import type { NginxLimits } from './tokenizer.js';

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
