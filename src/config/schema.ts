/** The whole config: parsed YAML (after expansion) → typed Config, or a ConfigError. */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { CertsError, errorMessage } from '../core/errors.js';
import { Checker, type CheckContext, type KeyPath } from './kit.js';
import { checkDomains } from './schema-domains.js';
import { hostPort } from './schema-common.js';
import { ADDRESS_MODES } from '../core/addresses.js';
import { isIpLiteral } from '../core/names.js';
import { parseHostPort } from '../lib/host-port.js';
import { checkAcme } from './schema-acme.js';
import { checkCluster, checkDaemon, checkFetch, checkHooks, checkNginx, checkNode, checkNotify, checkStore } from './schema-extras.js';
import { checkNginxTemplates } from './nginx-templates.js';
import { checkEmailTemplates } from './email-templates.js';
import type { Config, DomainConfig, NotifyConfig } from './types.js';
import { channelNames } from './schema-channels.js';
import { nearest } from '../core/nearest.js';

/** domains[].notify.channels name configured channels only: a typo would silently drop a domain's alerts. */
function checkDomainChannels(c: Checker, domains: readonly DomainConfig[], notify: NotifyConfig | undefined): void {
  const known = channelNames(notify);
  domains.forEach((d, i) => {
    d.notify?.channels?.forEach((name, j) => {
      if (known.includes(name)) return;
      const near = nearest(name, known);
      c.fail(['domains', i, 'notify', 'channels', j], `no channel named ${JSON.stringify(name)}; ${known.length === 0 ? 'no channel is configured under notify' : `configured: ${known.join(', ')}`}${near ? ` (did you mean "${near}"?)` : ''}`);
    });
  });
}

export const TOP_KEYS = ['dataDir', 'trust', 'scan', 'acme', 'nginx', 'daemon', 'notify', 'fetch', 'hooks', 'store', 'node', 'cluster', 'domains'] as const;
const SCAN_KEYS = ['concurrency', 'timeoutMs', 'connectTimeoutMs', 'warningDays', 'criticalDays', 'revocation', 'addresses', 'resolver'] as const;

export const SCAN_DEFAULTS = { concurrency: 64, timeoutMs: 5000, warningDays: 30, criticalDays: 7 } as const;

/** trust.caFile is read by the scanner much later; a typo should fail now, naming the key. */
function checkReadableFile(c: Checker, path: KeyPath, file: string): void {
  let fd: number | undefined;
  let isFile = false;
  try {
    fd = openSync(file, 'r');
    isFile = fstatSync(fd).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') c.fail(path, `file ${file} not found; expected a PEM file of CA certificates`);
    if (code === 'EACCES' || code === 'EPERM') c.fail(path, `file ${file} is not readable (permission denied)`);
    c.fail(path, `cannot open ${file}: ${errorMessage(err)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (!isFile) c.fail(path, `${file} is not a regular file; expected a PEM file of CA certificates`);
}

function checkTrust(c: Checker, v: unknown): Config['trust'] {
  const o = c.mapping(v ?? {}, ['trust'], ['caFile', 'bundled', 'system']);
  const flag = (key: 'bundled' | 'system'): boolean => c.optional(o[key], ['trust', key], (x, p) => c.boolean(x, p)) ?? true;
  const trust: Config['trust'] = { bundled: flag('bundled'), system: flag('system') };
  const caFile = c.optional(o.caFile, ['trust', 'caFile'], (x, p) => c.path(x, p));
  if (caFile !== undefined) {
    checkReadableFile(c, ['trust', 'caFile'], caFile);
    trust.caFile = caFile;
  }
  if (!trust.bundled && !trust.system && !trust.caFile) {
    c.fail(['trust'], 'nothing would be trusted (bundled and system are false and there is no caFile); every scan would report untrusted-root');
  }
  return trust;
}

function checkScan(c: Checker, v: unknown): Config['scan'] {
  const o = c.mapping(v ?? {}, ['scan'], SCAN_KEYS);
  const int = (key: (typeof SCAN_KEYS)[number], min: number, max: number, fallback: number): number =>
    c.optional(o[key], ['scan', key], (x, p) => c.integer(x, p, min, max)) ?? fallback;
  const timeoutMs = int('timeoutMs', 100, 120_000, SCAN_DEFAULTS.timeoutMs);
  const scan: Config['scan'] = {
    concurrency: int('concurrency', 1, 1024, SCAN_DEFAULTS.concurrency),
    timeoutMs,
    connectTimeoutMs: int('connectTimeoutMs', 100, 120_000, timeoutMs),
    warningDays: int('warningDays', 1, 3650, SCAN_DEFAULTS.warningDays),
    criticalDays: int('criticalDays', 0, 3650, SCAN_DEFAULTS.criticalDays),
    revocation: c.optional(o.revocation, ['scan', 'revocation'], (x, p) => c.boolean(x, p)) ?? true,
    addresses: c.optional(o.addresses, ['scan', 'addresses'], (x, p) => c.oneOf(x, p, ADDRESS_MODES)) ?? 'all',
  };
  const resolver = c.optional(o.resolver, ['scan', 'resolver'], (x, p) => dnsServer(c, x, p));
  if (resolver !== undefined) scan.resolver = resolver;
  if (scan.criticalDays >= scan.warningDays) {
    c.fail(['scan', 'criticalDays'], `expected fewer days than scan.warningDays (${scan.warningDays}), got ${scan.criticalDays}`);
  }
  return scan;
}

/** scan.resolver: "ip", "ip:port" or "[v6]:port" of a DNS server (port 53 by default); a name cannot be asked for names. */
function dnsServer(c: Checker, v: unknown, path: KeyPath): string {
  const hp = hostPort(c, v, path, 53);
  const r = parseHostPort(hp);
  if (r.ok && !isIpLiteral(r.host)) c.fail(path, `expected the IP address of a DNS server ("192.0.2.53:53" or "[2001:db8::53]:53"), got the name ${JSON.stringify(r.host)}`);
  return hp;
}

/** Validate a parsed (and expanded) config document. `ctx.file` must be absolute. */
export function validateConfig(raw: unknown, ctx: CheckContext): Config {
  const c = new Checker(ctx);
  const o = c.mapping(raw, [], TOP_KEYS);
  const dataDir = c.optional(o.dataDir, ['dataDir'], (x, p) => c.path(x, p)) ?? c.path('./data', ['dataDir']);
  const trust = checkTrust(c, o.trust);
  const scan = checkScan(c, o.scan);
  const acme = c.optional(o.acme, ['acme'], (x, p) => checkAcme(c, x, p));
  const nginx = c.optional(o.nginx, ['nginx'], (x, p) => checkNginx(c, x, p));
  if (nginx) {
    // A template with an unknown variable or a syntax error fails here, before anything runs.
    try {
      checkNginxTemplates(nginx.templateDir);
    } catch (err) {
      if (!(err instanceof CertsError)) throw err;
      c.fail(['nginx', 'templateDir'], err.message);
    }
  }
  const daemon = c.optional(o.daemon, ['daemon'], (x, p) => checkDaemon(c, x, p));
  // Shared http-01 tokens are served by the daemon's HTTP endpoint, which must therefore listen.
  if (acme?.challenge?.shared && !daemon?.http) {
    c.fail(['acme', 'challenge', 'shared'], 'shared http-01 tokens are served by the daemon: set daemon.http (e.g. http: {address: 127.0.0.1, port: 9464}) and run certs daemon on every node; the acme-challenge snippet proxies to it');
  }
  const notify = c.optional(o.notify, ['notify'], (x, p) => checkNotify(c, x, p));
  if (notify && (notify.email || notify.webhook)) {
    // Same as nginx: a broken email template is a config error now, not a failed digest later.
    try {
      checkEmailTemplates(notify.templateDir);
    } catch (err) {
      if (!(err instanceof CertsError)) throw err;
      c.fail(['notify', 'templateDir'], err.message);
    }
  }
  const fetch = checkFetch(c, o.fetch, ['fetch']);
  const hooks = checkHooks(c, o.hooks, ['hooks']);
  const store = checkStore(c, o.store, ['store']);
  const node = checkNode(c, o.node, ['node']);
  const cluster = c.optional(o.cluster, ['cluster'], (x, p) => checkCluster(c, x, p));
  const domains = ctx.domains?.validated ?? checkDomains(c, o.domains, acme, ctx.domains);
  checkDomainChannels(c, domains, notify);
  const config: Config = {
    file: ctx.file,
    dataDir,
    trust,
    scan,
    ...(acme ? { acme } : {}),
    ...(nginx ? { nginx } : {}),
    ...(daemon ? { daemon } : {}),
    ...(notify ? { notify } : {}),
    fetch,
    hooks,
    store,
    ...(node ? { node } : {}),
    ...(cluster ? { cluster } : {}),
    domains,
  };
  return config;
}
