/**
 * One error family for the whole tool. Only src/cli turns these into exit codes and
 * messages; everything else throws or wraps them with context (keeping `cause`).
 */
export type ErrorKind = 'usage' | 'config' | 'validation' | 'scan' | 'store' | 'io' | 'acme' | 'deploy' | 'notify' | 'busy' | 'internal';

/**
 * The codes each kind may carry: a closed list, so that a misspelt or unknown code is a compile
 * error and callers can switch on `code` knowing every value. Add a code here before using it.
 */
export interface ErrorCodes {
  usage: 'usage';
  config: 'config';
  validation: 'invalid';
  /** A TLS stream we read ourselves did not look like TLS (scan/tls-records.ts). */
  scan: 'tls-plain-http' | 'tls-not-tls' | 'tls-too-large' | 'tls-malformed' | 'tls-truncated';
  store: StoreErrorCode;
  io:
    | 'not-found'
    | 'not-a-file'
    | 'unreadable'
    | 'read-failed'
    | 'too-large'
    | 'exists'
    | 'write-failed'
    | 'disk-full'
    | 'invalid-lineage'
    | 'archive-missing'
    | 'switch-failed'
    | 'template-missing'
    | 'template-unreadable'
    | 'template-dir-missing'
    | 'template-dir-unreadable'
    | 'template-dir-empty'
    /** An intermediate could not be fetched from the AIA URL (deploy/aia.ts). */
    | 'aia'
    /** A program we ran failed (lib/process.ts ProcessError; callers usually wrap it in their kind). */
    | 'process';
  acme: AcmeErrorCode;
  deploy: DeployErrorCode;
  notify: NotifyErrorCode;
  /** Another certs process holds a lock we need: try again when it has finished. */
  busy: 'locked';
  /**
   * `internal`: not one of ours (a bug or an unforeseen system error; the code is the one
   * `renew --json` always reported for it); `run`: a step of a cycle that failed that way.
   */
  internal: 'internal' | 'run';
}

export type ErrorCode<K extends ErrorKind = ErrorKind> = ErrorCodes[K];

/**
 * Stable `StoreError.code` values, so that callers can tell "try again later" (locked) from
 * "fix something" (everything else).
 */
export type StoreErrorCode =
  | 'not-a-database' // the file is not SQLite, or a SQLite file of another program
  | 'corrupt' // SQLite header present, content damaged
  | 'locked' // another process held the write lock beyond the busy timeout
  | 'schema-too-new' // written by a newer certs; we refuse rather than risk damaging it
  | 'schema-outdated' // read-only open of a database that still needs a migration
  | 'migration-failed'
  | 'read-only' // the file or its directory cannot be written
  | 'io' // the file system refused something else (disk full, not a directory, …)
  | 'invalid-argument' // a caller passed data the store cannot record
  | 'fenced' // a write under a lock whose lease another node has taken since (a newer fencing token)
  | 'connection' // a database server (PostgreSQL) could not be reached, refused, or its TLS did not verify
  | 'auth' // a database server refused the login
  | 'sqlite' // anything SQLite reported that is none of the above
  | 'postgres'; // anything PostgreSQL reported that is none of the above (its SQLSTATE is in the message)

/**
 * acme-ca (the CA said no), acme-unreachable, acme-protocol (the CA's answer made no sense),
 * acme-account / acme-terms / acme-config / acme-csr (our side of the account or order),
 * challenge (a solver failed), preflight-inconclusive (our own check could not tell; the CA is
 * asked anyway), dns-wire / dns-transport (RFC 2136), hook (a hook program failed), caa (the CAA
 * preflight found no configured issuer allowed, or could not read the records).
 */
export type AcmeErrorCode =
  | 'acme-ca'
  | 'acme-unreachable'
  | 'acme-protocol'
  | 'acme-account'
  | 'acme-terms'
  | 'acme-config'
  | 'acme-csr'
  | 'challenge'
  | 'preflight-inconclusive'
  | 'dns-wire'
  | 'dns-transport'
  | 'hook'
  | 'caa';

/**
 * deploy-precheck (nothing was written), nginx-test (nginx refused the new files; the previous
 * ones are back), reload, nginx-not-running, nginx-not-found / nginx-dump (reading nginx's
 * configuration), not-included, chain-invalid / key-mismatch / archive-missing (a version that
 * must not become current), write, locked (the certificate's lock is held), deploy (other).
 */
export type DeployErrorCode =
  | 'deploy-precheck'
  | 'nginx-test'
  | 'reload'
  | 'nginx-not-running'
  | 'nginx-not-found'
  | 'nginx-dump'
  | 'not-included'
  | 'chain-invalid'
  | 'key-mismatch'
  | 'archive-missing'
  | 'write'
  | 'deploy';

export type NotifyErrorCode =
  | 'notify'
  | 'webhook'
  | 'smtp-config'
  | 'smtp-auth'
  | 'smtp-tls'
  | 'smtp-rejected'
  | 'smtp-unreachable'
  | 'smtp-protocol'
  | 'smtp-failed';

export interface CertsErrorOptions {
  hint?: string;
  cause?: unknown;
  /**
   * The domain this failure concerns, when its message already starts with `domain "<name>":`.
   * inDomain() reads it to add that prefix exactly once.
   */
  domain?: string;
}

/** A kind with one of its own codes: the pair is checked together (see ErrorCodes). */
export type KindAndCode = { [K in ErrorKind]: [kind: K, code: ErrorCodes[K]] }[ErrorKind];

export class CertsError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly domain: string | undefined;

  constructor(...[kind, code, message, options = {}]: [...KindAndCode, message: string, options?: CertsErrorOptions]) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.hint = options.hint;
    this.domain = options.domain;
  }
}

/** Bad input from the command line. */
export class UsageError extends CertsError {
  declare readonly kind: 'usage';
  declare readonly code: ErrorCodes['usage'];
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('usage', 'usage', message, options);
  }
}

/** A value that does not have the shape we need (a name, a port, a path). */
export class ValidationError extends CertsError {
  declare readonly kind: 'validation';
  declare readonly code: ErrorCodes['validation'];
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('validation', 'invalid', message, options);
  }
}

/** A config file problem: always names the file and, where known, the key path. */
export class ConfigError extends CertsError {
  declare readonly kind: 'config';
  declare readonly code: ErrorCodes['config'];
  readonly file: string | undefined;
  readonly keyPath: string | undefined;
  constructor(message: string, where: { file?: string; keyPath?: string } = {}, options: CertsErrorOptions = {}) {
    const prefix = [where.file, where.keyPath].filter(Boolean).join(': ');
    super('config', 'config', prefix ? `${prefix}: ${message}` : message, options);
    this.file = where.file;
    this.keyPath = where.keyPath;
  }
}

/** The database could not be opened, migrated or written. */
export class StoreError extends CertsError {
  declare readonly kind: 'store';
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options: CertsErrorOptions = {}) {
    super('store', code, message, options);
  }
}

/** A file could not be read or written. */
export class IoError extends CertsError {
  declare readonly kind: 'io';
  declare readonly code: ErrorCodes['io'];
  constructor(code: ErrorCodes['io'], message: string, options: CertsErrorOptions = {}) {
    super('io', code, message, options);
  }
}

/**
 * Another certs process holds a lock we need (a certificate's, or the run lock). Not a fault:
 * the same command succeeds once the other process has finished.
 */
export class BusyError extends CertsError {
  declare readonly kind: 'busy';
  declare readonly code: ErrorCodes['busy'];
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('busy', 'locked', message, options);
  }
}

/** Not one of ours: a bug or an unforeseen system error, kept as `cause`. */
export class InternalError extends CertsError {
  declare readonly kind: 'internal';
  declare readonly code: ErrorCodes['internal'];
  constructor(code: ErrorCodes['internal'], message: string, options: CertsErrorOptions = {}) {
    super('internal', code, message, options);
  }
}

export interface AcmeErrorDetails {
  /** Primary name of the domain the failure concerns; the message then starts with `domain "<name>":`. */
  domain?: string;
  /** RFC 8555 problem type, e.g. "urn:ietf:params:acme:error:rateLimited". */
  problemType?: string;
  /** The CA's own words (problem detail), shown verbatim. */
  detail?: string;
  /** HTTP status of the CA's answer, when there was one. */
  status?: number;
  /** True when the same request may succeed later without any change on our side. */
  retryable?: boolean;
  /** When the CA asked us to come back (Retry-After), if it did. */
  retryAfter?: Date;
}

/**
 * A failure to obtain, renew or revoke a certificate: a CA problem document, a challenge that
 * could not be solved, a hook that failed (codes: AcmeErrorCode).
 */
export class AcmeError extends CertsError {
  declare readonly kind: 'acme';
  declare readonly code: AcmeErrorCode;
  readonly problemType: string | undefined;
  readonly detail: string | undefined;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfter: Date | undefined;
  constructor(code: AcmeErrorCode, message: string, details: AcmeErrorDetails = {}, options: CertsErrorOptions = {}) {
    super('acme', code, message, { ...options, ...(details.domain !== undefined ? { domain: details.domain } : {}) });
    this.problemType = details.problemType;
    this.detail = details.detail;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
    this.retryAfter = details.retryAfter;
  }
}

/** Writing snippets, `nginx -t` or the reload failed (codes: DeployErrorCode). */
export class DeployError extends CertsError {
  declare readonly kind: 'deploy';
  declare readonly code: DeployErrorCode;
  constructor(code: DeployErrorCode, message: string, options: CertsErrorOptions = {}) {
    super('deploy', code, message, options);
  }
}

/**
 * A notification was not delivered. `retryable` false means trying again will not help without a
 * change (authentication refused, recipient rejected permanently, a 4xx from a webhook).
 */
export class NotifyError extends CertsError {
  declare readonly kind: 'notify';
  declare readonly code: NotifyErrorCode;
  readonly retryable: boolean;
  constructor(code: NotifyErrorCode, message: string, retryable: boolean, options: CertsErrorOptions = {}) {
    super('notify', code, message, options);
    this.retryable = retryable;
  }
}

/**
 * Names `domain` at the start of a failure's message, exactly once. An error built for that
 * domain (`options.domain`, or AcmeErrorDetails.domain) already says so and passes through;
 * anything else is wrapped, keeping kind, code, hint, CA details and `cause`. An error that is
 * not ours becomes an InternalError: it is not the CA's fault just because it happened during a
 * renewal.
 */
export function inDomain(err: unknown, domain: string): CertsError {
  if (err instanceof CertsError && err.domain === domain) return err;
  const message = `domain "${domain}": ${errorMessage(err)}`;
  const options: CertsErrorOptions = { cause: err, domain, ...(err instanceof CertsError && err.hint ? { hint: err.hint } : {}) };
  if (err instanceof AcmeError) {
    return new AcmeError(err.code, message, {
      domain,
      ...(err.problemType ? { problemType: err.problemType } : {}),
      ...(err.detail ? { detail: err.detail } : {}),
      ...(err.status !== undefined ? { status: err.status } : {}),
      retryable: err.retryable,
      ...(err.retryAfter ? { retryAfter: err.retryAfter } : {}),
    }, options);
  }
  // kind and code come from one existing error, so they are a valid pair.
  if (err instanceof CertsError) return new CertsError(...([err.kind, err.code] as KindAndCode), message, options);
  return new InternalError('internal', message, options);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
