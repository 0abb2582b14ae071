/**
 * The dashboard's fleet-shaped reads (StoreViews, store/index.ts) on PostgreSQL: the same rows as
 * store/dashboard-rows.ts, endpoint-ids.ts and outbox-search.ts give on SQLite. SQLite packs
 * leanScanRows into one JSON text because better-sqlite3 pays per value; pg parses a result row
 * at once, so the columns are read as they are and only the JSON columns parsed here.
 */
import type { Status } from '../../core/problems.js';
import type { ViewStore } from '../contract.js';
import type { LeanScanRow } from '../dashboard-rows.js';
import type { StoredEndpoint } from '../endpoint-ids.js';
import type { OutboxMention } from '../outbox-search.js';
import type { PgQueryable } from './db.js';
import { asStoreError } from './scans.js';

interface EndpointRow {
  id: string;
  domain: string;
  host: string;
  port: number | string;
  address: string;
  source: 'tls' | 'file';
}

function fromRow(r: EndpointRow): StoredEndpoint {
  const e: StoredEndpoint = { id: Number(r.id), domain: r.domain, host: r.host, port: Number(r.port), source: r.source };
  if (r.address !== '') e.address = r.address;
  return e;
}

/** Stored JSON that is not valid JSON (never written by certs) reads as null, as SQLite's json_valid check makes it. */
function parseOrNull(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const SELECT_ENDPOINT = 'SELECT e.id, e.domain, e.host, e.port, e.address, e.source FROM endpoints e';

export class PgViewStore implements ViewStore {
  constructor(private readonly db: PgQueryable) {}

  /** Every stored endpoint's latest scan with what a dashboard row shows (in endpoint id order; none promised). */
  async leanScanRows(): Promise<LeanScanRow[]> {
    let rows: (EndpointRow & { scanned_at: string; status: Status; days_left: number | null; not_after: string | null; fingerprint256: string | null; issuer: string | null; subject: string | null; problems_json: string; report_extra_json: string | null })[];
    try {
      ({ rows } = await this.db.query(
        `SELECT e.id, e.domain, e.host, e.port, e.address, e.source, s.scanned_at, r.status, s.days_left, r.not_after,
            r.fingerprint256, r.issuer, r.subject, r.problems_json, r.report_extra_json
          FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id
          ORDER BY e.id`,
      ));
    } catch (err) {
      throw asStoreError(err, 'reading the latest scans');
    }
    return rows.map((r) => {
      const problems = r.problems_json === '[]' ? null : (parseOrNull(r.problems_json) as { code: string; severity: 'warning' | 'critical' }[] | null);
      // dashboard-rows.ts's key order: the address (when there is one) comes after the scan's fields.
      const row: LeanScanRow = {
        id: Number(r.id), domain: r.domain, host: r.host, port: Number(r.port), source: r.source,
        scannedAt: new Date(Number(r.scanned_at)).toISOString(),
        status: r.status, daysLeft: r.days_left === null ? null : Number(r.days_left), notAfter: r.not_after,
        fingerprint256: r.fingerprint256, issuer: r.issuer, subject: r.subject,
        problems: Array.isArray(problems) ? problems.map((x) => ({ code: x.code, severity: x.severity })) : [],
      };
      if (r.address !== '') row.address = r.address;
      const extra = parseOrNull(r.report_extra_json) as Record<string, unknown> | null;
      if (extra !== null && typeof extra === 'object') {
        // Only the fields a row shows; the rest (error, note, servedCount, …) is the detail page's.
        if (extra['notBefore'] !== undefined) row.notBefore = extra['notBefore'] as string | null;
        if (typeof extra['leafNotAfter'] === 'string') row.leafNotAfter = extra['leafNotAfter'];
        if (typeof extra['file'] === 'string') row.file = extra['file'];
      }
      return row;
    });
  }

  /** Every stored endpoint, keyed as core/report.ts endpointKey keys reports: `source|domain|host|port|address`. */
  async storedEndpoints(): Promise<Map<string, StoredEndpoint>> {
    let rows: EndpointRow[];
    try {
      ({ rows } = await this.db.query<EndpointRow>(`${SELECT_ENDPOINT} ORDER BY e.id`));
    } catch (err) {
      throw asStoreError(err, 'reading the stored endpoints');
    }
    const out = new Map<string, StoredEndpoint>();
    for (const r of rows) out.set(`${r.source}|${r.domain}|${r.host}|${r.port}|${r.address}`, fromRow(r));
    return out;
  }

  /** One stored endpoint by id; null when there is none. */
  async storedEndpoint(id: number): Promise<StoredEndpoint | null> {
    try {
      const { rows } = await this.db.query<EndpointRow>(`${SELECT_ENDPOINT} WHERE e.id = $1`, [id]);
      return rows[0] ? fromRow(rows[0]) : null;
    } catch (err) {
      throw asStoreError(err, 'reading a stored endpoint');
    }
  }

  /** notBefore of stored certificates by fingerprint (those that have one). */
  async certificateNotBefore(fingerprints: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (fingerprints.length === 0) return out;
    try {
      const { rows } = await this.db.query<{ fingerprint256: string; not_before: string }>(
        'SELECT fingerprint256, not_before FROM certificates WHERE fingerprint256 = ANY($1::text[]) AND not_before IS NOT NULL',
        [fingerprints],
      );
      for (const r of rows) out.set(r.fingerprint256, r.not_before);
      return out;
    } catch (err) {
      throw asStoreError(err, 'reading stored certificates');
    }
  }

  /**
   * The newest `limit` outbox messages whose webhook payload has `"endpoint":<label>` or, without
   * a payload, whose text contains `label` (strpos is SQLite's instr: bytes of the text, no
   * pattern characters, '' found everywhere).
   */
  async outboxMentioning(label: string, limit = 50): Promise<OutboxMention[]> {
    let rows: { created_at: string; channel: 'email' | 'webhook'; subject: string; text: string; payload_json: string | null; attempts: number | string; last_error: string | null; delivered_at: string | null }[];
    try {
      ({ rows } = await this.db.query(
        `SELECT created_at, channel, subject, text, payload_json, attempts, last_error, delivered_at FROM outbox
          WHERE CASE WHEN payload_json IS NULL THEN strpos(text, $1) > 0 ELSE strpos(payload_json, $2) > 0 END
          ORDER BY id DESC LIMIT $3`,
        // SQLite reads a negative LIMIT as none; PostgreSQL refuses it and takes NULL for none.
        [label, `"endpoint":${JSON.stringify(label)}`, limit < 0 ? null : limit],
      ));
    } catch (err) {
      throw asStoreError(err, 'reading the outbox');
    }
    return rows.map((r) => ({
      createdAt: r.created_at, channel: r.channel, subject: r.subject, text: r.text, payload: parseOrNull(r.payload_json),
      attempts: Number(r.attempts), lastError: r.last_error, deliveredAt: r.delivered_at,
    }));
  }
}
