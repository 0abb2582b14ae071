/**
 * Resolving a name to every address (issue 12 §1; the pure half is core/addresses.ts).
 *
 * Without `scan.resolver`: `dns.lookup(name, {all: true})`, the system resolver — the same
 * getaddrinfo the probe's own connect uses under `scan.addresses: first`, so /etc/hosts and
 * nsswitch apply and `all` scans exactly the addresses a client on this host could be given.
 * With `scan.resolver` (`host:port` of a DNS server): a node:dns Resolver with only that server,
 * asking A and AAAA in parallel (getaddrinfo cannot be pointed at a server).
 * Bounded by the scan's timeout; each name is asked once per run (many endpoints share names).
 */
import { lookup as dnsLookup, Resolver } from 'node:dns';
import { memoizeAsync } from '../lib/memo.js';
import { compareAddresses, type Resolution } from '../core/addresses.js';
import { errorMessage } from '../core/errors.js';

export interface ResolveOptions {
  /** `host:port` of the DNS server to ask; absent: the system resolver. */
  resolver?: string;
  timeoutMs: number;
}

export type ResolveName = (name: string) => Promise<Resolution>;

const MEANING: Record<string, string> = {
  ENOTFOUND: 'no such name',
  ENODATA: 'no A or AAAA records',
  ETIMEOUT: 'no answer in time',
  ECONNREFUSED: 'connection refused',
  ESERVFAIL: 'server failure',
  EREFUSED: 'query refused',
  EAI_AGAIN: 'temporary failure',
};

function codeText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return errorMessage(err);
  return MEANING[code] ? `${code} (${MEANING[code]})` : code;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: 'ETIMEOUT' })), ms);
    timer.unref?.();
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const unique = (addresses: string[]): string[] => [...new Set(addresses)].sort(compareAddresses);

/** A resolver for one run: each name is resolved at most once, concurrent asks share the answer. */
export function resolveRun(opts: ResolveOptions): ResolveName {
  const one = opts.resolver ? viaServer(opts.resolver, opts.timeoutMs) : viaSystem(opts.timeoutMs);
  return memoizeAsync((name: string) => one(name.toLowerCase()), (name) => name.toLowerCase());
}

function viaSystem(timeoutMs: number): (name: string) => Promise<Resolution> {
  return async (name) => {
    try {
      const found = await within(
        new Promise<Array<{ address: string }>>((resolve, reject) => dnsLookup(name, { all: true, family: 0 }, (err, addrs) => (err ? reject(err) : resolve(addrs)))),
        timeoutMs,
        `system resolver, ${name}`,
      );
      const addresses = unique(found.map((a) => a.address));
      return addresses.length > 0 ? { ok: true, addresses } : { ok: false, message: `DNS lookup of "${name}" failed: the system resolver found no addresses` };
    } catch (err) {
      return { ok: false, message: `DNS lookup of "${name}" failed: the system resolver answered ${codeText(err)}` };
    }
  };
}

function viaServer(server: string, timeoutMs: number): (name: string) => Promise<Resolution> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([server]);
  const ask = (name: string, fn: 'resolve4' | 'resolve6'): Promise<string[] | { err: unknown }> =>
    within(
      new Promise<string[]>((resolve, reject) => resolver[fn](name, (err, addrs) => (err ? reject(err) : resolve(addrs)))),
      timeoutMs + 100,
      `DNS server ${server}, ${name}`,
    ).catch((err: unknown) => ({ err }));
  return async (name) => {
    const [a, aaaa] = await Promise.all([ask(name, 'resolve4'), ask(name, 'resolve6')]);
    const addresses = unique([...(Array.isArray(a) ? a : []), ...(Array.isArray(aaaa) ? aaaa : [])]);
    if (addresses.length > 0) return { ok: true, addresses };
    const why = (r: string[] | { err: unknown }): string => (Array.isArray(r) ? 'no records' : codeText(r.err));
    const wa = why(a);
    const w6 = why(aaaa);
    return { ok: false, message: `DNS lookup of "${name}" failed: DNS server ${server} answered ${wa === w6 ? `${wa} for A and AAAA` : `A: ${wa}, AAAA: ${w6}`}` };
  };
}
