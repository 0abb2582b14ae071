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
  };
  /** Validated but unused until their issues land; kept as plain data. */
  acme?: Record<string, unknown>;
  nginx?: Record<string, unknown>;
  daemon?: Record<string, unknown>;
  notify?: Record<string, unknown>;
  domains: Domain[];
}
