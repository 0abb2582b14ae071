/** The acme section and the challenge settings it shares with domains[].challenge. */
import { normalizeDomainName } from '../core/names.js';
import { nearest } from '../core/nearest.js';
import type { Checker, KeyPath } from './kit.js';
import { at, host, hostPort, port, secret } from './schema-common.js';
import {
  ACME_DIRECTORY_SHORTCUTS,
  ACME_KEY_TYPES,
  TSIG_ALGORITHMS,
  resolveDirectory,
  type AcmeConfig,
  type ChallengeConfig,
  type IssuerConfig,
  type DomainHooks,
  type PreflightConfig,
  type PropagationConfig,
  type Rfc2136Config,
} from './types.js';

export const ACME_KEYS = ['directory', 'issuers', 'stickyIssuer', 'caFile', 'email', 'agreeToTerms', 'eab', 'keyType', 'challenge', 'profile', 'renewBeforeDays', 'reuseKey', 'concurrency', 'preflight', 'timeoutMs'] as const;
const CHALLENGE_KEYS = ['type', 'webroot', 'standalone', 'shared', 'hook', 'rfc2136', 'hookTimeoutMs', 'propagation'] as const;
const RFC2136_KEYS = ['server', 'port', 'zone', 'tsigKeyName', 'tsigSecret', 'tsigAlgorithm', 'ttl'] as const;
const PREFLIGHT_KEYS = ['enabled', 'httpPort', 'resolver', 'timeoutMs'] as const;

export const PREFLIGHT_DEFAULTS: PreflightConfig = { enabled: true, httpPort: 80, timeoutMs: 10_000 };
export const PROPAGATION_DEFAULTS: PropagationConfig = { timeoutMs: 120_000, intervalMs: 2_000 };

/** ACME profile names are short tokens (draft-ietf-acme-profiles); anything else is a typo or an injection. */
function profileName(c: Checker, v: unknown, path: KeyPath): string {
  const s = c.string(v, path, 'an ACME profile name like "classic"');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(s)) c.fail(path, `profile ${JSON.stringify(s)}: expected letters, digits, ".", "_" or "-" (like "shortlived")`);
  return s;
}

export function checkProfile(c: Checker, v: unknown, path: KeyPath): string | undefined {
  return c.optional(v, path, (x, p) => profileName(c, x, p));
}

export function checkKeyType(c: Checker, v: unknown, path: KeyPath): AcmeConfig['keyType'] {
  return c.optional(v, path, (x, p) => c.oneOf(x, p, ACME_KEY_TYPES));
}

export function checkRenewBeforeDays(c: Checker, v: unknown, path: KeyPath): number | undefined {
  return c.optional(v, path, (x, p) => c.integer(x, p, 1, 3650));
}

export function checkHooks(c: Checker, v: unknown, path: KeyPath): DomainHooks {
  const o = c.mapping(v, path, ['pre', 'post', 'deploy', 'timeoutMs']);
  const out: DomainHooks = { timeoutMs: c.optional(o.timeoutMs, at(path, 'timeoutMs'), (x, p) => c.integer(x, p, 100, 3_600_000)) ?? 60_000 };
  for (const key of ['pre', 'post', 'deploy'] as const) {
    const argv = c.optional(o[key], at(path, key), (x, p) => c.argv(x, p));
    if (argv !== undefined) out[key] = argv;
  }
  return out;
}

function checkPropagation(c: Checker, v: unknown, path: KeyPath): PropagationConfig {
  const o = c.mapping(v, path, ['servers', 'timeoutMs', 'intervalMs']);
  const out: PropagationConfig = {
    timeoutMs: c.optional(o.timeoutMs, at(path, 'timeoutMs'), (x, p) => c.integer(x, p, 100, 3_600_000)) ?? PROPAGATION_DEFAULTS.timeoutMs,
    intervalMs: c.optional(o.intervalMs, at(path, 'intervalMs'), (x, p) => c.integer(x, p, 10, 600_000)) ?? PROPAGATION_DEFAULTS.intervalMs,
  };
  const servers = c.optional(o.servers, at(path, 'servers'), (x, p) => c.list(x, p, 'a list of name servers like ["ns1.example.com", "192.0.2.53:53"]'));
  if (servers !== undefined) {
    if (servers.length === 0) c.fail(at(path, 'servers'), 'empty; leave it out to ask the zone\'s NS records');
    out.servers = servers.map((x, i) => hostPort(c, x, [...path, 'servers', i], 53));
  }
  return out;
}

export function checkChallenge(c: Checker, v: unknown, path: KeyPath): ChallengeConfig {
  const o = c.mapping(v, path, CHALLENGE_KEYS);
  const type = c.required(o.type, at(path, 'type'), 'http-01 or dns-01', (x, p) => c.oneOf(x, p, ['http-01', 'dns-01'] as const));
  const own = type === 'http-01' ? (['webroot', 'standalone', 'shared'] as const) : (['hook', 'rfc2136'] as const);
  const dnsOnly = ['hookTimeoutMs', 'propagation'];
  for (const key of CHALLENGE_KEYS) {
    if (key === 'type' || o[key] === undefined) continue;
    if (dnsOnly.includes(key) ? type !== 'dns-01' : !(own as readonly string[]).includes(key)) {
      c.fail(at(path, key), `not used by ${type}; ${type} takes ${own.join(' or ')}`);
    }
  }
  if (o.shared !== undefined && o.shared !== null && c.boolean(o.shared, at(path, 'shared')) !== true) {
    c.fail(at(path, 'shared'), 'only true is meaningful; leave it out and set webroot or standalone instead');
  }
  const given = own.filter((k) => o[k] !== undefined && o[k] !== null && !(k === 'shared' && o[k] === false));
  if (given.length !== 1) c.fail(path, `${type} needs exactly one of ${own.join(' or ')}, got ${given.length === 0 ? 'neither' : 'both'}`);

  const out: ChallengeConfig = { type };
  if (o.webroot != null) out.webroot = c.path(o.webroot, at(path, 'webroot'));
  if (o.shared === true) out.shared = true;
  if (o.standalone != null) {
    const p = at(path, 'standalone');
    const s = c.mapping(o.standalone, p, ['address', 'port']);
    out.standalone = { port: port(c, s.port, at(p, 'port'), 80) };
    const address = c.optional(s.address, at(p, 'address'), (x, q) => host(c, x, q));
    if (address !== undefined) out.standalone.address = address;
  }
  if (o.hook != null) {
    out.hook = c.argv(o.hook, at(path, 'hook'));
    const timeout = c.optional(o.hookTimeoutMs, at(path, 'hookTimeoutMs'), (x, p) => c.integer(x, p, 100, 3_600_000));
    if (timeout !== undefined) out.hookTimeoutMs = timeout;
  } else if (o.hookTimeoutMs != null) {
    c.fail(at(path, 'hookTimeoutMs'), 'set without a hook');
  }
  if (o.rfc2136 != null) out.rfc2136 = checkRfc2136(c, o.rfc2136, at(path, 'rfc2136'));
  if (type === 'dns-01') out.propagation = o.propagation == null ? { ...PROPAGATION_DEFAULTS } : checkPropagation(c, o.propagation, at(path, 'propagation'));
  return out;
}

function checkRfc2136(c: Checker, v: unknown, path: KeyPath): Rfc2136Config {
  const o = c.mapping(v, path, RFC2136_KEYS);
  const out: Rfc2136Config = {
    server: c.required(o.server, at(path, 'server'), 'the name server to send updates to', (x, p) => host(c, x, p)),
    port: port(c, o.port, at(path, 'port'), 53),
  };
  const zone = c.optional(o.zone, at(path, 'zone'), (x, p) => c.via(x, p, 'a DNS zone name', (s) => normalizeDomainName(s, { label: 'zone', minLabels: 1 })));
  if (zone !== undefined) out.zone = zone;
  const keyName = c.optional(o.tsigKeyName, at(path, 'tsigKeyName'), (x, p) => c.string(x, p, 'a TSIG key name'));
  const keySecret = c.optional(o.tsigSecret, at(path, 'tsigSecret'), (x, p) => secret(c, x, p));
  if ((keyName === undefined) !== (keySecret === undefined)) {
    c.fail(at(path, keyName === undefined ? 'tsigKeyName' : 'tsigSecret'), 'missing; tsigKeyName and tsigSecret go together');
  }
  if (keySecret !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(keySecret)) c.fail(at(path, 'tsigSecret'), 'expected a base64 TSIG secret (value not shown)');
  if (keyName !== undefined && keySecret !== undefined) {
    out.tsigKeyName = keyName;
    out.tsigSecret = keySecret;
    out.tsigAlgorithm = c.optional(o.tsigAlgorithm, at(path, 'tsigAlgorithm'), (x, p) => c.oneOf(x, p, TSIG_ALGORITHMS)) ?? 'hmac-sha256';
  } else if (o.tsigAlgorithm != null) {
    c.fail(at(path, 'tsigAlgorithm'), 'set without a TSIG key; add tsigKeyName and tsigSecret');
  }
  const ttl = c.optional(o.ttl, at(path, 'ttl'), (x, p) => c.integer(x, p, 1, 86400));
  if (ttl !== undefined) out.ttl = ttl;
  return out;
}

function directory(c: Checker, v: unknown, path: KeyPath): string {
  const names = Object.keys(ACME_DIRECTORY_SHORTCUTS);
  if (typeof v === 'string' && names.includes(v)) return v;
  if (typeof v === 'string' && /^https:\/\//i.test(v.trim())) return c.url(v, path, ['https']);
  const near = typeof v === 'string' ? nearest(v, names) : undefined;
  return c.expected(path, v, `one of ${names.join(', ')} or an https:// directory URL${near ? ` (did you mean "${near}"?)` : ''}`);
}

/** `preflight: false` turns it off; a mapping tunes it (test CAs validate on other ports). */
function checkPreflight(c: Checker, v: unknown, path: KeyPath): PreflightConfig {
  if (typeof v === 'boolean') return { ...PREFLIGHT_DEFAULTS, enabled: v };
  const o = c.mapping(v, path, PREFLIGHT_KEYS);
  const out: PreflightConfig = {
    enabled: c.optional(o.enabled, at(path, 'enabled'), (x, p) => c.boolean(x, p)) ?? true,
    httpPort: port(c, o.httpPort, at(path, 'httpPort'), PREFLIGHT_DEFAULTS.httpPort),
    timeoutMs: c.optional(o.timeoutMs, at(path, 'timeoutMs'), (x, p) => c.integer(x, p, 100, 600_000)) ?? PREFLIGHT_DEFAULTS.timeoutMs,
  };
  const resolver = c.optional(o.resolver, at(path, 'resolver'), (x, p) => hostPort(c, x, p, 53));
  if (resolver !== undefined) out.resolver = resolver;
  return out;
}

function checkEab(c: Checker, v: unknown, path: KeyPath): { kid: string; hmacKey: string } {
  const e = c.mapping(v, path, ['kid', 'hmacKey']);
  return {
    kid: c.required(e.kid, at(path, 'kid'), 'the EAB key identifier from the CA', (y, q) => c.string(y, q)),
    hmacKey: c.required(e.hmacKey, at(path, 'hmacKey'), 'the EAB HMAC key from the CA', (y, q) => secret(c, y, q)),
  };
}

const ISSUER_KEYS = ['directory', 'eab', 'profile', 'caFile', 'email', 'caaIdentities'] as const;

/** `acme.issuers`: CAs in order of preference, each directory once (accounts are per directory). */
function checkIssuers(c: Checker, v: unknown, path: KeyPath): IssuerConfig[] {
  const items = c.list(v, path, 'a list of CAs like [{directory: letsencrypt}, {directory: zerossl, eab: {kid, hmacKey}}]');
  if (items.length === 0) c.fail(path, 'empty; list at least one CA, or leave issuers out and set acme.directory');
  const seen = new Map<string, number>();
  return items.map((item, i) => {
    const p: KeyPath = [...path, i];
    const o = c.mapping(item, p, ISSUER_KEYS);
    const out: IssuerConfig = { directory: c.required(o.directory, at(p, 'directory'), 'the CA\'s directory: a shortcut like letsencrypt or an https:// URL', (x, q) => directory(c, x, q)) };
    const url = resolveDirectory(out.directory);
    const earlier = seen.get(url);
    if (earlier !== undefined) c.fail(at(p, 'directory'), `${out.directory} is already issuer ${earlier}; list each CA once`);
    seen.set(url, i);
    const eab = c.optional(o.eab, at(p, 'eab'), (x, q) => checkEab(c, x, q));
    if (eab !== undefined) out.eab = eab;
    const profile = checkProfile(c, o.profile, at(p, 'profile'));
    if (profile !== undefined) out.profile = profile;
    const caFile = c.optional(o.caFile, at(p, 'caFile'), (x, q) => c.path(x, q));
    if (caFile !== undefined) out.caFile = caFile;
    const email = c.optional(o.email, at(p, 'email'), (x, q) => c.email(x, q));
    if (email !== undefined) out.email = email;
    const ids = c.optional(o.caaIdentities, at(p, 'caaIdentities'), (x, q) => c.list(x, q, 'CAA issuer domain names like ["letsencrypt.org"]'));
    if (ids !== undefined) {
      out.caaIdentities = ids.map((x, j) => c.via(x, [...p, 'caaIdentities', j], 'a CAA issuer domain name like "letsencrypt.org"', (s) => normalizeDomainName(s, { label: 'CAA identity', minLabels: 1 })));
    }
    return out;
  });
}

export function checkAcme(c: Checker, v: unknown, path: KeyPath): AcmeConfig {
  const o = c.mapping(v, path, ACME_KEYS);
  const out: AcmeConfig = {
    issuers: [],
    stickyIssuer: false,
    agreeToTerms: c.optional(o.agreeToTerms, at(path, 'agreeToTerms'), (x, p) => c.boolean(x, p)) ?? false,
    reuseKey: c.optional(o.reuseKey, at(path, 'reuseKey'), (x, p) => c.boolean(x, p)) ?? false,
    concurrency: c.optional(o.concurrency, at(path, 'concurrency'), (x, p) => c.integer(x, p, 1, 64)) ?? 4,
    preflight: o.preflight == null ? { ...PREFLIGHT_DEFAULTS } : checkPreflight(c, o.preflight, at(path, 'preflight')),
    timeoutMs: c.optional(o.timeoutMs, at(path, 'timeoutMs'), (x, p) => c.integer(x, p, 1000, 600_000)) ?? 30_000,
  };
  const set = <K extends keyof AcmeConfig>(key: K, value: AcmeConfig[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('directory', c.optional(o.directory, at(path, 'directory'), (x, p) => directory(c, x, p)));
  set('caFile', c.optional(o.caFile, at(path, 'caFile'), (x, p) => c.path(x, p)));
  set('email', c.optional(o.email, at(path, 'email'), (x, p) => c.email(x, p)));
  set('eab', c.optional(o.eab, at(path, 'eab'), (x, p) => checkEab(c, x, p)));
  set('keyType', checkKeyType(c, o.keyType, at(path, 'keyType')));
  if (o.issuers != null) {
    // One place says where to order: a directory (or eab) beside the list would be ambiguous.
    for (const key of ['directory', 'eab'] as const) {
      if (o[key] != null) c.fail(at(path, key), `set beside acme.issuers; give each issuer its own ${key} in the list`);
    }
    out.issuers = checkIssuers(c, o.issuers, at(path, 'issuers'));
    out.directory = out.issuers[0]!.directory;
  } else {
    out.issuers = [{ directory: out.directory ?? 'letsencrypt', ...(out.eab ? { eab: out.eab } : {}) }];
  }
  out.stickyIssuer = c.optional(o.stickyIssuer, at(path, 'stickyIssuer'), (x, p) => c.boolean(x, p)) ?? false;
  set('challenge', c.optional(o.challenge, at(path, 'challenge'), (x, p) => checkChallenge(c, x, p)));
  set('profile', checkProfile(c, o.profile, at(path, 'profile')));
  set('renewBeforeDays', checkRenewBeforeDays(c, o.renewBeforeDays, at(path, 'renewBeforeDays')));
  return out;
}
