/**
 * Waits until a TXT record is visible at every authoritative server, asking each one directly:
 * a recursive resolver's cache would say nothing about what the CA's resolver will see.
 */
import { promises as dnsp } from 'node:dns';
import { isIP } from 'node:net';
import { AcmeError, errorMessage } from '../../core/errors.js';
import { formatHostPort, parseHostPort } from '../../lib/host-port.js';

export interface DnsEndpoint {
  host: string;
  port: number;
}

/** "host", "host:port", "[v6]:port" or a bare IPv6 address (lib/host-port.ts). */
export function parseServerSpec(spec: string, defaultPort = 53): DnsEndpoint {
  const r = parseHostPort(spec, { bareIPv6: true });
  // A bare spec with colons is taken as an IPv6 address; config checked it, this guards other callers.
  if (!r.ok || (r.host.includes(':') && isIP(r.host) !== 6)) {
    const expected = `expected host, host:port or [IPv6]:port${!r.ok && r.problem === 'port' ? ' with a port from 1 to 65535' : ''}`;
    throw new AcmeError('challenge', `invalid DNS server "${spec}": ${expected}${r.ok ? '' : ` (${r.why})`}`);
  }
  return { host: r.host, port: r.port ?? defaultPort };
}

export function formatEndpoint(e: DnsEndpoint): string {
  return formatHostPort(e.host, e.port);
}

export interface WaitForTxtOptions {
  /** Configured domain, for messages. */
  domain: string;
  /** e.g. "_acme-challenge.a.test". */
  name: string;
  value: string;
  /** "host[:port]" specs; absent or empty: the zone's NS, found through `discovery`. */
  servers?: string[];
  timeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal;
  /** Budget of one query; default min(5000, timeoutMs). */
  queryTimeoutMs?: number;
  /** How NS discovery finds the zone: resolvers to ask (default the system's) and the port the NS listen on (default 53). */
  discovery?: { resolvers?: string[]; nsPort?: number };
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** One address to ask, with the label users know it by ("ns1.example.net (192.0.2.1:53)"). */
export interface DnsTarget {
  label: string;
  address: DnsEndpoint;
}

export async function waitForTxt(opts: WaitForTxtOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  const start = now();
  const deadline = start + opts.timeoutMs;
  const record = `TXT ${opts.name} = "${opts.value}"`;
  const targets = opts.servers?.length
    ? await resolveConfigured(opts.servers, opts)
    : await discoverAuthoritative(opts.name, { domain: opts.domain, timeoutMs: opts.timeoutMs, signal: opts.signal, ...opts.discovery });
  const pending = new Map<DnsTarget, string>(targets.map((t) => [t, 'not asked yet']));
  const queryBudget = opts.queryTimeoutMs ?? Math.min(5000, opts.timeoutMs);
  // Time bounds the loop; the round cap only guards against a clock that does not move.
  const maxRounds = Math.ceil(opts.timeoutMs / Math.max(1, opts.intervalMs)) + 1;
  for (let round = 1; round <= maxRounds; round++) {
    opts.signal?.throwIfAborted();
    const left = deadline - now();
    if (left <= 0 && round > 1) break;
    const budget = Math.max(1, Math.min(queryBudget, left));
    await Promise.all(
      [...pending.keys()].map(async (t) => {
        const answer = await queryTxt(t.address, opts.name, budget, opts.signal);
        if (answer.values?.includes(opts.value)) pending.delete(t);
        else pending.set(t, answer.describe);
      }),
    );
    opts.signal?.throwIfAborted();
    if (pending.size === 0) return;
    const gap = Math.min(opts.intervalMs, deadline - now());
    if (gap <= 0) break;
    await sleep(gap, opts.signal);
  }
  const missing = [...pending].map(([t, why]) => `${t.label} (${why})`).join('; ');
  throw new AcmeError(
    'challenge',
    `domain "${opts.domain}": dns-01 record ${record} did not appear at ${pending.size} of ${targets.length} authoritative server(s) within ${opts.timeoutMs} ms: ${missing}`,
    { domain: opts.domain, retryable: true },
  );
}

async function resolveConfigured(servers: string[], opts: WaitForTxtOptions): Promise<DnsTarget[]> {
  const out: DnsTarget[] = [];
  for (const spec of servers) {
    const ep = parseServerSpec(spec);
    if (isIP(ep.host)) {
      out.push({ label: formatEndpoint(ep), address: ep });
      continue;
    }
    let addresses: string[];
    try {
      addresses = await lookupAddresses(ep.host);
    } catch (err) {
      throw new AcmeError('challenge', `domain "${opts.domain}": dns-01 propagation server "${spec}" does not resolve: ${errorMessage(err)}`, { domain: opts.domain }, { cause: err });
    }
    for (const a of addresses) out.push({ label: `${spec} (${formatEndpoint({ host: a, port: ep.port })})`, address: { host: a, port: ep.port } });
  }
  return out;
}

/** IPv4 addresses when there are any: many hosts have no IPv6 route, and one suffices to check. */
async function lookupAddresses(host: string): Promise<string[]> {
  const all = await dnsp.lookup(host, { all: true, verbatim: true });
  const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
  return v4.length ? v4 : all.map((a) => a.address);
}

interface Answer {
  values?: string[];
  describe: string;
}

const CODES: Record<string, string> = {
  ENODATA: 'answered: no TXT record at this name',
  ENOTFOUND: 'answered NXDOMAIN',
  ESERVFAIL: 'answered SERVFAIL',
  EREFUSED: 'answered REFUSED',
  ECONNREFUSED: 'connection refused',
  ETIMEOUT: 'no answer',
};

async function queryTxt(server: DnsEndpoint, name: string, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
  // A fresh channel per query: c-ares caches answers per channel, and we must see the server's current state.
  const resolver = new dnsp.Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([formatEndpoint(server)]);
  const cancel = (): void => resolver.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  const timer = setTimeout(cancel, timeoutMs + 50);
  try {
    const records = await resolver.resolveTxt(name);
    const values = records.map((chunks) => chunks.join(''));
    return { values, describe: values.length ? `answered ${values.map((v) => JSON.stringify(v)).join(', ')}` : 'answered an empty TXT set' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ETIMEOUT' || code === 'ECANCELLED') return { describe: `no answer within ${timeoutMs} ms` };
    return { describe: CODES[code] ?? `query failed: ${errorMessage(err)}` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
  }
}

/**
 * The zone's authoritative servers: walk up from `name` until a name has NS records, then
 * resolve each NS host. Bounded by timeoutMs as a whole. Throws an AcmeError asking for
 * propagation.servers when that fails.
 */
export async function discoverAuthoritative(
  name: string,
  opts: { domain: string; timeoutMs: number; signal?: AbortSignal; resolvers?: string[]; nsPort?: number },
): Promise<DnsTarget[]> {
  const resolver = new dnsp.Resolver({ timeout: Math.min(2000, opts.timeoutMs), tries: 2 });
  if (opts.resolvers?.length) resolver.setServers(opts.resolvers.map((s) => formatEndpoint(parseServerSpec(s))));
  let timedOut = false;
  const cancel = (): void => resolver.cancel();
  const timer = setTimeout(() => {
    timedOut = true;
    cancel();
  }, opts.timeoutMs);
  opts.signal?.addEventListener('abort', cancel, { once: true });
  const via = opts.resolvers?.length ? `resolver ${opts.resolvers.join(', ')}` : 'the system resolver';
  const fail = (why: string, cause?: unknown): AcmeError =>
    new AcmeError(
      // Without a resolver named by the operator, not finding the servers from here (a private
      // or split-horizon view) says nothing about what the CA sees: logged, and the CA is asked.
      opts.resolvers?.length ? 'challenge' : 'preflight-inconclusive',
      `domain "${opts.domain}": dns-01 could not find the authoritative servers of ${name} through ${via}: ${why}; set challenge.propagation.servers`,
      { domain: opts.domain },
      cause === undefined ? {} : { cause },
    );
  const failed = (what: string, err: unknown): AcmeError => {
    opts.signal?.throwIfAborted();
    const code = (err as NodeJS.ErrnoException).code;
    return fail(timedOut ? `${what} took longer than ${opts.timeoutMs} ms` : `${what} failed (${code ?? errorMessage(err)})`, err);
  };
  try {
    const labels = name.replace(/\.$/, '').split('.');
    const tried: string[] = [];
    for (let i = 0; i < labels.length; i++) {
      opts.signal?.throwIfAborted();
      const zone = labels.slice(i).join('.');
      tried.push(zone);
      let ns: string[];
      try {
        ns = await resolver.resolveNs(zone);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!timedOut && (code === 'ENODATA' || code === 'ENOTFOUND')) continue;
        throw failed(`the NS query for ${zone}`, err);
      }
      if (ns.length === 0) continue;
      const port = opts.nsPort ?? 53;
      const targets: DnsTarget[] = [];
      const unresolved: string[] = [];
      for (const host of ns) {
        let addrs: string[];
        try {
          addrs = await nsAddresses(resolver, host);
        } catch (err) {
          if (timedOut || opts.signal?.aborted) throw failed(`resolving ${host}`, err);
          unresolved.push(`${host} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
          continue;
        }
        for (const a of addrs) targets.push({ label: `${host} (${formatEndpoint({ host: a, port })})`, address: { host: a, port } });
      }
      if (targets.length === 0) throw fail(`zone ${zone} has NS records but none of them resolves: ${unresolved.join(', ')}`);
      return targets;
    }
    throw fail(`no NS records at ${tried.join(', ')}`);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', cancel);
  }
}

/** IPv4 first (many hosts have no IPv6 route); IPv6 only for a v6-only server. */
async function nsAddresses(resolver: dnsp.Resolver, host: string): Promise<string[]> {
  try {
    const v4 = await resolver.resolve4(host);
    if (v4.length) return v4;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENODATA' && code !== 'ENOTFOUND') throw err;
  }
  return resolver.resolve6(host);
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
