/** acme, nginx, daemon and notify sections: checked now, used by later layers. */
import { normalizeDomainName, normalizeHost } from '../core/names.js';
import { cronProblem } from './cron.js';
import { nearest } from '../core/nearest.js';
import type { Checker, KeyPath } from './kit.js';
import {
  ACME_DIRECTORY_SHORTCUTS,
  ACME_KEY_TYPES,
  TSIG_ALGORITHMS,
  type AcmeConfig,
  type ChallengeConfig,
  type DaemonConfig,
  type NginxConfig,
  type NotifyConfig,
  type Rfc2136Config,
} from './types.js';

export const ACME_KEYS = ['directory', 'caFile', 'email', 'agreeToTerms', 'eab', 'keyType', 'challenge', 'profile', 'renewBeforeDays'] as const;
const CHALLENGE_KEYS = ['type', 'webroot', 'standalone', 'hook', 'rfc2136'] as const;
const RFC2136_KEYS = ['server', 'port', 'zone', 'tsigKeyName', 'tsigSecret', 'tsigAlgorithm', 'ttl'] as const;
export const DEFAULT_THRESHOLDS = [30, 14, 7, 3, 1];

const at = (path: KeyPath, key: string): KeyPath => [...path, key];

function port(c: Checker, v: unknown, path: KeyPath, fallback: number): number {
  return c.optional(v, path, (x, p) => c.integer(x, p, 1, 65535)) ?? fallback;
}

function host(c: Checker, v: unknown, path: KeyPath): string {
  return c.via(v, path, 'a host name or IP address', (s) => normalizeHost(s, { label: 'host' }));
}

/** A secret string: checked for presence only, and never shown in messages even when written inline. */
function secret(c: Checker, v: unknown, path: KeyPath): string {
  if (typeof v !== 'string' || v === '') return c.fail(path, `expected a non-empty string (a secret; consider "\${env:NAME}" or "\${file:PATH}")`);
  return v;
}

export function checkChallenge(c: Checker, v: unknown, path: KeyPath): ChallengeConfig {
  const o = c.mapping(v, path, CHALLENGE_KEYS);
  const type = c.required(o.type, at(path, 'type'), 'http-01 or dns-01', (x, p) => c.oneOf(x, p, ['http-01', 'dns-01'] as const));
  const own = type === 'http-01' ? (['webroot', 'standalone'] as const) : (['hook', 'rfc2136'] as const);
  for (const key of CHALLENGE_KEYS) {
    if (key !== 'type' && !(own as readonly string[]).includes(key) && o[key] !== undefined) {
      c.fail(at(path, key), `not used by ${type}; ${type} takes ${own.join(' or ')}`);
    }
  }
  const given = own.filter((k) => o[k] !== undefined && o[k] !== null);
  if (given.length !== 1) c.fail(path, `${type} needs exactly one of ${own.join(' or ')}, got ${given.length === 0 ? 'neither' : 'both'}`);

  const out: ChallengeConfig = { type };
  if (o.webroot != null) out.webroot = c.path(o.webroot, at(path, 'webroot'));
  if (o.standalone != null) {
    const p = at(path, 'standalone');
    const s = c.mapping(o.standalone, p, ['address', 'port']);
    out.standalone = { port: port(c, s.port, at(p, 'port'), 80) };
    const address = c.optional(s.address, at(p, 'address'), (x, q) => host(c, x, q));
    if (address !== undefined) out.standalone.address = address;
  }
  if (o.hook != null) out.hook = c.argv(o.hook, at(path, 'hook'));
  if (o.rfc2136 != null) out.rfc2136 = checkRfc2136(c, o.rfc2136, at(path, 'rfc2136'));
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

export function checkAcme(c: Checker, v: unknown, path: KeyPath): AcmeConfig {
  const o = c.mapping(v, path, ACME_KEYS);
  const out: AcmeConfig = {
    agreeToTerms: c.optional(o.agreeToTerms, at(path, 'agreeToTerms'), (x, p) => c.boolean(x, p)) ?? false,
  };
  const set = <K extends keyof AcmeConfig>(key: K, value: AcmeConfig[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('directory', c.optional(o.directory, at(path, 'directory'), (x, p) => directory(c, x, p)));
  set('caFile', c.optional(o.caFile, at(path, 'caFile'), (x, p) => c.path(x, p)));
  set('email', c.optional(o.email, at(path, 'email'), (x, p) => c.email(x, p)));
  set('eab', c.optional(o.eab, at(path, 'eab'), (x, p) => {
    const e = c.mapping(x, p, ['kid', 'hmacKey']);
    return {
      kid: c.required(e.kid, at(p, 'kid'), 'the EAB key identifier from the CA', (y, q) => c.string(y, q)),
      hmacKey: c.required(e.hmacKey, at(p, 'hmacKey'), 'the EAB HMAC key from the CA', (y, q) => secret(c, y, q)),
    };
  }));
  set('keyType', c.optional(o.keyType, at(path, 'keyType'), (x, p) => c.oneOf(x, p, ACME_KEY_TYPES)));
  set('challenge', c.optional(o.challenge, at(path, 'challenge'), (x, p) => checkChallenge(c, x, p)));
  set('profile', c.optional(o.profile, at(path, 'profile'), (x, p) => c.string(x, p, 'an ACME profile name like "classic"')));
  set('renewBeforeDays', c.optional(o.renewBeforeDays, at(path, 'renewBeforeDays'), (x, p) => c.integer(x, p, 1, 3650)));
  return out;
}

export function checkNginx(c: Checker, v: unknown, path: KeyPath): NginxConfig {
  const o = c.mapping(v, path, ['snippetDir', 'testCommand', 'reloadCommand', 'templateDir']);
  const out: NginxConfig = {};
  const snippetDir = c.optional(o.snippetDir, at(path, 'snippetDir'), (x, p) => c.path(x, p));
  if (snippetDir !== undefined) out.snippetDir = snippetDir;
  const testCommand = c.optional(o.testCommand, at(path, 'testCommand'), (x, p) => c.argv(x, p));
  if (testCommand !== undefined) out.testCommand = testCommand;
  const reloadCommand = c.optional(o.reloadCommand, at(path, 'reloadCommand'), (x, p) => c.argv(x, p));
  if (reloadCommand !== undefined) out.reloadCommand = reloadCommand;
  const templateDir = c.optional(o.templateDir, at(path, 'templateDir'), (x, p) => c.path(x, p));
  if (templateDir !== undefined) out.templateDir = templateDir;
  return out;
}

export function checkDaemon(c: Checker, v: unknown, path: KeyPath): DaemonConfig {
  const o = c.mapping(v, path, ['schedule', 'http']);
  const out: DaemonConfig = {};
  const schedule = c.optional(o.schedule, at(path, 'schedule'), (x, p) => {
    const s = c.string(x, p, 'a cron expression like "17 3,15 * * *"');
    const problem = cronProblem(s);
    return problem ? c.fail(p, `cron expression ${JSON.stringify(s)}: ${problem}`) : s.trim();
  });
  if (schedule !== undefined) out.schedule = schedule;
  // `http:` written with nothing after it turns the endpoint on with its defaults.
  if (o.http !== undefined) {
    const p = at(path, 'http');
    const h = c.mapping(o.http ?? {}, p, ['address', 'port']);
    out.http = {
      address: c.optional(h.address, at(p, 'address'), (x, q) => host(c, x, q)) ?? '127.0.0.1',
      port: port(c, h.port, at(p, 'port'), 9464),
    };
  }
  return out;
}

export function checkNotify(c: Checker, v: unknown, path: KeyPath): NotifyConfig {
  const o = c.mapping(v, path, ['thresholds', 'email', 'webhook']);
  const out: NotifyConfig = {
    thresholds: c.optional(o.thresholds, at(path, 'thresholds'), (x, p) => thresholds(c, x, p)) ?? [...DEFAULT_THRESHOLDS],
  };
  if (o.email != null) {
    const p = at(path, 'email');
    const e = c.mapping(o.email, p, ['smtp', 'from', 'to']);
    const sp = at(p, 'smtp');
    const s = c.mapping(c.required(e.smtp, sp, 'the SMTP server settings {host, port, …}', (x) => x), sp, ['host', 'port', 'secure', 'user', 'pass']);
    const secure = c.optional(s.secure, at(sp, 'secure'), (x, q) => c.boolean(x, q)) ?? false;
    const smtp: NonNullable<NotifyConfig['email']>['smtp'] = {
      host: c.required(s.host, at(sp, 'host'), 'the SMTP server host', (x, q) => host(c, x, q)),
      port: port(c, s.port, at(sp, 'port'), secure ? 465 : 587),
      secure,
    };
    const user = c.optional(s.user, at(sp, 'user'), (x, q) => c.string(x, q, 'an SMTP user name'));
    const pass = c.optional(s.pass, at(sp, 'pass'), (x, q) => secret(c, x, q));
    if ((user === undefined) !== (pass === undefined)) c.fail(at(sp, user === undefined ? 'user' : 'pass'), 'missing; user and pass go together');
    if (user !== undefined) smtp.user = user;
    if (pass !== undefined) smtp.pass = pass;
    const toPath = at(p, 'to');
    const to = c.required(e.to, toPath, 'a list of email addresses', (x, q) => c.list(x, q, 'a list of email addresses'));
    if (to.length === 0) c.fail(toPath, 'empty; expected at least one email address');
    out.email = {
      smtp,
      from: c.required(e.from, at(p, 'from'), 'the sender address', (x, q) => c.email(x, q)),
      to: to.map((x, i) => c.email(x, [...toPath, i])),
    };
  }
  if (o.webhook != null) {
    const p = at(path, 'webhook');
    const w = c.mapping(o.webhook, p, ['url', 'secret']);
    out.webhook = { url: c.required(w.url, at(p, 'url'), 'an http(s) URL', (x, q) => c.url(x, q, ['https', 'http'])) };
    const s = c.optional(w.secret, at(p, 'secret'), (x, q) => secret(c, x, q));
    if (s !== undefined) out.webhook.secret = s;
  }
  return out;
}

function thresholds(c: Checker, v: unknown, path: KeyPath): number[] {
  const items = c.list(v, path, 'a list of days, like [30, 14, 7, 3, 1]');
  if (items.length === 0) c.fail(path, 'empty; expected at least one number of days, like [30, 14, 7, 3, 1]');
  const seen = new Map<number, number>();
  for (const [i, x] of items.entries()) {
    const n = c.integer(x, [...path, i], 1, 3650);
    const first = seen.get(n);
    if (first !== undefined) c.fail([...path, i], `${n} is already listed at index ${first}`);
    seen.set(n, i);
  }
  return [...seen.keys()].sort((a, b) => b - a);
}
