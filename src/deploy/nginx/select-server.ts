/**
 * Which server block nginx picks for a Host/SNI on one listen address: exact names win, then the
 * longest `*.x` / `.x`, then the longest `x.*`, then the first matching regex. `.x` and `x` (or
 * `.x` and `*.x`) on one address conflict and nginx ignores the later one entirely. Pure.
 */
import type { NginxListenGroup } from './listen.js';
import { serverNameMatches, type NginxServerName } from './server-name.js';
import type { NginxServerBlock } from './servers.js';

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
