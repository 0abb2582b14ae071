/**
 * One error family for the whole tool. Only src/cli turns these into exit codes and
 * messages; everything else throws or wraps them with context (keeping `cause`).
 */
export type ErrorKind = 'usage' | 'config' | 'validation' | 'scan' | 'store' | 'io' | 'acme' | 'deploy' | 'notify' | 'internal';

export interface CertsErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class CertsError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options: CertsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.hint = options.hint;
  }
}

/** Bad input from the command line. */
export class UsageError extends CertsError {
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('usage', 'usage', message, options);
  }
}

/** A value that does not have the shape we need (a name, a port, a path). */
export class ValidationError extends CertsError {
  constructor(message: string, options: CertsErrorOptions = {}) {
    super('validation', 'invalid', message, options);
  }
}

/** A config file problem: always names the file and, where known, the key path. */
export class ConfigError extends CertsError {
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
  constructor(code: string, message: string, options: CertsErrorOptions = {}) {
    super('store', code, message, options);
  }
}

/** A file could not be read or written. */
export class IoError extends CertsError {
  constructor(code: string, message: string, options: CertsErrorOptions = {}) {
    super('io', code, message, options);
  }
}

export interface AcmeErrorDetails {
  /** Primary name of the domain the failure concerns, when there is one. */
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
 * could not be solved, a hook that failed. Codes: acme-ca (the CA said no), acme-unreachable,
 * acme-protocol (the CA's answer made no sense), challenge (a solver failed), hook.
 */
export class AcmeError extends CertsError {
  readonly domain: string | undefined;
  readonly problemType: string | undefined;
  readonly detail: string | undefined;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfter: Date | undefined;
  constructor(code: string, message: string, details: AcmeErrorDetails = {}, options: CertsErrorOptions = {}) {
    super('acme', code, message, options);
    this.domain = details.domain;
    this.problemType = details.problemType;
    this.detail = details.detail;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
    this.retryAfter = details.retryAfter;
  }
}

/**
 * Writing snippets, `nginx -t` or the reload failed. Codes: deploy-precheck (nothing was written),
 * nginx-test (nginx refused the new files; the previous ones are back), reload, verify.
 */
export class DeployError extends CertsError {
  constructor(code: string, message: string, options: CertsErrorOptions = {}) {
    super('deploy', code, message, options);
  }
}

/**
 * A notification was not delivered. `retryable` false means trying again will not help without a
 * change (authentication refused, recipient rejected permanently, a 4xx from a webhook).
 */
export class NotifyError extends CertsError {
  readonly retryable: boolean;
  constructor(code: string, message: string, retryable: boolean, options: CertsErrorOptions = {}) {
    super('notify', code, message, options);
    this.retryable = retryable;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
