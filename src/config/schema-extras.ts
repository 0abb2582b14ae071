/** nginx, daemon and notify sections (acme is in schema-acme.ts). */
import { cronProblem } from './cron.js';
import { errorMessage } from '../core/errors.js';
import { parseKek } from '../lib/kek.js';
import { parsePgUrl } from '../lib/pg-url.js';
import { formatKeyPath, type Checker, type KeyPath } from './kit.js';
import { at, host, port, secret } from './schema-common.js';
import { checkChannels, eventsOff } from './schema-channels.js';
import { CLUSTER_DEFAULTS, NODE_NAME_RE } from './node.js';
import { isIpLiteral } from '../core/names.js';
import type { ClusterConfig, DaemonConfig, NodeConfig, EmailConfig, FetchConfig, HooksConfig, NginxConfig, NotifyConfig, StoreConfig } from './types.js';

export const DEFAULT_THRESHOLDS = [30, 14, 7, 3, 1];

export const NGINX_DEFAULTS = {
  testCommand: ['nginx', '-t'],
  reloadCommand: ['nginx', '-s', 'reload'],
  hsts: { enabled: false, maxAgeSeconds: 63_072_000, includeSubDomains: false },
  verify: { timeoutMs: 30_000, intervalMs: 500 },
} as const;

export function checkNginx(c: Checker, v: unknown, path: KeyPath): NginxConfig {
  const o = c.mapping(v, path, ['snippetDir', 'testCommand', 'reloadCommand', 'dumpCommand', 'templateDir', 'hsts', 'verify']);
  const testCommand = c.optional(o.testCommand, at(path, 'testCommand'), (x, p) => c.argv(x, p)) ?? [...NGINX_DEFAULTS.testCommand];
  const out: NginxConfig = {
    testCommand,
    reloadCommand: c.optional(o.reloadCommand, at(path, 'reloadCommand'), (x, p) => c.argv(x, p)) ?? [...NGINX_DEFAULTS.reloadCommand],
    // `nginx -T` is `nginx -t` that also prints every file it read.
    dumpCommand: c.optional(o.dumpCommand, at(path, 'dumpCommand'), (x, p) => c.argv(x, p)) ?? testCommand.map((a) => (a === '-t' ? '-T' : a)),
    hsts: { ...NGINX_DEFAULTS.hsts },
    verify: { ...NGINX_DEFAULTS.verify },
  };
  const snippetDir = c.optional(o.snippetDir, at(path, 'snippetDir'), (x, p) => c.path(x, p));
  if (snippetDir !== undefined) out.snippetDir = snippetDir;
  const templateDir = c.optional(o.templateDir, at(path, 'templateDir'), (x, p) => c.path(x, p));
  if (templateDir !== undefined) out.templateDir = templateDir;
  if (o.hsts != null) {
    const p = at(path, 'hsts');
    if (typeof o.hsts === 'boolean') out.hsts.enabled = o.hsts;
    else {
      const h = c.mapping(o.hsts, p, ['enabled', 'maxAgeSeconds', 'includeSubDomains']);
      out.hsts = {
        enabled: c.optional(h.enabled, at(p, 'enabled'), (x, q) => c.boolean(x, q)) ?? true,
        maxAgeSeconds: c.optional(h.maxAgeSeconds, at(p, 'maxAgeSeconds'), (x, q) => c.integer(x, q, 0, 157_680_000)) ?? NGINX_DEFAULTS.hsts.maxAgeSeconds,
        includeSubDomains: c.optional(h.includeSubDomains, at(p, 'includeSubDomains'), (x, q) => c.boolean(x, q)) ?? false,
      };
    }
  }
  if (o.verify != null) {
    const p = at(path, 'verify');
    const vv = c.mapping(o.verify, p, ['timeoutMs', 'intervalMs']);
    out.verify = {
      timeoutMs: c.optional(vv.timeoutMs, at(p, 'timeoutMs'), (x, q) => c.integer(x, q, 100, 600_000)) ?? NGINX_DEFAULTS.verify.timeoutMs,
      intervalMs: c.optional(vv.intervalMs, at(p, 'intervalMs'), (x, q) => c.integer(x, q, 10, 60_000)) ?? NGINX_DEFAULTS.verify.intervalMs,
    };
  }
  return out;
}

export function checkDaemon(c: Checker, v: unknown, path: KeyPath): DaemonConfig {
  const o = c.mapping(v, path, ['schedule', 'scanSchedule', 'http']);
  const out: DaemonConfig = {};
  const cronExpr = (x: unknown, p: KeyPath): string => {
    const s = c.string(x, p, 'a cron expression like "17 3,15 * * *"');
    const problem = cronProblem(s);
    return problem ? c.fail(p, `cron expression ${JSON.stringify(s)}: ${problem}`) : s.trim();
  };
  const schedule = c.optional(o.schedule, at(path, 'schedule'), cronExpr);
  if (schedule !== undefined) out.schedule = schedule;
  const scanSchedule = c.optional(o.scanSchedule, at(path, 'scanSchedule'), cronExpr);
  if (scanSchedule !== undefined) out.scanSchedule = scanSchedule;
  // `http:` written with nothing after it turns the endpoint on with its defaults.
  if (o.http !== undefined) {
    const p = at(path, 'http');
    const h = c.mapping(o.http ?? {}, p, ['address', 'port', 'token']);
    out.http = {
      address: c.optional(h.address, at(p, 'address'), (x, q) => host(c, x, q)) ?? '127.0.0.1',
      port: port(c, h.port, at(p, 'port'), 9464),
    };
    const token = c.optional(h.token, at(p, 'token'), (x, q) => secret(c, x, q));
    if (token !== undefined) out.http.token = token;
    // Anyone who can reach a non-loopback address could read every endpoint and problem.
    if (token === undefined && !isLoopbackHost(out.http.address)) {
      c.fail(at(p, 'address'), `${out.http.address} is not a loopback address and daemon.http.token is not set; set a token (e.g. token: "\${env:CERTS_HTTP_TOKEN}") or listen on 127.0.0.1`);
    }
  }
  return out;
}

/** Loopback names and addresses (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(h: string): boolean {
  const x = h.toLowerCase().replace(/^\[|\]$/g, '');
  return x === 'localhost' || x.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(x) || x === '::1' || x === '0:0:0:0:0:0:0:1' || /^::ffff:127(\.\d{1,3}){3}$/.test(x);
}

export function checkFetch(c: Checker, v: unknown, path: KeyPath): FetchConfig {
  const o = c.mapping(v ?? {}, path, ['allowPrivateAddresses']);
  return { allowPrivateAddresses: c.optional(o.allowPrivateAddresses, at(path, 'allowPrivateAddresses'), (x, p) => c.boolean(x, p)) ?? false };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkHooks(c: Checker, v: unknown, path: KeyPath): HooksConfig {
  const o = c.mapping(v ?? {}, path, ['passEnv']);
  const p = at(path, 'passEnv');
  const items = o.passEnv == null ? [] : c.list(o.passEnv, p, 'a list of environment variable names, like [AWS_PROFILE]');
  const passEnv = items.map((x, i) => {
    const s = c.string(x, [...p, i], 'an environment variable name');
    return ENV_NAME.test(s) ? s : c.fail([...p, i], `${JSON.stringify(s)} is not an environment variable name; expected letters, digits and _ (not starting with a digit)`);
  });
  return { passEnv: [...new Set(passEnv)] };
}

export const STORE_RETENTION_DEFAULTS = { scanDays: 90, keepVersions: 5 } as const;

/** A PostgreSQL URL as store/pg/connect.ts reads it; the message never holds the URL (its password). */
function pgUrl(c: Checker, v: unknown, path: KeyPath): string {
  const s = secret(c, v, path);
  try {
    parsePgUrl(s);
  } catch (err) {
    return c.fail(path, errorMessage(err));
  }
  return s;
}

function kek(c: Checker, v: unknown, path: KeyPath): string {
  const s = secret(c, v, path);
  try {
    parseKek(s, formatKeyPath(path));
  } catch (err) {
    return c.fail(path, errorMessage(err).replace(/^[^:]*: /, ''));
  }
  return s;
}

export function checkStore(c: Checker, v: unknown, path: KeyPath): StoreConfig {
  const o = c.mapping(v ?? {}, path, ['engine', 'url', 'keyEncryptionKey', 'retention']);
  const engine = c.optional(o.engine, at(path, 'engine'), (x, q) => c.oneOf(x, q, ['sqlite', 'postgres'] as const)) ?? 'sqlite';
  const url = c.optional(o.url, at(path, 'url'), (x, q) => pgUrl(c, x, q));
  const keyEncryptionKey = c.optional(o.keyEncryptionKey, at(path, 'keyEncryptionKey'), (x, q) => kek(c, x, q));
  if (engine === 'postgres') {
    if (url === undefined) c.fail(at(path, 'url'), 'store.engine postgres needs store.url (e.g. "${env:CERTS_DATABASE_URL}")');
    if (keyEncryptionKey === undefined) c.fail(at(path, 'keyEncryptionKey'), 'store.engine postgres needs store.keyEncryptionKey: 32 bytes in base64 that seal the private keys in the database (e.g. "${file:/etc/certs/kek}", made with `openssl rand -base64 32`)');
  } else {
    if (url !== undefined) c.fail(at(path, 'url'), 'store.url is for store.engine postgres; SQLite lives in <dataDir>/certs.db');
    if (keyEncryptionKey !== undefined) c.fail(at(path, 'keyEncryptionKey'), 'store.keyEncryptionKey is for store.engine postgres (SQLite keeps keys as 0600 files)');
  }
  const p = at(path, 'retention');
  const r = c.mapping(o.retention ?? {}, p, ['scanDays', 'keepVersions']);
  return {
    engine,
    ...(url !== undefined ? { url } : {}),
    ...(keyEncryptionKey !== undefined ? { keyEncryptionKey } : {}),
    retention: {
      scanDays: c.optional(r.scanDays, at(p, 'scanDays'), (x, q) => c.integer(x, q, 1, 36_500)) ?? STORE_RETENTION_DEFAULTS.scanDays,
      keepVersions: c.optional(r.keepVersions, at(p, 'keepVersions'), (x, q) => c.integer(x, q, 1, 1000)) ?? STORE_RETENTION_DEFAULTS.keepVersions,
    },
  };
}

export function checkNotify(c: Checker, v: unknown, path: KeyPath): NotifyConfig {
  const o = c.mapping(v, path, ['thresholds', 'email', 'webhook', 'templateDir', 'heartbeat', 'channels']);
  const out: NotifyConfig = {
    thresholds: c.optional(o.thresholds, at(path, 'thresholds'), (x, p) => checkThresholds(c, x, p)) ?? [...DEFAULT_THRESHOLDS],
  };
  if (o.email != null) out.email = checkEmail(c, o.email, at(path, 'email'));
  if (o.webhook != null) {
    const p = at(path, 'webhook');
    const w = c.mapping(o.webhook, p, ['url', 'secret', 'format', 'timeoutMs', 'events']);
    out.webhook = {
      url: c.required(w.url, at(p, 'url'), 'an http(s) URL', (x, q) => c.url(x, q, ['https', 'http'])),
      format: c.optional(w.format, at(p, 'format'), (x, q) => c.oneOf(x, q, ['json', 'slack'] as const)) ?? 'json',
      timeoutMs: c.optional(w.timeoutMs, at(p, 'timeoutMs'), (x, q) => c.integer(x, q, 100, 600_000)) ?? 10_000,
    };
    const s = c.optional(w.secret, at(p, 'secret'), (x, q) => secret(c, x, q));
    if (s !== undefined) out.webhook.secret = s;
    if (w.events != null) out.webhook.events = { off: eventsOff(c, w.events, at(p, 'events')) };
  }
  const templateDir = c.optional(o.templateDir, at(path, 'templateDir'), (x, p) => c.path(x, p));
  if (templateDir !== undefined) out.templateDir = templateDir;
  if (o.heartbeat != null) {
    const p = at(path, 'heartbeat');
    const h = c.mapping(o.heartbeat, p, ['intervalHours']);
    out.heartbeat = { intervalHours: c.required(h.intervalHours, at(p, 'intervalHours'), 'hours between two summaries, like 168', (x, q) => c.integer(x, q, 1, 8760)) };
  }
  if (o.channels != null) out.channels = checkChannels(c, o.channels, at(path, 'channels'), (x, q) => checkThresholds(c, x, q));
  return out;
}

function checkEmail(c: Checker, v: unknown, p: KeyPath): EmailConfig {
  const e = c.mapping(v, p, ['smtp', 'from', 'to', 'events']);
  const sp = at(p, 'smtp');
  const s = c.mapping(c.required(e.smtp, sp, 'the SMTP server settings {host, port, …}', (x) => x), sp, ['host', 'port', 'secure', 'requireTLS', 'user', 'pass', 'caFile', 'timeoutMs']);
  const secure = c.optional(s.secure, at(sp, 'secure'), (x, q) => c.boolean(x, q)) ?? false;
  const smtp: EmailConfig['smtp'] = {
    host: c.required(s.host, at(sp, 'host'), 'the SMTP server host', (x, q) => host(c, x, q)),
    port: port(c, s.port, at(sp, 'port'), secure ? 465 : 587),
    secure,
    requireTLS: c.optional(s.requireTLS, at(sp, 'requireTLS'), (x, q) => c.boolean(x, q)) ?? !secure,
    timeoutMs: c.optional(s.timeoutMs, at(sp, 'timeoutMs'), (x, q) => c.integer(x, q, 100, 600_000)) ?? 30_000,
  };
  const user = c.optional(s.user, at(sp, 'user'), (x, q) => c.string(x, q, 'an SMTP user name'));
  const pass = c.optional(s.pass, at(sp, 'pass'), (x, q) => secret(c, x, q));
  if ((user === undefined) !== (pass === undefined)) c.fail(at(sp, user === undefined ? 'user' : 'pass'), 'missing; user and pass go together');
  if (user !== undefined) smtp.user = user;
  if (pass !== undefined) smtp.pass = pass;
  const caFile = c.optional(s.caFile, at(sp, 'caFile'), (x, q) => c.path(x, q));
  if (caFile !== undefined) smtp.caFile = caFile;
  const out: EmailConfig = { smtp, from: c.required(e.from, at(p, 'from'), 'the sender address', (x, q) => c.email(x, q)), to: emailList(c, e.to, at(p, 'to'), true) };
  if (e.events != null) out.events = { off: eventsOff(c, e.events, at(p, 'events')) };
  return out;
}

/** A list of addresses; `required` lists must have at least one. */
export function emailList(c: Checker, v: unknown, p: KeyPath, required: boolean): string[] {
  const items = required ? c.required(v, p, 'a list of email addresses', (x, q) => c.list(x, q, 'a list of email addresses')) : c.list(v, p, 'a list of email addresses');
  if (items.length === 0) c.fail(p, 'empty; expected at least one email address');
  return items.map((x, i) => c.email(x, [...p, i]));
}

export function checkThresholds(c: Checker, v: unknown, path: KeyPath): number[] {
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

/** node: {name}; the name defaults to the host name (config/node.ts) and is checked like one. */
export function checkNode(c: Checker, v: unknown, path: KeyPath): NodeConfig | undefined {
  const o = c.mapping(v ?? {}, path, ['name', 'addresses']);
  const name = c.optional(o.name, at(path, 'name'), (x, q) => {
    const s = c.string(x, q, 'a node name like "web-1"');
    return NODE_NAME_RE.test(s) ? s : c.fail(q, `expected 1 to 64 letters, digits, ".", "_" or "-", got ${JSON.stringify(s)}`);
  });
  const addresses = c.optional(o.addresses, at(path, 'addresses'), (x, q) => {
    const list = c.list(x, q, 'a list of IP addresses');
    return list.map((a, i) => {
      const s = c.string(a, [...q, i], 'an IP address like 10.0.0.2');
      return isIpLiteral(s) ? s : c.fail([...q, i], `expected an IP address (where this node's nginx serves), got ${JSON.stringify(s)}`);
    });
  });
  if (name === undefined && addresses === undefined) return undefined;
  return { ...(name !== undefined ? { name } : {}), ...(addresses !== undefined ? { addresses } : {}) };
}

/** cluster: {leaseSeconds, scanBatchSize}: how nodes sharing a PostgreSQL store coordinate. */
export function checkCluster(c: Checker, v: unknown, path: KeyPath): ClusterConfig {
  const o = c.mapping(v ?? {}, path, ['leaseSeconds', 'scanBatchSize']);
  return {
    leaseSeconds: c.optional(o.leaseSeconds, at(path, 'leaseSeconds'), (x, q) => c.integer(x, q, 1, 3600)) ?? CLUSTER_DEFAULTS.leaseSeconds,
    scanBatchSize: c.optional(o.scanBatchSize, at(path, 'scanBatchSize'), (x, q) => c.integer(x, q, 1, 100_000)) ?? CLUSTER_DEFAULTS.scanBatchSize,
  };
}
