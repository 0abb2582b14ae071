/**
 * The latest scan of every stored endpoint with only what a dashboard row shows (issue 13), read
 * for fleets: SQLite packs the whole answer into one JSON text that JSON.parse reads at once.
 * ScanRepository.latest() builds ~19 JS values per row (better-sqlite3 makes each one at
 * ~0.4 µs) and a full report object: most of the dashboard's server time at 10,000 endpoints.
 * service/dashboard.ts places these rows the way `status` places reports, and reads full reports
 * (ScanRepository.reportsById) only for rows the renewal and deploy lifecycle changes.
 */
import { wrapSqliteError, type Db } from './db.js';
import type { Status } from '../core/problems.js';
import type { StoredEndpoint } from './endpoint-ids.js';

/** A stored endpoint (its id: ScanRepository.reportsById, the page /endpoint/<id>) with its latest scan. */
export interface LeanScanRow extends StoredEndpoint {
  /** As the report has it: scanned_at as an ISO string. */
  scannedAt: string;
  status: Status;
  daysLeft: number | null;
  notAfter: string | null;
  fingerprint256: string | null;
  issuer: string | null;
  subject: string | null;
  problems: { code: string; severity: 'warning' | 'critical' }[];
  /** Report fields kept in report_extra_json that a row shows; absent when not recorded. */
  notBefore?: string | null;
  leafNotAfter?: string;
  file?: string;
}

/**
 * Per row a JSON array: id, domain, host, port, address, source, scanned_at (ms), status,
 * days_left, not_after, fingerprint256, issuer, subject, problems (JSON, null for none), extra
 * (JSON, null for none). Columns JSON keeps as text stay text; a stored JSON column that is not
 * valid JSON (never written by us) reads as null instead of failing the whole page.
 */
const SQL = `SELECT json_group_array(json_array(
    e.id, e.domain, e.host, e.port, e.address, e.source, s.scanned_at, r.status, s.days_left, r.not_after,
    r.fingerprint256, r.issuer, r.subject,
    CASE WHEN r.problems_json = '[]' OR NOT json_valid(r.problems_json) THEN NULL ELSE json(r.problems_json) END,
    CASE WHEN r.report_extra_json IS NULL OR NOT json_valid(r.report_extra_json) THEN NULL ELSE json(r.report_extra_json) END))
  FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id`;

type Packed = [number, string, string, number, string, 'tls' | 'file', number, Status, number | null, string | null, string | null, string | null, string | null, { code: string; severity: 'warning' | 'critical' }[] | null, Record<string, unknown> | null];

/** Every stored endpoint's latest scan, as dashboard rows need it (no order promised). */
export function leanScanRows(db: Db): LeanScanRow[] {
  let text: string;
  try {
    text = db.prepare(SQL).pluck().get() as string;
  } catch (err) {
    throw wrapSqliteError(err, { path: db.name, busyTimeoutMs: 0 }, 'reading the latest scans');
  }
  const packed = JSON.parse(text) as Packed[];
  const out = new Array<LeanScanRow>(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const p = packed[i]!;
    const row: LeanScanRow = {
      id: p[0], domain: p[1], host: p[2], port: p[3], source: p[5],
      scannedAt: new Date(p[6]).toISOString(),
      status: p[7], daysLeft: p[8], notAfter: p[9], fingerprint256: p[10], issuer: p[11], subject: p[12],
      problems: p[13] ? p[13].map((x) => ({ code: x.code, severity: x.severity })) : [],
    };
    if (p[4] !== '') row.address = p[4];
    const extra = p[14];
    if (extra) {
      // Only the fields a row shows; the rest (error, note, servedCount, …) is the detail page's.
      if (extra['notBefore'] !== undefined) row.notBefore = extra['notBefore'] as string | null;
      if (typeof extra['leafNotAfter'] === 'string') row.leafNotAfter = extra['leafNotAfter'];
      if (typeof extra['file'] === 'string') row.file = extra['file'];
    }
    out[i] = row;
  }
  return out;
}
