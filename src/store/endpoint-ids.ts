/**
 * Stored endpoints by key and by id, for the dashboard (issue 13): its table links each row to
 * `/endpoint/<id>`, and the reports `status` builds carry no id. Kept apart from ScanRepository
 * (whose queries serve status and scans) as plain functions over the database.
 */
import { wrapSqliteError, type Db } from './db.js';

export interface StoredEndpoint {
  id: number;
  domain: string;
  host: string;
  port: number;
  /** Absent when the endpoint has no address (stored as ''). */
  address?: string;
  source: 'tls' | 'file';
  /** notBefore of the leaf its latest scan saw, when that certificate's info is stored. */
  leafNotBefore: string | null;
}

type Raw = [number, string, string, number, string, 'tls' | 'file', string | null];

const SELECT = `SELECT e.id, e.domain, e.host, e.port, e.address, e.source, c.not_before
  FROM endpoints e
  LEFT JOIN scans s ON s.id = e.last_scan_id
  LEFT JOIN scan_results r ON r.id = s.result_id
  LEFT JOIN certificates c ON c.fingerprint256 = r.fingerprint256`;

function fromRaw(r: Raw): StoredEndpoint {
  const e: StoredEndpoint = { id: r[0], domain: r[1], host: r[2], port: r[3], source: r[5], leafNotBefore: r[6] };
  if (r[4] !== '') e.address = r[4];
  return e;
}

/** Every stored endpoint, keyed as core/report.ts endpointKey keys reports: `source|domain|host|port|address`. One query. */
export function storedEndpoints(db: Db): Map<string, StoredEndpoint> {
  let rows: Raw[];
  try {
    rows = db.prepare(SELECT).raw().all() as Raw[];
  } catch (err) {
    throw wrapSqliteError(err, { path: db.name, busyTimeoutMs: 0 }, 'reading the stored endpoints');
  }
  const out = new Map<string, StoredEndpoint>();
  for (const r of rows) out.set(`${r[5]}|${r[1]}|${r[2]}|${r[3]}|${r[4]}`, fromRaw(r));
  return out;
}

/** One stored endpoint by id; null when there is none. */
export function storedEndpoint(db: Db, id: number): StoredEndpoint | null {
  try {
    const r = db.prepare(`${SELECT} WHERE e.id = ?`).raw().get(id) as Raw | undefined;
    return r ? fromRaw(r) : null;
  } catch (err) {
    throw wrapSqliteError(err, { path: db.name, busyTimeoutMs: 0 }, 'reading a stored endpoint');
  }
}
