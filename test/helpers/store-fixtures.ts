/**
 * Synthetic scans for the store's tests and benchmark. The store never parses DER (it only
 * hashes it), so certificates here are deterministic pseudo-random bytes with a matching
 * CertInfo; no PKI needed.
 */
import { createHash } from 'node:crypto';
import type { CertInfo, EndpointReport } from '../../src/core/model.js';
import type { Problem } from '../../src/core/problems.js';
import type { RecordItem } from '../../src/store/index.js';

export interface FakeCert {
  der: Buffer;
  info: CertInfo;
}

export function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/** A deterministic ~1.2 kB "DER" (the size of a typical leaf) and its CertInfo. */
export function fakeCert(label: string, opts: { issuer?: string; notAfter?: string; isCA?: boolean; size?: number } = {}): FakeCert {
  const size = opts.size ?? 1200;
  const chunks: Buffer[] = [];
  let block = createHash('sha256').update(label).digest();
  for (let n = 0; n < size; n += block.length) {
    chunks.push(block);
    block = createHash('sha256').update(block).digest();
  }
  const der = Buffer.concat(chunks).subarray(0, size);
  const subject = `CN=${label}`;
  const info: CertInfo = {
    subject,
    issuer: opts.issuer ?? subject,
    serialNumber: createHash('sha1').update(label).digest('hex').slice(0, 16).toUpperCase(),
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: opts.notAfter ?? '2026-01-01T00:00:00.000Z',
    fingerprint256: fingerprintOf(der),
    keyType: 'ec',
    keyBits: 256,
    curve: 'prime256v1',
    signatureAlgorithm: 'ecdsa-with-SHA256',
    selfSigned: opts.issuer === undefined,
    isCA: opts.isCA ?? false,
    dnsNames: opts.isCA ? [] : [label],
    ipAddresses: [],
    aiaIssuers: [],
  };
  return { der, info };
}

/** A report of a scan that served `chain` (leaf first), as the scan service would build it. */
export function reportFor(
  target: { domain: string; host?: string; port?: number; address?: string; source?: 'tls' | 'file' },
  chain: readonly FakeCert[],
  opts: { scannedAt?: string; problems?: Problem[]; daysLeft?: number | null } = {},
): EndpointReport {
  const leaf = chain[0]?.info;
  const problems = opts.problems ?? [];
  const report: EndpointReport = {
    domain: target.domain,
    host: target.host ?? target.domain,
    port: target.port ?? 443,
    source: target.source ?? 'tls',
    status: problems.some((p) => p.severity === 'critical') ? 'critical' : problems.length > 0 ? 'warning' : 'ok',
    daysLeft: opts.daysLeft !== undefined ? opts.daysLeft : leaf ? 42 : null,
    notAfter: leaf?.notAfter ?? null,
    fingerprint256: leaf?.fingerprint256 ?? null,
    issuer: leaf?.issuer ?? null,
    subject: leaf?.subject ?? null,
    problems,
    scannedAt: opts.scannedAt ?? '2025-06-01T12:00:00.000Z',
    protocol: 'TLSv1.2',
    orderKnown: true,
    crossCheck: { openssl: null, agrees: true },
    chain: chain.map((c) => c.info),
  };
  if (target.address !== undefined) report.address = target.address;
  return report;
}

/**
 * `n` endpoints with 3-certificate chains (unique leaf, one of `intermediates` shared
 * intermediates, one of two roots), every tenth one expiring soon.
 */
export function fleet(n: number, opts: { intermediates?: number; scannedAt?: string } = {}): RecordItem[] {
  const roots = [fakeCert('Root X1', { isCA: true }), fakeCert('Root X2', { isCA: true })];
  const inters = Array.from({ length: opts.intermediates ?? 8 }, (_, i) => {
    const root = roots[i % roots.length]!;
    return { cert: fakeCert(`Intermediate ${i}`, { issuer: root.info.subject, isCA: true }), root };
  });
  const items: RecordItem[] = [];
  for (let i = 0; i < n; i++) {
    const { cert: inter, root } = inters[i % inters.length]!;
    const name = `host${String(i).padStart(5, '0')}.example.com`;
    const leaf = fakeCert(name, { issuer: inter.info.subject });
    const chain = [leaf, inter, root];
    const problems: Problem[] =
      i % 10 === 0 ? [{ code: 'expiring-soon', severity: 'warning', message: `${name} expires in 12 days` }] : [];
    items.push({
      report: reportFor({ domain: name }, chain, { problems, ...(opts.scannedAt ? { scannedAt: opts.scannedAt } : {}) }),
      chainDer: chain.map((c) => c.der),
      extra: { path: chain.map((c, j) => ({ fingerprint256: c.info.fingerprint256, source: 'served', anchor: j === 2 })) },
    });
  }
  return items;
}
