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
}

type Raw = [number, string, string, number, string, 'tls' | 'file'];

const SELECT = 'SELECT e.id, e.domain, e.host, e.port, e.address, e.source FROM endpoints e';

function fromRaw(r: Raw): StoredEndpoint {
  const e: StoredEndpoint = { id: r[0], domain: r[1], host: r[2], port: r[3], source: r[5] };
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

/**
 * notBefore of stored certificates by fingerprint, for reports stored without their leaf's
 * notBefore (scans recorded before reports carried it). Asked only for those: a certificate row
 * holds its DER before the dates, so reading them costs a page or two per certificate.
 */
export function certificateNotBefore(db: Db, fingerprints: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (fingerprints.length === 0) return out;
  try {
    const rows = db
      .prepare('SELECT fingerprint256, not_before FROM certificates WHERE fingerprint256 IN (SELECT value FROM json_each(?)) AND not_before IS NOT NULL')
      .raw()
      .all(JSON.stringify(fingerprints)) as [string, string][];
    for (const [fp, nb] of rows) out.set(fp, nb);
    return out;
  } catch (err) {
    throw wrapSqliteError(err, { path: db.name, busyTimeoutMs: 0 }, 'reading stored certificates');
  }
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
