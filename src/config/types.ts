import type { Domain } from '../core/model.js';

/** The validated, typed configuration. Paths are absolute (resolved against the config file's folder). */
export interface Config {
  /** Absolute path of the file this was loaded from. */
  file: string;
  dataDir: string;
  trust: {
    caFile?: string;
    /** Use Node's bundled Mozilla roots (default true). */
    bundled: boolean;
    /** Use the system bundle (/etc/ssl/certs/ca-certificates.crt) when present (default true). */
    system: boolean;
  };
  scan: {
    concurrency: number; // default 64, 1..1024
    timeoutMs: number; // handshake budget, default 5000
    connectTimeoutMs: number; // default = timeoutMs
    warningDays: number; // expiring-soon window, default 30
    criticalDays: number; // default 7
    /** Check served certificates against their CRLs (issue 12 §3); default true. */
    revocation: boolean;
    /** `all` (default, also when absent): scan every A/AAAA address of a name, one row each; `first`: one connection, the OS picks (issue 12 §1). */
    addresses?: 'all' | 'first';
    /** `host:port` of the DNS server names are resolved with (an IP address); absent: the system resolver. */
    resolver?: string;
  };
  /** Validated but unused until their issues land. Absent sections stay undefined. */
  acme?: AcmeConfig;
  nginx?: NginxConfig;
  daemon?: DaemonConfig;
  notify?: NotifyConfig;
  /** Fetches of certificate data (AIA caIssuers now, CRLs next). */
  fetch: FetchConfig;
  /** What programs we run (hooks, nginx -t, reload) may see of our environment. */
  hooks: HooksConfig;
  /** Local store settings (retention). */
  store: StoreConfig;
  /** This process's name in a cluster of daemons sharing one store (issue 16); default: the host name. */
  node?: NodeConfig;
  /** How the nodes sharing a store coordinate (issue 16); defaults apply when absent. */
  cluster?: ClusterConfig;
  domains: DomainConfig[];
}

export interface FetchConfig {
  /** Allow loopback, private (RFC 1918, ULA), link-local, multicast and unspecified destinations. Default false. */
  allowPrivateAddresses: boolean;
}

export interface HooksConfig {
  /** Names of environment variables passed to hooks and nginx commands besides PATH, HOME, LANG, TZ and CERTS_*. */
  passEnv: string[];
}

export interface NodeConfig {
  /** 1–64 of [A-Za-z0-9._-]; recorded on what this node does (runs, renewals, deployments, scans). Default: the host name. */
  name?: string;
  /** Where this node's nginx serves (IP literals): a deploy verifies only endpoints at these addresses. Absent: all. */
  addresses?: string[];
}

export interface ClusterConfig {
  /** Lease of locks, scan batch claims and outbox claims, in seconds. Default 60. */
  leaseSeconds: number;
  /** Domains per scan batch that a node claims at a time. Default 200. */
  scanBatchSize: number;
}

export interface StoreConfig {
  /** sqlite (default: <dataDir>/certs.db, nothing to set up) or postgres (store.url; issue 15). */
  engine: 'sqlite' | 'postgres';
  /** postgres only: postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=…]. A secret (it may hold a password). */
  url?: string;
  /** postgres only, required there: 32 bytes in base64 that seal private keys in the database (AES-256-GCM). */
  keyEncryptionKey?: string;
  retention: {
    /** Scan history older than this is pruned (the latest scan of each endpoint is always kept). Default 90. */
    scanDays: number;
    /** Archive versions kept per certificate beyond current and deployed ones. Default 5. */
    keepVersions: number;
  };
}

/** A domain of the inventory plus what only the config knows about it. */
export interface DomainConfig extends Domain {
  /** Overrides acme.challenge for this domain. */
  challenge?: ChallengeConfig;
  /** Override acme.keyType / acme.profile / acme.renewBeforeDays for this domain. */
  keyType?: AcmeKeyType;
  profile?: string;
  renewBeforeDays?: number;
  /** Programs (argv, no shell) run around renewals of this domain, for servers other than nginx. */
  hooks?: DomainHooks;
  /** Write an nginx snippet for it (default: true for managed domains, false for monitor-only ones; those need files). */
  nginx: boolean;
  notify?: DomainNotify;
}

export interface DomainHooks {
  /** Before an order is placed; a failure stops this renewal. */
  pre?: string[];
  /** After an attempt, successful or not (CERTS_OUTCOME tells which). */
  post?: string[];
  /** After a new certificate became current. */
  deploy?: string[];
  /** Default 60000 ms. */
  timeoutMs: number;
}

export const ACME_DIRECTORY_SHORTCUTS = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  zerossl: 'https://acme.zerossl.com/v2/DV90',
  google: 'https://dv.acme-v02.api.pki.goog/directory',
} as const;
export type AcmeDirectoryShortcut = keyof typeof ACME_DIRECTORY_SHORTCUTS;

/** The directory URL of a shortcut or URL as written (letsencrypt when none is given). */
export function resolveDirectory(directory: string | undefined): string {
  if (directory === undefined) return ACME_DIRECTORY_SHORTCUTS.letsencrypt;
  return (ACME_DIRECTORY_SHORTCUTS as Record<string, string>)[directory] ?? directory;
}

export const ACME_KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa2048', 'rsa3072', 'rsa4096'] as const;
export type AcmeKeyType = (typeof ACME_KEY_TYPES)[number];

export const TSIG_ALGORITHMS = ['hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];

/**
 * One CA of `acme.issuers` (issue 17), with its own account (accounts are per directory URL),
 * EAB, profile and trust. Fields left out take the acme section's own.
 */
export interface IssuerConfig {
  /** A shortcut (see ACME_DIRECTORY_SHORTCUTS) or an https:// directory URL, as written. */
  directory: string;
  eab?: { kid: string; hmacKey: string };
  profile?: string;
  caFile?: string;
  email?: string;
  /**
   * The CAA issuer domain names of this CA, for the CAA preflight; when absent, the directory's
   * meta.caaIdentities.
   */
  caaIdentities?: string[];
}

export interface AcmeConfig {
  /**
   * The first issuer's directory as written; with `issuers`, the first one's. Code that orders
   * goes through `issuers`; this stays for messages and older callers.
   */
  directory?: string;
  /** The CAs to order from, in order of preference; never empty after loading (issue 17). */
  issuers: IssuerConfig[];
  /** Start the next renewal at the issuer of the current version instead of the first. Default false. */
  stickyIssuer: boolean;
  /** Extra trust for the ACME server's own HTTPS (absolute path; not checked at load). */
  caFile?: string;
  email?: string;
  /** Default false. */
  agreeToTerms: boolean;
  eab?: { kid: string; hmacKey: string };
  keyType?: AcmeKeyType;
  challenge?: ChallengeConfig;
  /** ACME profile name (draft-ietf-acme-profiles), e.g. "classic" or "shortlived". */
  profile?: string;
  renewBeforeDays?: number;
  /** Keep the private key across renewals (default false: a new key every time). */
  reuseKey: boolean;
  /** Orders for different certificates in flight at once. Default 4. */
  concurrency: number;
  preflight: PreflightConfig;
  /** Budget of one HTTP request to the CA. Default 30000 ms. */
  timeoutMs: number;
}

/** http-01 has exactly one of webroot/standalone; dns-01 exactly one of hook/rfc2136. */
export interface ChallengeConfig {
  type: 'http-01' | 'dns-01';
  /** Absolute path of the web root whose /.well-known/acme-challenge/ the web server serves. */
  webroot?: string;
  /** Listen ourselves; address default 0.0.0.0 is left to the solver, port defaults to 80. */
  standalone?: { address?: string; port: number };
  /**
   * http-01 in a cluster (issue 16): key authorisations go to the store and every node's daemon
   * serves them (daemon.http); the acme-challenge snippet proxies to the local daemon.
   */
  shared?: true;
  /** argv of the DNS hook program (no shell); what to do arrives in CERTS_* environment variables (see src/acme/solvers/dns-hook.ts). */
  hook?: string[];
  rfc2136?: Rfc2136Config;
  /** dns-01 hook: killed (SIGTERM, then SIGKILL) after this long. Default 60000 ms. */
  hookTimeoutMs?: number;
  /** dns-01: where and how long to wait for the TXT record to become visible. */
  propagation?: PropagationConfig;
}

export interface PropagationConfig {
  /**
   * Authoritative servers to ask, each "host", "host:port" or "[v6]:port". Default: the rfc2136
   * server for rfc2136, else the zone's NS records found through the system resolver.
   */
  servers?: string[];
  /** Give up after this long. Default 120000 ms. */
  timeoutMs: number;
  /** Gap between two rounds of queries. Default 2000 ms. */
  intervalMs: number;
}

/** Local checks before the CA is asked (acme.preflight). */
export interface PreflightConfig {
  /** Default true. */
  enabled: boolean;
  /** Port the CA fetches http-01 tokens on: 80 for every public CA (Pebble uses its httpPort). */
  httpPort: number;
  /** DNS server ("host:port") used to resolve names for the http-01 fetch; default the system resolver. */
  resolver?: string;
  /** Budget of one preflight check. Default 10000 ms. */
  timeoutMs: number;
}

export interface Rfc2136Config {
  /** Primary name server taking dynamic updates (IP or host name). */
  server: string;
  /** Default 53. */
  port: number;
  /** Zone to update; found by SOA lookup when absent. */
  zone?: string;
  /** TSIG key; name and secret go together. */
  tsigKeyName?: string;
  tsigSecret?: string;
  /** Default hmac-sha256 when a key is given. */
  tsigAlgorithm?: TsigAlgorithm;
  ttl?: number;
}

export interface NginxConfig {
  /** Where <name>.conf snippets go; required for anything that writes. */
  snippetDir?: string;
  /** argv, no shell. Default [nginx, -t]. */
  testCommand: string[];
  /** argv, no shell. Default [nginx, -s, reload]. */
  reloadCommand: string[];
  /** argv printing the whole configuration (`certs nginx check`). Default: testCommand with -t replaced by -T. */
  dumpCommand: string[];
  /** A folder whose ssl.conf / acme-challenge.conf override the bundled templates/nginx ones. */
  templateDir?: string;
  /** Strict-Transport-Security in the snippet; off by default (it is hard to take back). */
  hsts: { enabled: boolean; maxAgeSeconds: number; includeSubDomains: boolean };
  /** After a reload: rescan until the new certificate is served, bounded. */
  verify: { timeoutMs: number; intervalMs: number };
}

export interface DaemonConfig {
  /** node-cron expression of the full run; default twice a day at a minute chosen once per installation. */
  schedule?: string;
  /** A scan-only schedule (scan and notify, no renewals), when it should differ. */
  scanSchedule?: string;
  /** Off when absent; `http: {}` listens on 127.0.0.1:9464. */
  http?: { address: string; port: number; token?: string };
}

export interface NotifyConfig {
  /** Days-left thresholds, descending and unique. Default [30, 14, 7, 3, 1]. */
  thresholds: number[];
  email?: EmailConfig;
  webhook?: WebhookConfig;
  /** Folder whose digest.txt / digest.html / test.txt … override templates/email. */
  templateDir?: string;
  /** A summary even when nothing is wrong, at most this often; off when absent. */
  heartbeat?: { intervalHours: number };
  /** HTTP channels beyond email and the generic webhook (notify.channels). */
  channels?: ChannelConfig[];
}

export const CHANNEL_FORMATS = ['ntfy', 'gotify', 'discord', 'teams', 'telegram', 'matrix', 'pagerduty'] as const;
export type ChannelFormat = (typeof CHANNEL_FORMATS)[number];

/** What a channel can be told about; each can be turned off per channel (events.off). */
export const NOTIFY_EVENT_TYPES = ['expiry', 'problem', 'recovery', 'unexpected-change', 'hook-failed', 'issuer-fallback', 'node-silent', 'heartbeat'] as const;
export type NotifyEventType = (typeof NOTIFY_EVENT_TYPES)[number];

/**
 * One notify.channels entry. Which fields a format needs is checked at load
 * (config/schema-extras.ts); secrets (token, accessToken, routingKey, and the url of discord and
 * teams, whose path is the credential) come from ${env:}/${file:} and are never shown.
 */
export interface ChannelConfig {
  /** [a-z0-9-]{1,32}, unique; "email" and "webhook" are the legacy sections'. */
  name: string;
  format: ChannelFormat;
  /**
   * ntfy: the topic URL (https://ntfy.sh/mytopic); gotify: the server; discord, teams: the
   * webhook URL; telegram: the Bot API base (default https://api.telegram.org); pagerduty: the
   * Events API v2 endpoint (default https://events.pagerduty.com/v2/enqueue).
   */
  url: string;
  /** ntfy: bearer token (optional); gotify: application token; telegram: bot token. */
  token?: string;
  /** telegram: the chat (a number, or @channelname). */
  chatId?: string;
  /** matrix: the homeserver (https URL), room and access token. */
  homeserver?: string;
  roomId?: string;
  accessToken?: string;
  /** pagerduty: the Events API v2 integration key. */
  routingKey?: string;
  /** Overrides notify.thresholds (and a domain's own) for this channel's expiry events. */
  thresholds?: number[];
  events: { off: NotifyEventType[] };
  timeoutMs: number;
}

export interface EmailConfig {
  /** port defaults to 465 when secure (implicit TLS), else 587; secure defaults to false. */
  smtp: {
    host: string;
    port: number;
    /** Implicit TLS (port 465). */
    secure: boolean;
    /** Refuse to send unless STARTTLS succeeds (only when secure is false). Default true. */
    requireTLS: boolean;
    user?: string;
    pass?: string;
    /** Extra trust for a private SMTP server's certificate (absolute path). */
    caFile?: string;
    /** Budget of one delivery. Default 30000 ms. */
    timeoutMs: number;
  };
  from: string;
  to: string[];
  /** Event types the main recipients do not get (issue 17), as notify.channels[].events. */
  events?: { off: NotifyEventType[] };
}

export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 of the body in X-Certs-Signature: sha256=<hex>. */
  secret?: string;
  /** json (default): the documented body; slack: {text} for Slack-compatible incoming webhooks. */
  format: 'json' | 'slack';
  timeoutMs: number;
  /** Event types this target does not get (issue 17), as notify.channels[].events. */
  events?: { off: NotifyEventType[] };
}

/** Per-domain notification overrides. */
export interface DomainNotify {
  /** Extra recipients for this domain's lines (they get a digest of their domains only). */
  to?: string[];
  thresholds?: number[];
  /** Channel names (notify.channels[].name, or email / webhook): this domain's events go only to these. */
  channels?: string[];
}
