/** The inventory: domains, their names and endpoints, with duplicate checks across all of them. */
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
  const h = (s: string): string => (s.includes(':') ? `[${s}]` : s);
  return `${h(e.host)}:${e.port}${e.address === undefined ? '' : `@${h(e.address)}`}`;
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

function domain(c: Checker, v: unknown, path: KeyPath, acme: AcmeConfig | undefined): { domain: DomainConfig; endpointPaths: KeyPath[] } {
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
  let endpointPaths: KeyPath[];
  const epPath = child(path, 'endpoints');
  if (o.endpoints === undefined || o.endpoints === null) {
    // A wildcard cannot be dialled, so it only gets checked through its files.
    endpoints = name.startsWith('*.') ? [] : [{ host: name, port: 443 }];
    endpointPaths = endpoints.map(() => epPath);
  } else {
    const items = c.list(o.endpoints, epPath, 'a list of endpoints like [{host: example.com, port: 443}]');
    endpoints = new Array<Endpoint>(items.length);
    endpointPaths = new Array<KeyPath>(items.length);
    for (let i = 0; i < items.length; i++) {
      const p = child(epPath, i);
      endpointPaths[i] = p;
      endpoints[i] = endpoint(c, items[i], p, name);
    }
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
    const n = c.mapping(o.notify, p, ['to', 'thresholds']);
    out.notify = {};
    if (n.to != null) out.notify.to = emailList(c, n.to, [...p, 'to'], false);
    if (n.thresholds != null) out.notify.thresholds = checkThresholds(c, n.thresholds, [...p, 'thresholds']);
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
  return { domain: out, endpointPaths };
}

/** Where an endpoint was listed, for "already listed at …". */
function listedAt(p: KeyPath): string {
  return `${formatKeyPath(p)}${typeof p[p.length - 1] === 'number' ? '' : ' (the default endpoint)'}`;
}

export function checkDomains(c: Checker, v: unknown, acme: AcmeConfig | undefined): DomainConfig[] {
  const items = c.optional(v, ['domains'], (x, p) => c.list(x, p, 'a list of domains like [{name: example.com}]')) ?? [];
  // First place of each name and endpoint; a domain's paths are kept (not rebuilt) for the message.
  const names = new Map<string, number>();
  const endpoints = new Map<string, KeyPath>();
  const out = new Array<DomainConfig>(items.length);
  for (let i = 0; i < items.length; i++) {
    const path: KeyPath = ['domains', i];
    const { domain: d, endpointPaths } = domain(c, items[i], path, acme);
    const first = names.get(d.name);
    if (first !== undefined) c.fail(child(path, 'name'), `domain ${JSON.stringify(d.name)} is already defined at ${formatKeyPath(['domains', first, 'name'])}`);
    names.set(d.name, i);
    for (let j = 0; j < d.endpoints.length; j++) {
      const key = formatEndpoint(d.endpoints[j]!);
      const here = endpointPaths[j] ?? path;
      const other = endpoints.get(key);
      if (other) c.fail(here, `endpoint ${key} is already listed at ${listedAt(other)}; scan each endpoint once`);
      endpoints.set(key, here);
    }
    out[i] = d;
  }
  return out;
}
