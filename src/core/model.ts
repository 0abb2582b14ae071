import type { Problem, Status } from './problems.js';

/** One endpoint to scan: the name is used for SNI and the hostname check, `address` (if any) is dialled. */
export interface Endpoint {
  host: string;
  port: number;
  address?: string;
  /**
   * The plaintext upgrade spoken before the TLS handshake; absent means `tls` (TLS from the first
   * byte). Not part of the endpoint's identity (key, stored row): one host:port speaks one protocol.
   */
  protocol?: EndpointProtocol;
}

/** `tls`: TLS from the first byte (HTTPS, and the implicit-TLS ports 465, 993, 995, 636); the others upgrade a plaintext session first. */
export const ENDPOINT_PROTOCOLS = ['tls', 'smtp', 'imap', 'pop3', 'ftp', 'ldap', 'postgres', 'xmpp'] as const;
export type EndpointProtocol = (typeof ENDPOINT_PROTOCOLS)[number];

/** A domain of the inventory after validation (names in A-label form). */
export interface Domain {
  name: string;
  altNames: string[];
  managed: boolean;
  endpoints: Endpoint[];
  files?: { cert: string; key?: string };
}

/** What we record of one certificate: enough to show it and to compare it, never its key. */
export interface CertInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string; // ISO 8601
  notAfter: string; // ISO 8601
  fingerprint256: string; // colon-separated upper-case hex, as node:crypto prints it
  keyType: string; // rsa | ec | ed25519 | rsa-pss | dsa | ...
  keyBits: number | null; // RSA modulus length or EC curve size
  curve?: string;
  signatureAlgorithm: string; // e.g. sha256WithRSAEncryption, ecdsa-with-SHA256, or the OID when unknown
  selfSigned: boolean;
  isCA: boolean;
  dnsNames: string[];
  ipAddresses: string[];
  aiaIssuers: string[]; // AIA caIssuers URLs
}

/** Where a certificate on the chosen path came from. */
export type PathSource = 'served' | 'trust-store';

export interface PathEntry {
  fingerprint256: string;
  source: PathSource;
  anchor: boolean;
}

/** The outcome of chain analysis (pure, src/core/chain.ts). */
export interface ChainAnalysis {
  /** The served certificates in the order received. */
  served: CertInfo[];
  /** The chosen path from the leaf towards an anchor (as far as it goes). */
  path: PathEntry[];
  /** Certificates on the path that the server did not send (from the trust store), keyed by fingerprint. */
  added: CertInfo[];
  trusted: boolean;
  /** Earliest notAfter of the non-anchor certificates on the path; null when nothing was served. */
  notAfter: string | null;
  daysLeft: number | null;
  problems: Problem[];
}

/** A probe's outcome: either a served chain (DER, in order) or a failure classified by code. */
export interface ProbeResult {
  host: string;
  port: number;
  address?: string;
  /** The IP actually connected to. */
  remoteAddress?: string;
  protocol?: string; // TLSv1.2, TLSv1.3
  /**
   * True when the chain came from the Certificate message itself (plaintext under TLS 1.2,
   * decrypted under TLS 1.3), so its order is real; false when only Node's rebuilt view was had.
   */
  orderKnown: boolean;
  chain: Buffer[];
  /** Why the order could not be judged, when it could not. */
  note?: string;
  /** OpenSSL's own verdict on the handshake (null = verified; otherwise its error code). */
  opensslError: string | null;
  error?: { code: 'unreachable' | 'timeout' | 'handshake-failed'; message: string; phase: 'dns' | 'connect' | 'handshake' };
  durationMs: number;
}

/** One stored scan of one endpoint, as `status` and `scan --json` present it. */
export interface EndpointReport {
  domain: string;
  host: string;
  port: number;
  address?: string;
  source: 'tls' | 'file';
  /** For source 'file': the certificate file checked. */
  file?: string;
  status: Status;
  daysLeft: number | null;
  notAfter: string | null;
  /** The leaf's notBefore, when known: with the leaf's notAfter it gives the lifetime the expiry thresholds scale to (core/thresholds.ts). */
  notBefore?: string | null;
  /** The leaf's own notAfter, only when an intermediate on the path expires first (then `notAfter` is the intermediate's). */
  leafNotAfter?: string;
  fingerprint256: string | null;
  issuer: string | null;
  subject: string | null;
  problems: Problem[];
  scannedAt: string | null;
  /** Why the target could not be judged (status unknown), e.g. an unreadable certificate file. */
  error?: string;
  protocol?: string | null;
  orderKnown?: boolean;
  /** Why the served order could not be judged (orderKnown false). */
  note?: string;
  /** OpenSSL's verdict during the handshake and whether it agrees with ours. */
  crossCheck?: { openssl: string | null; agrees: boolean; note?: string } | null;
  /** The certificates served (or in the file), in order, then those the trust store added to the path. */
  chain?: CertInfo[];
  /** How many of `chain` were served; the rest came from the trust store. */
  servedCount?: number;
}
