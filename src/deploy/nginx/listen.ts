/**
 * `listen` directives, and server blocks grouped by the address:port they listen on: nginx's unit
 * for `ssl` (on any listen of an address:port, every server block there speaks TLS) and for the
 * server_name lookup. Pure.
 */
import { canonicalIPv6 } from '../../core/ip.js';
import type { NginxServerBlock } from './servers.js';

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
