/**
 * The PostgreSQL engine's scan store (issue 15): ScanRepository (store/scans.ts) on PostgreSQL,
 * with the same arguments, returned objects, ordering, nulls and atomicity. Tables and columns
 * are SQLite's at schema version 9 (pg/schema.ts); what the SQLite repository computes in JS
 * (fingerprints, the content digest of a scan result, the path encoding, the extra fields) is
 * the same code, imported from store/scans.ts, so a store copied between engines deduplicates
 * the same way.
 *
 * Differences of means, not of results:
 * - Writers of scans are serialised by a transaction-level advisory lock (SCAN_WRITE_LOCK), as
 *   SQLite's IMMEDIATE transactions serialise them: two nodes recording the same new endpoint, or
 *   both moving its "latest", never race (no unique-violation retries, no lost "latest" update
 *   from a snapshot that could not see the other node's newer scan), and no deadlock between two
 *   recordMany that touch the same endpoints in different orders.
 * - The status texts (endpoints.status_json / status_table, see store/status-rows.ts) are
 *   rendered in JS from the report exactly as `latest()` reads it back, in the transaction that
 *   makes the scan the endpoint's latest. SQLite renders them with JSON1 SQL; PostgreSQL's JSON
 *   functions write JSON differently (spacing, number text, escapes), so porting that SQL could
 *   not give SQLite's bytes. Rows SQLite leaves to JS (text NULL: reportsById reads them) are left
 *   NULL here too (sqliteLeavesJson / sqliteLeavesTable), so statusRows is the same on both
 *   engines. The meta row STATUS_TEXT_META names this rendering (PG_STATUS_TEXT_RENDERING): texts
 *   another rendering made (a store copied from SQLite, another certs version) are never read;
 *   statusText renders those rows live, and the next writer renders every endpoint again.
 * - Ids: identity sequences do not give back what a rolled-back transaction drew, so after a
 *   failed recordMany the next ids skip some (SQLite reuses them). Ids stay unique and ascending.
 * - PostgreSQL text cannot hold U+0000: a report with a NUL in a plain text column (subject,
 *   issuer, error message…) is refused as invalid-argument, where SQLite stores it. JSON columns
 *   (problems, extra fields) escape it and are not affected.
 */
import { StoreError } from '../../core/errors.js';
import type { CertInfo, EndpointReport } from '../../core/model.js';
import type { Problem, Status } from '../../core/problems.js';
import type { ScanStore } from '../contract.js';
import {
  decodePath,
  durationUs,
  extraFields,
  fingerprint256,
  resultContent,
  scanTime,
  sha256,
  type EndpointKey,
  type LatestFilter,
  type PruneCounts,
  type ReadOptions,
  type RecordExtra,
  type RecordItem,
  type ScanDetail,
} from '../scans.js';
import { COLUMN_FIELDS, STATUS_TEXT_META, STATUS_TEXT_RENDERING, parseStatusRows, statusParam, type StatusForm, type StatusRow, type StatusTarget } from '../status-rows.js';
import type { PgDb, PgQueryable } from './db.js';

/**
 * pg_advisory_xact_lock key held by every transaction that writes scans (record, prune): ASCII
 * "certscan" as a signed 64-bit integer. Distinct from the migration lock (pg/migrate.ts).
 */
export const SCAN_WRITE_LOCK = '7162256626880307566';

/**
 * The rendering of the stored status texts on this engine. It follows SQLite's (the texts must be
 * the same bytes, so a change there is a change here) and a version of the JS below: bump the
 * suffix when renderStatusJson/renderStatusTable or the sqliteLeaves* rules change.
 */
export const PG_STATUS_TEXT_RENDERING = `js1:${STATUS_TEXT_RENDERING}`;

/** Rows per INSERT … SELECT FROM unnest(…) (certificates, re-rendered texts). */
const BATCH = 1000;

/** The repository's SQL runs on the pool (PgDb, which also has tx) or on the client of a snapshot's transaction. */
type ScanDb = PgDb | PgQueryable;

/** A row of the report columns, as pg returns them (int8 as string, bytea as Buffer). */
interface ReportRow {
  domain: string;
  host: string;
  port: number | string;
  address: string;
  source: EndpointReport['source'];
  scanned_at: number | string;
  status: Status;
  days_left: number | null;
  not_after: string | null;
  fingerprint256: string | null;
  subject: string | null;
  issuer: string | null;
  protocol: string | null;
  order_known: number | string | null;
  openssl_error: string | null;
  cross_check_agrees: number | string | null;
  cross_check_note: string | null;
  problems_json: string;
  report_extra_json: string | null;
  chain_json?: string;
  added_json?: string;
}

const REPORT_COLUMNS = [
  'e.domain', 'e.host', 'e.port', 'e.address', 'e.source', 's.scanned_at', 'r.status', 's.days_left',
  'r.not_after', 'r.fingerprint256', 'r.subject', 'r.issuer', 'r.protocol', 'r.order_known',
  'r.openssl_error', 'r.cross_check_agrees', 'r.cross_check_note', 'r.problems_json', 'r.report_extra_json',
];

function columns(withChain: boolean): string {
  return (withChain ? [...REPORT_COLUMNS, 'r.chain_json', 'r.added_json'] : REPORT_COLUMNS).join(', ');
}

const LATEST_FROM = 'FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id';

// SQLite compares text bytewise (BINARY); "C" is PostgreSQL's bytewise collation, whatever the
// database's default: the same order on both engines.
const ENDPOINT_ORDER = 'e.domain COLLATE "C", e.host COLLATE "C", e.port, e.address COLLATE "C", e.source COLLATE "C"';

const KEY_WHERE = `e.domain = $1 AND e.host = $2 AND e.port = $3
  AND ($4::text IS NULL OR e.address = $4) AND ($5::text IS NULL OR e.source = $5)`;

export class PgScanStore implements ScanStore {
  constructor(private readonly db: ScanDb) {}

  async record(report: EndpointReport, chainDer: readonly Buffer[], extra?: RecordExtra): Promise<number> {
    return (await this.recordMany([{ report, chainDer, extra }]))[0]!;
  }

  /** ONE transaction: all are stored or none. Returns scan ids in order. */
  async recordMany(items: readonly RecordItem[]): Promise<number[]> {
    if (items.length === 0) return [];
    const doing = `recording ${items.length === 1 ? 'a scan' : `${items.length} scans`}`;
    // What JS refuses is refused before anything is written (SQLite rolls back to the same end).
    const prepared = items.map(prepare);
    try {
      return await this.tx(async (q) => {
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCAN_WRITE_LOCK]);
        await ensureRendered(q);
        await putCertificates(q, prepared);
        return await insertScans(q, prepared);
      });
    } catch (err) {
      throw asStoreError(err, doing);
    }
  }

  /** The newest scan of every stored endpoint, ordered by domain, host, port, address, source. */
  async latest(filter: LatestFilter = {}): Promise<EndpointReport[]> {
    const withChain = filter.withChain === true;
    try {
      const where = filter.domains ? 'WHERE e.domain = ANY($1::text[])' : '';
      const { rows } = await this.db.query<ReportRow>(`SELECT ${columns(withChain)} ${LATEST_FROM} ${where} ORDER BY ${ENDPOINT_ORDER}`, filter.domains ? [filter.domains] : []);
      return await this.toReports(rows, withChain);
    } catch (err) {
      throw asStoreError(err, 'reading the latest scans');
    }
  }

  async statusRows(targets: readonly StatusTarget[], form: StatusForm = 'json'): Promise<StatusRow[]> {
    return parseStatusRows(await this.statusText(targets, form));
  }

  /**
   * The same string as SQLite's statusText: per row target, id, status, touched, scanned_at,
   * address (JSON) and the text, fields split by U+001F and rows by U+001E, targets in order and
   * one target's rows by address (the order SQLite's UNIQUE index walk gives). null: no rows.
   */
  async statusText(targets: readonly StatusTarget[] | string, form: StatusForm = 'json'): Promise<string | null> {
    const list = JSON.parse(typeof targets === 'string' ? targets : statusParam(targets)) as [string, string, number, string, string | null][];
    if (list.length === 0) return null;
    try {
      const stored = await renderingCurrent(this.db);
      const { rows } = await this.db.query<ReportRow & { target: string; id: string; touched: boolean; text: string | null }>(
        `SELECT t.ord - 1 AS target, e.id, r.status, (t.issued IS NOT NULL AND r.fingerprint256 IS NOT NULL AND r.fingerprint256 <> t.issued) AS touched,
            s.scanned_at, e.address, ${stored ? `e.status_${form} AS text` : columns(false)}
          FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[]) WITH ORDINALITY AS t(domain, host, port, source, issued, ord)
          JOIN endpoints e ON e.domain = t.domain AND e.host = t.host AND e.port = t.port AND e.source = t.source
          JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id
          ORDER BY t.ord, e.address COLLATE "C", e.source COLLATE "C"`,
        [list.map((t) => t[0]), list.map((t) => t[1]), list.map((t) => t[2]), list.map((t) => t[3]), list.map((t) => t[4] ?? null)],
      );
      if (rows.length === 0) return null;
      const texts = stored ? rows.map((r) => r.text) : rows.map((r) => renderStatusText(toReport(r), form));
      const out = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        out[i] = `${r.target}\u001f${r.id}\u001f${r.status}\u001f${r.touched ? 1 : 0}\u001f${r.scanned_at}\u001f${JSON.stringify(r.address)}\u001f${texts[i] ?? ''}`;
      }
      return out.join('\u001e');
    } catch (err) {
      throw asStoreError(err, 'reading the latest scans');
    }
  }

  /** The newest scan of each of these endpoints (ids from `statusRows`), as `latest()` reads it. */
  async reportsById(ids: readonly number[], opts: ReadOptions = {}): Promise<Map<number, EndpointReport>> {
    const withChain = opts.withChain === true;
    const map = new Map<number, EndpointReport>();
    if (ids.length === 0) return map;
    try {
      const { rows } = await this.db.query<ReportRow & { id: string }>(`SELECT e.id, ${columns(withChain)} ${LATEST_FROM} WHERE e.id = ANY($1::bigint[])`, [ids]);
      const reports = await this.toReports(rows, withChain);
      for (let i = 0; i < rows.length; i++) map.set(Number(rows[i]!.id), reports[i]!);
      return map;
    } catch (err) {
      throw asStoreError(err, 'reading the latest scans');
    }
  }

  /** Past scans of one endpoint, newest first; without address/source, every matching endpoint's. */
  async history(endpoint: EndpointKey, limit = 20, opts: ReadOptions = {}): Promise<EndpointReport[]> {
    const withChain = opts.withChain === true;
    try {
      const { rows } = await this.db.query<ReportRow>(
        `SELECT ${columns(withChain)}
          FROM endpoints e JOIN scans s ON s.endpoint_id = e.id JOIN scan_results r ON r.id = s.result_id
          WHERE ${KEY_WHERE}
          ORDER BY s.scanned_at DESC, s.id DESC
          LIMIT $6`,
        [...keyParams(endpoint), limit],
      );
      return await this.toReports(rows, withChain);
    } catch (err) {
      throw asStoreError(err, 'reading scan history');
    }
  }

  /** The newest scan of one endpoint with its chain, path and probe error; null if never scanned. */
  async detail(endpoint: EndpointKey): Promise<ScanDetail | null> {
    try {
      const { rows } = await this.db.query<ReportRow & { path_json: string | null; path_refs: string | null; error_code: string | null; error_message: string | null; duration_us: string | number | null; scan_id: string }>(
        `SELECT ${columns(true)}, r.path_json, r.error_code, r.error_message, s.duration_us, s.id AS scan_id, r.path_refs
          ${LATEST_FROM}
          WHERE ${KEY_WHERE}
          ORDER BY s.scanned_at DESC, s.id DESC
          LIMIT 1`,
        keyParams(endpoint),
      );
      const row = rows[0];
      if (!row) return null;
      const [report] = await this.toReports([row], true);
      return {
        scanId: Number(row.scan_id),
        report: report!,
        path: decodePath(row.path_json, row.path_refs, chainFingerprints(row)),
        error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
        durationMs: row.duration_us === null ? null : Number(row.duration_us) / 1000,
      };
    } catch (err) {
      throw asStoreError(err, 'reading a scan');
    }
  }

  /** Keeps the newest `keepPerEndpoint` scans of each endpoint (never the latest); returns scans deleted. */
  async pruneHistory(keepPerEndpoint: number): Promise<number> {
    if (!Number.isInteger(keepPerEndpoint) || keepPerEndpoint < 1) {
      throw new StoreError('invalid-argument', `pruneHistory: keepPerEndpoint must be an integer ≥ 1, got ${keepPerEndpoint}`);
    }
    try {
      return await this.tx(async (q) => {
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCAN_WRITE_LOCK]);
        const deleted = (await q.query(PRUNE_SQL, [keepPerEndpoint])).rowCount ?? 0;
        if (deleted > 0) await q.query(DELETE_UNUSED_RESULTS_SQL);
        return deleted;
      });
    } catch (err) {
      throw asStoreError(err, 'pruning scan history');
    }
  }

  /**
   * Deletes every scan older than `cutoff` except each endpoint's latest, then the results and
   * certificates nothing refers to any more (issued and deployments' certificates stay); drops
   * the bytes of certificates no endpoint serves now. One transaction.
   */
  async pruneBefore(cutoff: Date): Promise<PruneCounts> {
    const cutoffMs = cutoff.getTime();
    if (!Number.isFinite(cutoffMs)) throw new StoreError('invalid-argument', `pruneBefore: cutoff must be a valid date, got ${String(cutoff)}`);
    try {
      return await this.tx(async (q): Promise<PruneCounts> => {
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCAN_WRITE_LOCK]);
        const scans = (await q.query(PRUNE_BEFORE_SQL, [cutoffMs])).rowCount ?? 0;
        await q.query(DROP_HISTORY_DER_SQL);
        if (scans === 0) return { scans: 0, results: 0, certificates: 0 };
        const results = (await q.query(DELETE_UNUSED_RESULTS_SQL)).rowCount ?? 0;
        const certificates = results === 0 ? 0 : ((await q.query(DELETE_UNUSED_CERTS_SQL)).rowCount ?? 0);
        return { scans, results, certificates };
      });
    } catch (err) {
      throw asStoreError(err, 'pruning scan history');
    }
  }

  /** Within a snapshot (a client already in a transaction) the statements simply run there. */
  private tx<T>(fn: (q: PgQueryable) => Promise<T>): Promise<T> {
    return 'tx' in this.db ? this.db.tx(fn) : fn(this.db);
  }

  private async toReports(rows: readonly ReportRow[], withChain: boolean): Promise<EndpointReport[]> {
    const reports = rows.map(toReport);
    if (!withChain) return reports;
    const chains = rows.map(chainFingerprints);
    const certs = await this.loadCerts(chains);
    for (let i = 0; i < reports.length; i++) {
      const chain: CertInfo[] = [];
      for (const fp of chains[i]!) {
        // A served certificate that could not be parsed has bytes but no CertInfo to show.
        const info = certs.get(fp);
        if (info) chain.push(info);
      }
      reports[i]!.chain = chain;
    }
    return reports;
  }

  /** One query for every distinct certificate of these chains, each decoded once (and shared). */
  private async loadCerts(chains: readonly (readonly string[])[]): Promise<Map<string, CertInfo>> {
    const wanted = new Set<string>();
    for (const c of chains) for (const fp of c) wanted.add(fp);
    const map = new Map<string, CertInfo>();
    if (wanted.size === 0) return map;
    const { rows } = await this.db.query<{ fingerprint256: string; info_json: string | null }>(
      'SELECT fingerprint256, info_json FROM certificates WHERE fingerprint256 = ANY($1::text[])',
      [[...wanted]],
    );
    for (const r of rows) if (r.info_json !== null) map.set(r.fingerprint256, JSON.parse(r.info_json) as CertInfo);
    return map;
  }
}

/** One scan ready to write: every value SQLite's insertOne computes, in its column order. */
interface Prepared {
  report: EndpointReport;
  /** Fingerprints and DER of the served certificates; info of every chain entry by fingerprint. */
  served: { fp: string; der: Buffer }[];
  infos: Map<string, CertInfo>;
  scannedAt: number;
  digest: Buffer;
  /** INSERT_RESULT's values after the digest (store/scans.ts insertOne's `content`). */
  content: unknown[];
  durationUs: number | null;
  /** The endpoint's status texts should this scan become its latest. */
  statusJson: string | null;
  statusTable: string | null;
}

function prepare(item: RecordItem): Prepared {
  const { report, chainDer, extra } = item;
  const infos = new Map<string, CertInfo>();
  for (const info of report.chain ?? []) infos.set(info.fingerprint256.toUpperCase(), info);
  const served = chainDer.map((der) => ({ fp: fingerprint256(der), der }));
  const servedFps = served.map((s) => s.fp);
  const added: string[] = [];
  for (const fp of infos.keys()) if (!servedFps.includes(fp)) added.push(fp);

  const scannedAt = scanTime(report.scannedAt, report);
  // The same values as store/scans.ts digests: a store moved between engines keeps sharing result rows.
  const content = resultContent(report, servedFps, added, extra);
  // The report as latest() will read it back, from the values the columns will hold.
  const stored = toReport({
    domain: report.domain, host: report.host, port: report.port, address: report.address ?? '', source: report.source,
    scanned_at: scannedAt, status: report.status, days_left: report.daysLeft ?? null,
    not_after: content[1] as string | null, fingerprint256: content[2] as string | null, subject: content[3] as string | null,
    issuer: content[4] as string | null, protocol: content[5] as string | null, order_known: content[6] as number | null,
    openssl_error: content[7] as string | null, cross_check_agrees: content[8] as number | null, cross_check_note: content[9] as string | null,
    problems_json: content[14] as string, report_extra_json: content[17] as string | null,
  });
  return {
    report, served, infos, scannedAt, digest: sha256(JSON.stringify(content)), content,
    durationUs: durationUs(extra?.durationMs),
    statusJson: renderStatusText(stored, 'json'),
    statusTable: renderStatusText(stored, 'table'),
  };
}

/**
 * Every certificate of the batch in one upsert per BATCH rows: per fingerprint the first DER and
 * the first info seen (what SQLite's per-scan upserts leave), filling in whichever half an
 * earlier scan could not supply and leaving complete rows alone (no write).
 */
async function putCertificates(q: PgQueryable, items: readonly Prepared[]): Promise<void> {
  const certs = new Map<string, { der: Buffer | null; info: CertInfo | null }>();
  const put = (fp: string, der: Buffer | null, info: CertInfo | null) => {
    const c = certs.get(fp);
    if (!c) certs.set(fp, { der, info });
    else {
      c.der ??= der;
      c.info ??= info;
    }
  };
  for (const p of items) {
    // No CertInfo means the analysis could not parse it: keep the bytes, they are the evidence.
    for (const s of p.served) put(s.fp, s.der, p.infos.get(s.fp) ?? null);
    for (const [fp, info] of p.infos) put(fp, null, info);
  }
  const all = [...certs];
  for (let i = 0; i < all.length; i += BATCH) {
    const slice = all.slice(i, i + BATCH);
    await q.query(PUT_CERTS_SQL, [
      slice.map(([fp]) => fp),
      slice.map(([, c]) => c.der),
      slice.map(([, c]) => c.info?.subject ?? null),
      slice.map(([, c]) => c.info?.issuer ?? null),
      slice.map(([, c]) => c.info?.notBefore ?? null),
      slice.map(([, c]) => c.info?.notAfter ?? null),
      slice.map(([, c]) => (c.info ? JSON.stringify(c.info) : null)),
    ]);
  }
}

/**
 * The endpoints, results, scans and latest pointers of a batch, a few statements per BATCH items
 * instead of a few round trips per item (at 10,000 endpoints the round trips were most of the
 * time). The outcome is what SQLite's one-by-one inserts give: new endpoints and results get ids
 * in order of first appearance, scans in item order, and an endpoint's latest becomes the batch's
 * newest scan of it (ties: the one recorded last) unless its current latest is newer.
 */
async function insertScans(q: PgQueryable, items: readonly Prepared[]): Promise<number[]> {
  const endpointIds = await idsOf(q, items.map((p) => [p.report.domain, p.report.host, p.report.port, p.report.address ?? '', p.report.source]), ENDPOINT_KEY);
  const resultIds = await idsOf(q, items.map((p) => [p.digest, ...p.content]), RESULT_KEY);
  const scanIds: number[] = [];
  for (let i = 0; i < items.length; i += BATCH) {
    const slice = items.slice(i, i + BATCH);
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO scans (endpoint_id, scanned_at, result_id, days_left, duration_us)
        SELECT e, t, r, d, u FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[], $5::bigint[]) WITH ORDINALITY AS v(e, t, r, d, u, ord)
        ORDER BY ord RETURNING id`,
      [slice.map((_, j) => endpointIds[i + j]), slice.map((p) => p.scannedAt), slice.map((_, j) => resultIds[i + j]), slice.map((p) => p.report.daysLeft ?? null), slice.map((p) => p.durationUs)],
    );
    // Identity values are drawn as the ordered rows are inserted: ascending ids are item order.
    for (const id of rows.map((r) => Number(r.id)).sort((a, b) => a - b)) scanIds.push(id);
  }
  // Per endpoint, the batch's candidate for its latest: the newest scan, the later item on a tie.
  const newest = new Map<number, number>();
  items.forEach((p, i) => {
    const e = endpointIds[i]!;
    const j = newest.get(e);
    if (j === undefined || items[j]!.scannedAt <= p.scannedAt) newest.set(e, i);
  });
  const moves = [...newest];
  for (let i = 0; i < moves.length; i += BATCH) {
    const slice = moves.slice(i, i + BATCH);
    // The current latest (before this batch: nothing below moved it yet) yields when not newer.
    await q.query(
      `UPDATE endpoints e SET last_scan_id = v.scan, status_json = v.j, status_table = v.t
        FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS v(id, scan, at, j, t)
        WHERE e.id = v.id AND (e.last_scan_id IS NULL OR (SELECT s.scanned_at FROM scans s WHERE s.id = e.last_scan_id) <= v.at)`,
      [slice.map(([e]) => e), slice.map(([, j]) => scanIds[j]), slice.map(([, j]) => items[j]!.scannedAt), slice.map(([, j]) => items[j]!.statusJson), slice.map(([, j]) => items[j]!.statusTable)],
    );
  }
  return scanIds;
}

/** How idsOf finds or makes the rows of one table: its key, its columns and their array types. */
interface KeyedTable {
  table: string;
  columns: readonly string[];
  types: readonly string[];
  /** How many leading columns are the key. */
  keyLength: number;
  /** A JS key for deduplicating rows in the batch. */
  jsKey(values: readonly unknown[]): string;
}

const ENDPOINT_KEY: KeyedTable = {
  table: 'endpoints', columns: ['domain', 'host', 'port', 'address', 'source'], types: ['text', 'text', 'int', 'text', 'text'], keyLength: 5,
  jsKey: (v) => JSON.stringify(v),
};

const RESULT_KEY: KeyedTable = {
  table: 'scan_results',
  columns: ['digest', 'status', 'not_after', 'fingerprint256', 'subject', 'issuer', 'protocol', 'order_known', 'openssl_error', 'cross_check_agrees',
    'cross_check_note', 'chain_json', 'added_json', 'path_json', 'path_refs', 'problems_json', 'error_code', 'error_message', 'report_extra_json'],
  types: ['bytea', 'text', 'text', 'text', 'text', 'text', 'text', 'int', 'text', 'int', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'],
  keyLength: 1,
  jsKey: (v) => (v[0] as Buffer).toString('hex'),
};

/**
 * The id of each row's key in `table`, inserting the keys not stored yet in order of first
 * appearance (under SCAN_WRITE_LOCK nobody else inserts meanwhile). One insert and one lookup per
 * BATCH distinct keys.
 */
async function idsOf(q: PgQueryable, rows: readonly (readonly unknown[])[], t: KeyedTable): Promise<number[]> {
  const distinct = new Map<string, readonly unknown[]>();
  for (const r of rows) {
    const k = t.jsKey(r);
    if (!distinct.has(k)) distinct.set(k, r);
  }
  const keys = [...distinct];
  const found = new Map<string, number>();
  const params = (slice: typeof keys, n: number) => Array.from({ length: n }, (_, c) => slice.map(([, r]) => r[c]));
  const arrays = (n: number) => t.types.slice(0, n).map((ty, c) => `$${c + 1}::${ty}[]`).join(', ');
  const names = (n: number) => t.columns.slice(0, n).join(', ');
  const match = t.columns.slice(0, t.keyLength).map((c) => `x.${c} = v.${c}`).join(' AND ');
  for (let i = 0; i < keys.length; i += BATCH) {
    const slice = keys.slice(i, i + BATCH);
    const n = t.columns.length;
    await q.query(
      `INSERT INTO ${t.table} (${names(n)})
        SELECT ${names(n)} FROM unnest(${arrays(n)}) WITH ORDINALITY AS v(${names(n)}, ord)
        WHERE NOT EXISTS (SELECT 1 FROM ${t.table} x WHERE ${match})
        ORDER BY ord`,
      params(slice, n),
    );
    const { rows: got } = await q.query<{ id: string; ord: string }>(
      `SELECT x.id, v.ord FROM unnest(${arrays(t.keyLength)}) WITH ORDINALITY AS v(${names(t.keyLength)}, ord)
        JOIN ${t.table} x ON ${match}`,
      params(slice, t.keyLength),
    );
    for (const g of got) found.set(slice[Number(g.ord) - 1]![0], Number(g.id));
  }
  return rows.map((r) => found.get(t.jsKey(r))!);
}

async function renderingCurrent(q: PgQueryable): Promise<boolean> {
  const { rows } = await q.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [STATUS_TEXT_META]);
  return rows[0]?.value === PG_STATUS_TEXT_RENDERING;
}

/**
 * At the start of every recording transaction (under SCAN_WRITE_LOCK), so the texts it writes and
 * the meta row naming their rendering agree: texts another rendering made are rendered again
 * first, BATCH endpoints per statement (once per store and rendering). One indexed read otherwise.
 */
async function ensureRendered(q: PgQueryable): Promise<void> {
  if (await renderingCurrent(q)) return;
  let after = 0;
  for (;;) {
    const { rows } = await q.query<ReportRow & { id: string }>(`SELECT e.id, ${columns(false)} ${LATEST_FROM} WHERE e.id > $1 ORDER BY e.id LIMIT ${BATCH}`, [after]);
    if (rows.length === 0) break;
    const reports = rows.map(toReport);
    await q.query(
      `UPDATE endpoints e SET status_json = v.j, status_table = v.t
        FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, j, t) WHERE e.id = v.id`,
      [rows.map((r) => r.id), reports.map((x) => renderStatusText(x, 'json')), reports.map((x) => renderStatusText(x, 'table'))],
    );
    after = Number(rows[rows.length - 1]!.id);
  }
  // An endpoint without a latest scan has no text to keep.
  await q.query('UPDATE endpoints SET status_json = NULL, status_table = NULL WHERE last_scan_id IS NULL AND (status_json IS NOT NULL OR status_table IS NOT NULL)');
  await q.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [STATUS_TEXT_META, PG_STATUS_TEXT_RENDERING]);
}

/** store/scans.ts toReports for one row, without the chain: the same fields in the same order. */
function toReport(r: ReportRow): EndpointReport {
  const problems = r.problems_json;
  // Key order is the order of `--json` output: identity, verdict, then details.
  const rep: EndpointReport = {
    domain: r.domain,
    host: r.host,
    port: Number(r.port),
    source: r.source,
    status: r.status,
    daysLeft: r.days_left === null ? null : Number(r.days_left),
    notAfter: r.not_after,
    fingerprint256: r.fingerprint256,
    issuer: r.issuer,
    subject: r.subject,
    problems: problems === '[]' ? [] : (JSON.parse(problems) as Problem[]),
    scannedAt: new Date(Number(r.scanned_at)).toISOString(),
  };
  if (r.address !== '') rep.address = r.address;
  if (r.protocol !== null) rep.protocol = r.protocol;
  if (r.order_known !== null) rep.orderKnown = Number(r.order_known) === 1;
  if (r.cross_check_agrees !== null) {
    rep.crossCheck = { openssl: r.openssl_error, agrees: Number(r.cross_check_agrees) === 1 };
    if (r.cross_check_note !== null) rep.crossCheck.note = r.cross_check_note;
  }
  if (r.report_extra_json !== null) Object.assign(rep, JSON.parse(r.report_extra_json) as Partial<EndpointReport>);
  return rep;
}

/** Served order first, then the certificates the analysis added (as in ChainAnalysis). */
function chainFingerprints(r: ReportRow): readonly string[] {
  const chain = r.chain_json ?? '[]';
  const added = r.added_json ?? '[]';
  const served = chain === '[]' ? [] : (JSON.parse(chain) as string[]);
  return added === '[]' ? served : served.concat(JSON.parse(added) as string[]);
}

/**
 * A status row's text (store/status-rows.ts StatusRow.text) of the report `latest()` reads: for
 * 'json' the report as JSON.stringify(doc, null, 2) writes it as an element of a list under a
 * top-level key (indented four spaces; strings hold no raw newline, JSON escapes them), for
 * 'table' the JSON array of the table's fields. null where SQLite's rendering leaves the row to
 * JS, so that both engines give the same rows (the caller then reads reportsById, whatever the
 * engine, and prints the same bytes).
 */
export function renderStatusText(report: EndpointReport, form: StatusForm): string | null {
  if (form === 'json') {
    if (sqliteLeavesJson(report)) return null;
    return `    ${JSON.stringify(report, null, 2).replace(/\n/g, '\n    ')}`;
  }
  if (sqliteLeavesTable(report)) return null;
  const extra = report as unknown as Record<string, unknown>;
  const codes = report.problems.length === 0 ? '' : report.problems.map((p) => p.code).join(', ');
  return JSON.stringify([report.daysLeft, report.notAfter, report.issuer, extra['error'] ?? null, extra['file'] ?? null, codes]);
}

/** A daysLeft SQLite's CAST(… AS INTEGER) writes as JS would: null or a whole number below 2^53. */
function wholeDays(d: number | null): boolean {
  return d === null || Number.isSafeInteger(d);
}

/** The report's fields stored in report_extra_json, as JSON.parse reads them back (null: none). */
function extraOf(report: EndpointReport): Record<string, unknown> | null {
  const json = extraFields(report);
  return json === null ? null : (JSON.parse(json) as Record<string, unknown>);
}

/**
 * STATUS_JSON's NULL cases (store/status-rows.ts): a fractional or huge daysLeft; an extra field
 * whose value is not a string, a whole number below 2^53, a boolean or null; or whose name starts
 * with a digit, is __proto__ or a column's. (Its problem rule, keys repeated in one object, cannot
 * happen to problems JSON.stringify wrote.)
 */
function sqliteLeavesJson(report: EndpointReport): boolean {
  if (!wholeDays(report.daysLeft)) return true;
  const extra = extraOf(report);
  if (extra === null) return false;
  for (const [k, v] of Object.entries(extra)) {
    if (/^[0-9]/.test(k) || k === '__proto__' || COLUMN_FIELDS.has(k)) return true;
    if (!(typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isSafeInteger(v)))) return true;
  }
  return false;
}

/** STATUS_TABLE's NULL cases: a fractional daysLeft, an extra __proto__, an error or file that is not a string, a problem without a string code. */
function sqliteLeavesTable(report: EndpointReport): boolean {
  if (!wholeDays(report.daysLeft)) return true;
  const extra = extraOf(report);
  if (extra !== null) {
    if (Object.prototype.hasOwnProperty.call(extra, '__proto__')) return true;
    for (const k of ['error', 'file']) {
      const v = extra[k];
      if (!(v === undefined || v === null || typeof v === 'string')) return true;
    }
  }
  return report.problems.some((p) => p === null || typeof p !== 'object' || Array.isArray(p) || typeof (p as { code?: unknown }).code !== 'string');
}

function keyParams(k: EndpointKey): unknown[] {
  return [k.domain, k.host, k.port, k.address ?? null, k.source ?? null];
}

/**
 * PgDb reports SQL errors as 'postgres'; what SQLite reports as a bad argument (a CHECK or NOT
 * NULL the report breaks, a value the column cannot hold: class 22 data exceptions and class 23
 * integrity violations) is 'invalid-argument' here too, naming what was being done.
 */
export function asStoreError(err: unknown, doing: string): StoreError {
  if (err instanceof StoreError) {
    const sqlstate = (err.cause as { code?: unknown } | undefined)?.code;
    if (err.code === 'postgres' && typeof sqlstate === 'string' && /^2[23]/.test(sqlstate)) {
      return new StoreError('invalid-argument', `${err.message} while ${doing}`, { cause: err.cause });
    }
    return err;
  }
  return new StoreError('postgres', `${doing} failed: ${String(err)}`, { cause: err });
}

const PUT_CERTS_SQL = `INSERT INTO certificates (fingerprint256, der, subject, issuer, not_before, not_after, info_json)
  SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
  ON CONFLICT (fingerprint256) DO UPDATE SET
    der = coalesce(certificates.der, excluded.der),
    subject = CASE WHEN certificates.info_json IS NULL THEN excluded.subject ELSE certificates.subject END,
    issuer = CASE WHEN certificates.info_json IS NULL THEN excluded.issuer ELSE certificates.issuer END,
    not_before = CASE WHEN certificates.info_json IS NULL THEN excluded.not_before ELSE certificates.not_before END,
    not_after = CASE WHEN certificates.info_json IS NULL THEN excluded.not_after ELSE certificates.not_after END,
    info_json = coalesce(certificates.info_json, excluded.info_json)
  WHERE (certificates.der IS NULL AND excluded.der IS NOT NULL)
     OR (certificates.info_json IS NULL AND excluded.info_json IS NOT NULL)`;

const PRUNE_SQL = `DELETE FROM scans WHERE id IN (
    SELECT id FROM (
      SELECT s.id, row_number() OVER (PARTITION BY s.endpoint_id ORDER BY s.scanned_at DESC, s.id DESC) AS n
      FROM scans s) ranked
    WHERE n > $1)
  AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.last_scan_id = scans.id)`;

const PRUNE_BEFORE_SQL = `DELETE FROM scans WHERE scanned_at < $1
  AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.last_scan_id = scans.id)`;

// A certificate no endpoint serves now keeps its decoded info, not its bytes (store/scans.ts).
const DROP_HISTORY_DER_SQL = `UPDATE certificates SET der = NULL
  WHERE der IS NOT NULL AND info_json IS NOT NULL AND fingerprint256 NOT IN (
    SELECT j.fp FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id,
      json_array_elements_text(r.chain_json::json) AS j(fp))`;

const DELETE_UNUSED_RESULTS_SQL = `DELETE FROM scan_results r WHERE NOT EXISTS (SELECT 1 FROM scans s WHERE s.result_id = r.id)`;

const DELETE_UNUSED_CERTS_SQL = `DELETE FROM certificates WHERE fingerprint256 NOT IN (
  SELECT j.fp FROM scan_results r, json_array_elements_text(r.chain_json::json) AS j(fp)
  UNION SELECT j.fp FROM scan_results r, json_array_elements_text(r.added_json::json) AS j(fp)
  UNION SELECT fingerprint256 FROM scan_results WHERE fingerprint256 IS NOT NULL
  UNION SELECT fingerprint256 FROM issued
  UNION SELECT fingerprint256 FROM deployments WHERE fingerprint256 IS NOT NULL)`;
