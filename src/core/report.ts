import type { Domain, EndpointProtocol, EndpointReport } from './model.js';
import { type Status, worstStatus } from './problems.js';

export interface ReportSummary {
  ok: number;
  warning: number;
  critical: number;
  unknown: number;
}

/** The `--json` document of `scan` and `status` (ARCHITECTURE §3). */
export interface ReportDocument {
  generatedAt: string;
  summary: ReportSummary;
  endpoints: EndpointReport[];
}

/**
 * An endpoint's report already serialised, as JSON.stringify(doc, null, 2) prints it as an
 * element of a list under a top-level key (see ScanRepository.latestStatusRows), with the status
 * it carries. cli/json-out.ts writes it as it is.
 */
export class RenderedReport {
  constructor(readonly json: string, readonly status: Status) {}

  /** Only the slice writer knows where the text goes; JSON.stringify would print this wrapper. */
  toJSON(): never {
    throw new Error('a RenderedReport is written by cli/json-out.ts writeJsonDocument, not JSON.stringify');
  }
}

export function summarise(endpoints: readonly EndpointReport[]): ReportSummary {
  const summary: ReportSummary = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  for (const e of endpoints) summary[e.status]++;
  return summary;
}

/** Nothing to look at is not "ok": a monitor that checks nothing must say so (unknown). */
export function overallStatus(endpoints: readonly EndpointReport[]): Status {
  if (endpoints.length === 0) return 'unknown';
  return endpoints.reduce<Status>((acc, e) => worstStatus(acc, e.status), 'ok');
}

export function reportDocument(endpoints: EndpointReport[], now: Date): ReportDocument {
  return { generatedAt: now.toISOString(), summary: summarise(endpoints), endpoints };
}

/** One key per thing we scan, shared by the scanner, the store and `status`. */
export function endpointKey(e: { domain: string; host: string; port: number; address?: string | undefined; source: string }): string {
  return `${e.source}|${e.domain}|${e.host}|${e.port}|${e.address ?? ''}`;
}

/** What the inventory says should be scanned, in inventory order. */
export interface ScanTarget {
  domain: Domain;
  source: 'tls' | 'file';
  host: string;
  port: number;
  address?: string;
  /** The endpoint's plaintext upgrade (STARTTLS and kin); absent: TLS from the first byte. */
  protocol?: EndpointProtocol;
}

export function targetsOf(domains: readonly Domain[]): ScanTarget[] {
  const out: ScanTarget[] = [];
  for (const domain of domains) {
    for (const ep of domain.endpoints) {
      out.push({ domain, source: 'tls', host: ep.host, port: ep.port, ...(ep.address ? { address: ep.address } : {}), ...(ep.protocol && ep.protocol !== 'tls' ? { protocol: ep.protocol } : {}) });
    }
    if (domain.files) out.push({ domain, source: 'file', host: domain.name, port: 0 });
  }
  return out;
}

/** A placeholder for something configured but never scanned. */
export function unknownReport(t: ScanTarget): EndpointReport {
  return {
    domain: t.domain.name,
    host: t.host,
    port: t.port,
    ...(t.address ? { address: t.address } : {}),
    source: t.source,
    ...(t.source === 'file' && t.domain.files ? { file: t.domain.files.cert } : {}),
    status: 'unknown',
    daysLeft: null,
    notAfter: null,
    fingerprint256: null,
    issuer: null,
    subject: null,
    problems: [],
    scannedAt: null,
  };
}
