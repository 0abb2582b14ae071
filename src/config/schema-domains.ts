/** The inventory: domains, their names and endpoints, with duplicate checks across all of them. */
import { createHash } from 'node:crypto';
import * as names from '../core/names.js';
import { isIpLiteral, normalizeDomainName, normalizeHost } from '../core/names.js';
import { ENDPOINT_PROTOCOLS, type Endpoint } from '../core/model.js';
import { child, formatKeyPath, type Checker, type KeyPath } from './kit.js';
import { checkChallenge, checkHooks, checkKeyType, checkProfile, checkRenewBeforeDays } from './schema-acme.js';
import type { AcmeConfig, DomainConfig } from './types.js';
import { checkThresholds, emailList } from './schema-extras.js';

export const DOMAIN_KEYS = ['name', 'altNames', 'managed', 'endpoints', 'files', 'challenge', 'keyType', 'profile', 'renewBeforeDays', 'hooks', 'nginx', 'notify'] as const;
const ENDPOINT_KEYS = ['host', 'port', 'address', 'protocol'] as const;
/** Names people write for implicit TLS, which needs no upgrade, with their usual port. */
const IMPLICIT_TLS = new Map([['https', 443], ['smtps', 465], ['imaps', 993], ['pop3s', 995], ['ldaps', 636], ['ftps', 990]]);
const NAME_WHAT = 'a DNS name like "example.com" or "*.example.com"';
const MANAGED_ONLY = ['challenge', 'keyType', 'profile', 'renewBeforeDays', 'hooks'] as const;
const normalizeEndpointHost = (s: string): string => normalizeHost(s, { label: 'host' });

export function formatEndpoint(e: Endpoint): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  if (e.address === undefined) return `${host}:${e.port}`;
  return `${host}:${e.port}@${e.address.includes(':') ? `[${e.address}]` : e.address}`;
}

/** A certificate name: managed names need two labels (no CA issues for "intranet"), monitored ones may be single. */
function certName(c: Checker, v: unknown, path: KeyPath, managed: boolean): string {
  // IP identifiers (RFC 8738) are kept as written; whether a CA issues for them is checked per domain.
  if (typeof v === 'string' && isIpLiteral(v.trim())) return c.via(v, path, NAME_WHAT, (s) => normalizeHost(s, { label: 'domain' }));
  const name = c.via(v, path, NAME_WHAT, (s) => normalizeDomainName(s, { allowWildcard: true, minLabels: 1, label: 'domain' }));
  if (managed && !name.replace(/^\*\./, '').includes('.')) {
    c.fail(path, `domain ${JSON.stringify(name)}: an ACME-managed name needs at least two labels, like "example.com"; set managed: false to only monitor it`);
  }
  return name;
}

function endpoint(c: Checker, v: unknown, path: KeyPath, name: string): Endpoint {
  const o = c.mapping(v, path, ENDPOINT_KEYS);
  let host: string;
  if (o.host === undefined || o.host === null) {
    if (name.startsWith('*.')) c.fail(child(path, 'host'), `missing; a wildcard domain (${name}) cannot be connected to, so each endpoint needs a host`);
    host = name;
  } else {
    host = c.via(o.host, child(path, 'host'), 'a host name or IP address', normalizeEndpointHost);
  }
  const out: Endpoint = { host, port: c.field(o, 'port', path, (x, p) => c.integer(x, p, 1, 65535)) ?? 443 };
  const address = c.field(o, 'address', path, (x, p) => c.via(x, p, 'an IP address or host name to connect to', (s) => normalizeHost(s, { label: 'address' })));
  if (address !== undefined) out.address = address;
  // `tls` is the default and is not kept, so an endpoint reads the same whether or not it says so.
  const protocol = c.field(o, 'protocol', path, (x, p) => {
    if (typeof x === 'string' && IMPLICIT_TLS.has(x)) c.fail(p, `"${x}" is TLS from the first byte: that is protocol tls (the default), on port ${IMPLICIT_TLS.get(x)}`);
    return c.oneOf(x, p, ENDPOINT_PROTOCOLS);
  });
  if (protocol !== undefined && protocol !== 'tls') out.protocol = protocol;
  return out;
}

/** One domain entry, any shape, with every message (exported so a test can compare plainDomain with it). */
export function domain(c: Checker, v: unknown, path: KeyPath, acme: AcmeConfig | undefined): DomainConfig {
  const o = c.mapping(v, path, DOMAIN_KEYS);
  const managed = c.field(o, 'managed', path, (x, p) => c.boolean(x, p)) ?? true;
  const name = c.required(o.name, child(path, 'name'), NAME_WHAT, (x, p) => certName(c, x, p, managed));

  const altPath = child(path, 'altNames');
  let altNames: string[] = [];
  if (o.altNames !== undefined && o.altNames !== null) {
    const seen = new Map<string, KeyPath>([[name, child(path, 'name')]]);
    altNames = c.list(o.altNames, altPath, 'a list of DNS names').map((x, i) => {
      const p = child(altPath, i);
      const alt = certName(c, x, p, managed);
      const first = seen.get(alt);
      if (first) c.fail(p, `${JSON.stringify(alt)} duplicates ${formatKeyPath(first)}; list each name once`);
      seen.set(alt, p);
      return alt;
    });
  }

  let endpoints: Endpoint[];
  const epPath = child(path, 'endpoints');
  if (o.endpoints === undefined || o.endpoints === null) {
    // A wildcard cannot be dialled, so it only gets checked through its files.
    endpoints = name.startsWith('*.') ? [] : [{ host: name, port: 443 }];
  } else {
    const items = c.list(o.endpoints, epPath, 'a list of endpoints like [{host: example.com, port: 443}]');
    endpoints = new Array<Endpoint>(items.length);
    for (let i = 0; i < items.length; i++) endpoints[i] = endpoint(c, items[i], child(epPath, i), name);
  }

  const out: DomainConfig = { name, altNames, managed, endpoints, nginx: c.field(o, 'nginx', path, (x, p) => c.boolean(x, p)) ?? managed };
  if (o.files != null) {
    const p = child(path, 'files');
    const f = c.mapping(o.files, p, ['cert', 'key']);
    out.files = { cert: c.required(f.cert, [...p, 'cert'], 'the certificate file path', (x, q) => c.path(x, q)) };
    const key = c.optional(f.key, [...p, 'key'], (x, q) => c.path(x, q));
    if (key !== undefined) out.files.key = key;
  }
  const challenge = c.field(o, 'challenge', path, (x, p) => checkChallenge(c, x, p));
  if (challenge) out.challenge = challenge;
  const keyType = c.field(o, 'keyType', path, (x, p) => checkKeyType(c, x, p));
  if (keyType !== undefined) out.keyType = keyType;
  const profile = c.field(o, 'profile', path, (x, p) => checkProfile(c, x, p));
  if (profile !== undefined) out.profile = profile;
  const renewBeforeDays = c.field(o, 'renewBeforeDays', path, (x, p) => checkRenewBeforeDays(c, x, p));
  if (renewBeforeDays !== undefined) out.renewBeforeDays = renewBeforeDays;
  if (o.hooks != null) out.hooks = checkHooks(c, o.hooks, child(path, 'hooks'));
  if (o.notify != null) {
    const p = child(path, 'notify');
    const n = c.mapping(o.notify, p, ['to', 'thresholds', 'channels']);
    out.notify = {};
    if (n.to != null) out.notify.to = emailList(c, n.to, [...p, 'to'], false);
    if (n.thresholds != null) out.notify.thresholds = checkThresholds(c, n.thresholds, [...p, 'thresholds']);
    // Names only here: whether each is configured is checked with notify (config/schema.ts).
    if (n.channels != null) {
      const q = [...p, 'channels'];
      out.notify.channels = [...new Set(c.list(n.channels, q, 'a list of channel names, like [email, ops-ntfy]').map((x, i) => c.string(x, [...q, i], 'a channel name')))];
    }
  }
  const acmeChallenge = acme?.challenge;
  if (!managed) {
    for (const key of MANAGED_ONLY) {
      if (o[key] != null) c.fail([...path, key], `set on a monitor-only domain (managed: false), which is never renewed; remove it or set managed: true`);
    }
  }
  // Blame the name that causes the problem: the primary name or the altNames entry.
  const pathOf = (n: string): KeyPath => (n === name ? child(path, 'name') : [...altPath, altNames.indexOf(n)]);
  const ip = isIpLiteral(name) ? name : altNames.find((n) => isIpLiteral(n));
  if (managed && ip && (profile ?? acme?.profile) === undefined) {
    c.fail(pathOf(ip), `${JSON.stringify(ip)}: public CAs issue for IP addresses only under a profile that allows them (Let's Encrypt: "shortlived"); set profile on the domain, or managed: false to only monitor it`);
  }

  const wildcard = name.startsWith('*.') ? name : altNames.find((n) => n.startsWith('*.'));
  const effective = challenge ?? acmeChallenge;
  if (managed && wildcard && effective?.type === 'http-01') {
    c.fail(challenge ? [...path, 'challenge', 'type'] : pathOf(wildcard), `${JSON.stringify(wildcard)}: CAs issue wildcard names only through dns-01, but this domain uses http-01${challenge ? '' : ' (from acme.challenge)'}; add challenge: {type: dns-01, …} to the domain`);
  }
  if (managed && wildcard && acme && !effective) {
    c.fail(pathOf(wildcard), `${JSON.stringify(wildcard)}: CAs issue wildcard names only through dns-01, and no challenge is configured; add challenge: {type: dns-01, …} to the domain`);
  }
  if (!managed && out.nginx && !out.files) {
    c.fail(child(path, 'nginx'), `monitor-only domain ${JSON.stringify(name)} has no files for an nginx snippet to point at; add files: {cert, key} or remove nginx: true`);
  }
  if (!managed && out.nginx && out.files && !out.files.key) {
    c.fail([...path, 'files', 'key'], `missing; an nginx snippet for monitor-only domain ${JSON.stringify(name)} needs the key file too`);
  }
  if (!managed && endpoints.length === 0 && !out.files) {
    c.fail(path, `monitor-only domain ${JSON.stringify(name)} has nothing to check${name.startsWith('*.') ? ' (a wildcard gets no default endpoint)' : ''}; add endpoints or files`);
  }
  return out;
}

/** Where an endpoint was listed, for "already listed at …". */
function listedAt(p: KeyPath): string {
  return `${formatKeyPath(p)}${typeof p[p.length - 1] === 'number' ? '' : ' (the default endpoint)'}`;
}

/** The key path of endpoint `j` of domain `i`: its list entry, or the `endpoints` key of a default one. */
function endpointPath(raw: unknown, i: number, j: number): KeyPath {
  const listed = (raw as Record<string, unknown> | null)?.endpoints;
  return listed === undefined || listed === null ? ['domains', i, 'endpoints'] : ['domains', i, 'endpoints', j];
}

// The fast path below must accept only what `domain` accepts and give what it gives.
// Same as core/names.ts's canonical plain name: lower-case LDH labels, a last label starting
// with a letter (never an IP literal), no trailing dot; "xn--" and length are checked apart.
const PLAIN_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_OPTS = { label: 'host' } as const;
const ADDRESS_OPTS = { label: 'address' } as const;

function plainName(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 253 && PLAIN_NAME.test(v) && !v.includes('xn--');
}

/** `normalizeHost` for a value `endpoint` would pass to it, or undefined where `endpoint` would fail or must decide. */
function plainHost(v: unknown, opts: { label: string }): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  try {
    return normalizeHost(v, opts);
  } catch (err) {
    void err; // `endpoint` reports it, with its key path
    return undefined;
  }
}

/**
 * The common domain — a plain name, `managed`/`nginx` flags, endpoints of host, port and
 * optionally address and protocol — validated without building a key path (paths are only
 * read by error messages; at 100,000 domains building them was most of what validation
 * allocated). Anything else, and anything wrong, returns undefined: `domain` then decides,
 * with its messages. The result is exactly what `domain` returns for the same input.
 */
export function plainDomain(v: unknown): DomainConfig | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return undefined;
  const o = v as Record<string, unknown>;
  // for…in also sees inherited keys, which only sends such an object to `domain` (it allocates no key list).
  for (const key in o) {
    if (key !== 'name' && key !== 'managed' && key !== 'endpoints' && key !== 'nginx' && key !== 'altNames') return undefined;
  }
  const name = o.name;
  if (!plainName(name)) return undefined;
  const m = o.managed;
  if (m !== undefined && m !== null && typeof m !== 'boolean') return undefined;
  const managed = m ?? true;
  // certName: an ACME-managed name needs two labels.
  if (managed && !name.includes('.')) return undefined;
  const alt = o.altNames;
  if (alt !== undefined && alt !== null && !(Array.isArray(alt) && alt.length === 0)) return undefined;
  const ng = o.nginx;
  if (ng !== undefined && ng !== null && typeof ng !== 'boolean') return undefined;
  const nginx = ng ?? managed;
  // A monitor-only domain with nginx needs files, which the fast path does not take.
  if (!managed && nginx) return undefined;
  let endpoints: Endpoint[];
  const eps = o.endpoints;
  if (eps === undefined || eps === null) {
    endpoints = [{ host: name, port: 443 }];
  } else {
    if (!Array.isArray(eps) || (eps.length === 0 && !managed)) return undefined;
    endpoints = new Array<Endpoint>(eps.length);
    for (let j = 0; j < eps.length; j++) {
      const e = plainEndpoint(eps[j], name);
      if (e === undefined) return undefined;
      endpoints[j] = e;
    }
  }
  return { name, altNames: [], managed, endpoints, nginx };
}

function plainEndpoint(v: unknown, name: string): Endpoint | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return undefined;
  const o = v as Record<string, unknown>;
  for (const key in o) {
    if (key !== 'host' && key !== 'port' && key !== 'address' && key !== 'protocol') return undefined;
  }
  // The domain's own (plain) name is a plain host too: normalizeHost returns it as it is.
  const host = o.host === undefined || o.host === null || o.host === name ? name : plainHost(o.host, HOST_OPTS);
  if (host === undefined) return undefined;
  const p = o.port;
  let port = 443;
  if (p !== undefined && p !== null) {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) return undefined;
    port = p;
  }
  const out: Endpoint = { host, port };
  if (o.address !== undefined && o.address !== null) {
    const address = plainHost(o.address, ADDRESS_OPTS);
    if (address === undefined) return undefined;
    out.address = address;
  }
  const protocol = o.protocol;
  if (protocol !== undefined && protocol !== null) {
    if (typeof protocol !== 'string' || !(ENDPOINT_PROTOCOLS as readonly string[]).includes(protocol)) return undefined;
    if (protocol !== 'tls') out.protocol = protocol as Endpoint['protocol'];
  }
  return out;
}

/**
 * Names the fast path's code for config/parse-cache.ts, which keeps domains[] as validated by it:
 * the source text of the functions that decide it (and of core/names.ts, which normalises hosts),
 * so any change to them makes cached lists stale without anyone remembering to bump a number.
 */
export const DOMAINS_FAST_PATH: string = createHash('sha256')
  .update([plainDomain, plainEndpoint, plainName, plainHost, checkDomains, ...Object.values(names)].map(String).join('\u0000'))
  .update(`${PLAIN_NAME.source}\u0000${ENDPOINT_PROTOCOLS.join(',')}`)
  .digest('hex')
  .slice(0, 24);

/**
 * Fast-path domains (plainDomain's results) packed for config/parse-cache.ts: parallel arrays,
 * which JSON.parse reads several times faster than 100,000 objects with their keys. An
 * endpoint list that is the default one ([{host: name, port: 443}]) is 0; an endpoint is
 * [host or 0 for the name, port, address or 0, protocol or 0].
 */
export interface PackedDomains {
  names: string[];
  /** 1: managed, 2: nginx. */
  flags: number[];
  endpoints: (0 | (string | number)[][])[];
}

export function packPlainDomains(domains: readonly DomainConfig[]): PackedDomains {
  const out: PackedDomains = { names: [], flags: [], endpoints: [] };
  for (const d of domains) {
    out.names.push(d.name);
    out.flags.push((d.managed ? 1 : 0) | (d.nginx ? 2 : 0));
    const eps = d.endpoints;
    const only = eps.length === 1 ? eps[0]! : undefined;
    if (only && only.host === d.name && only.port === 443 && only.address === undefined && only.protocol === undefined) out.endpoints.push(0);
    else out.endpoints.push(eps.map((e) => [e.host === d.name ? 0 : e.host, e.port, e.address ?? 0, e.protocol ?? 0]));
  }
  return out;
}

/** packPlainDomains undone: objects of plainDomain's shape and key order. Undefined for anything else. */
export function unpackPlainDomains(p: unknown): DomainConfig[] | undefined {
  const packed = p as PackedDomains | null;
  if (!packed || !Array.isArray(packed.names) || !Array.isArray(packed.flags) || !Array.isArray(packed.endpoints)) return undefined;
  const n = packed.names.length;
  if (packed.flags.length !== n || packed.endpoints.length !== n) return undefined;
  const out = new Array<DomainConfig>(n);
  for (let i = 0; i < n; i++) {
    const name = packed.names[i]!;
    const f = packed.flags[i]!;
    const eps = packed.endpoints[i]!;
    let endpoints: Endpoint[];
    if (eps === 0) endpoints = [{ host: name, port: 443 }];
    else {
      endpoints = new Array<Endpoint>(eps.length);
      for (let j = 0; j < eps.length; j++) {
        const [host, port, address, protocol] = eps[j]!;
        const e: Endpoint = { host: host === 0 ? name : (host as string), port: port as number };
        if (address !== 0) e.address = address as string;
        if (protocol !== 0) e.protocol = protocol as Endpoint['protocol'];
        endpoints[j] = e;
      }
    }
    out[i] = { name, altNames: [], managed: (f & 1) !== 0, endpoints, nginx: (f & 2) !== 0 };
  }
  return out;
}

/** An endpoint already listed: its port and address, and the domain (index) listing it. */
interface Listed {
  port: number;
  address: string | undefined;
  domain: number;
}

const sameEndpoint = (l: Listed, e: Endpoint): boolean => l.port === e.port && l.address === e.address;

/** `seen.allPlain`: whether every domain took the fast path (plainDomain), set once the list is valid. */
export function checkDomains(c: Checker, v: unknown, acme: AcmeConfig | undefined, seen?: { allPlain?: boolean }): DomainConfig[] {
  let allPlain = true;
  const items = c.optional(v, ['domains'], (x, p) => c.list(x, p, 'a list of domains like [{name: example.com}]')) ?? [];
  // First place of each name and endpoint, as indexes: the key paths for a message are built
  // when one is needed. Endpoints are found by host, then port and address (the same test as
  // formatEndpoint's text, without building that text for every endpoint).
  const names = new Map<string, number>();
  const byHost = new Map<string, Listed | Listed[]>();
  const out = new Array<DomainConfig>(items.length);
  for (let i = 0; i < items.length; i++) {
    let d = plainDomain(items[i]);
    if (d === undefined) {
      allPlain = false;
      d = domain(c, items[i], ['domains', i], acme);
    }
    const first = names.get(d.name);
    if (first !== undefined) c.fail(['domains', i, 'name'], `domain ${JSON.stringify(d.name)} is already defined at ${formatKeyPath(['domains', first, 'name'])}`);
    names.set(d.name, i);
    for (let j = 0; j < d.endpoints.length; j++) {
      const e = d.endpoints[j]!;
      const listed = byHost.get(e.host);
      const other = listed === undefined ? undefined : Array.isArray(listed) ? listed.find((l) => sameEndpoint(l, e)) : sameEndpoint(listed, e) ? listed : undefined;
      if (other !== undefined) {
        const key = formatEndpoint(e);
        const firstJ = (other.domain === i ? d : out[other.domain]!).endpoints.findIndex((x) => formatEndpoint(x) === key);
        c.fail(endpointPath(items[i], i, j), `endpoint ${key} is already listed at ${listedAt(endpointPath(items[other.domain], other.domain, firstJ))}; scan each endpoint once`);
      }
      const entry: Listed = { port: e.port, address: e.address, domain: i };
      if (listed === undefined) byHost.set(e.host, entry);
      else if (Array.isArray(listed)) listed.push(entry);
      else byHost.set(e.host, [listed, entry]);
    }
    out[i] = d;
  }
  if (seen) seen.allPlain = allPlain;
  return out;
}
