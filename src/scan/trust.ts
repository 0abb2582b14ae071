/**
 * The trust a scan uses, loaded once per run: Node's bundled Mozilla roots, the system bundle and
 * the user's caFile (private CAs). The same anchors feed our own chain analysis (TrustAnchors)
 * and OpenSSL's verdict during the handshake (the probe's SecureContext), so the two judge the
 * same store and a disagreement means a bug, not a configuration difference.
 */
import type { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import tls from 'node:tls';
import { ValidationError } from '../core/errors.js';
import { TrustAnchors } from '../core/trust-anchors.js';
import { parsePemBundle, toX509 } from '../core/x509.js';
import { readCertificateDers } from './cert-files.js';
import { createProbeContext } from './tls-probe.js';

/** Debian/Ubuntu/Alpine location; RHEL's /etc/pki/tls/certs/ca-bundle.crt can be given as systemBundlePath. */
export const DEFAULT_SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface TrustOptions {
  /** Extra anchors (PEM), e.g. a private CA. Must exist and hold at least one certificate. */
  caFile?: string;
  /** Node's bundled Mozilla roots (tls.rootCertificates). */
  bundled: boolean;
  /** The system bundle, when the file exists. */
  system: boolean;
  systemBundlePath?: string;
}

export interface TrustCount {
  /** Certificates each source provided, before removing duplicates across sources. */
  bundled: number;
  system: number;
  caFile: number;
  /** Distinct anchors after deduplication. */
  total: number;
}

export interface LoadedTrust {
  anchors: TrustAnchors;
  /**
   * For probe(): TLS 1.2-capped, with its TLS 1.3 sibling attached (see createProbeContext).
   * Built once: a context with a few hundred CAs costs far more than a loopback handshake.
   */
  secureContext: tls.SecureContext;
  count: TrustCount;
}

/**
 * 64-character lines and no empty one: a base64 body whose length is a multiple of 64 must not
 * end in a blank line, which OpenSSL's PEM reader refuses. It did, for 9 of Node's 144 roots: in
 * a CA list OpenSSL skipped them silently (their chains came back UNABLE_TO_GET_ISSUER_CERT_LOCALLY
 * while our own analysis trusted them), and in one bundle it would stop reading there.
 */
function pemOf(b64: string): string {
  return `-----BEGIN CERTIFICATE-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
}

export function loadTrust(opts: TrustOptions): LoadedTrust {
  // Keyed by the DER (as base64), so a certificate two sources share — on Debian the system bundle
  // is Node's roots again — is parsed once: X.509 parsing was a third of `certs scan`'s start-up.
  const unique = new Map<string, { cert: X509Certificate; pem: string }>();
  const add = (ders: readonly Buffer[], labelOf: (i: number) => string): number => {
    ders.forEach((der, i) => {
      const b64 = der.toString('base64');
      if (unique.has(b64)) return;
      unique.set(b64, { cert: toX509(der, labelOf(i)), pem: pemOf(b64) });
    });
    return ders.length;
  };
  const addFile = (path: string, what: string): number => {
    const { label, ders } = readCertificateDers(path, what);
    return add(ders, (i) => `${label} certificate ${i + 1}`);
  };

  const bundled = opts.bundled ? add(tls.rootCertificates.flatMap((pem) => parsePemBundle(pem, 'bundled root')), (i) => `bundled root ${i + 1}`) : 0;

  const systemPath = opts.systemBundlePath ?? DEFAULT_SYSTEM_BUNDLE;
  // Absent is normal (containers, macOS); present but unreadable or corrupt is an error worth stopping for.
  const system = opts.system && existsSync(systemPath) ? addFile(systemPath, 'system CA bundle') : 0;

  const caFile = opts.caFile !== undefined ? addFile(opts.caFile, 'CA file') : 0;

  if (unique.size === 0) {
    const why = [
      opts.bundled ? null : 'bundled roots are off',
      opts.system ? `${systemPath} does not exist` : 'the system bundle is off',
      'no caFile is given',
    ].filter(Boolean).join(', ');
    throw new ValidationError(`no trust anchors: ${why}`, {
      hint: 'enable trust.bundled or trust.system, or set trust.caFile to your CA certificates (PEM)',
    });
  }

  const entries = [...unique.values()];
  return {
    anchors: new TrustAnchors(entries.map((e) => e.cert)),
    secureContext: createProbeContext({ ca: entries.map((e) => e.pem) }),
    count: { bundled, system, caFile, total: unique.size },
  };
}
