import * as nodeCrypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreError } from '../core/errors.js';
import type { CertInfo, EndpointReport } from '../core/model.js';
import type { Problem, Status } from '../core/problems.js';
import { wrapSqliteError, type Db } from './db.js';
import { COLUMN_FIELDS, RENDER_ALL_SQL, RENDER_LATEST_SET, STATUS_TEXT_META, STATUS_TEXT_RENDERING, parseStatusRows, statusParam, statusRowsSql, type StatusForm, type StatusRow, type StatusTarget } from './status-rows.js';

export { parseStatusRows, statusParam, type StatusForm, type StatusRow, type StatusTarget } from './status-rows.js';

/** Identifies a stored endpoint. `address` and `source` narrow the match when given. */
export interface EndpointKey {
  domain: string;
  host: string;
  port: number;
  address?: string;
  source?: 'tls' | 'file';
}

export interface RecordExtra {
  /** The chosen trust path (e.g. ChainAnalysis.path), stored as JSON for the detail view. */
  path?: unknown;
  /**
   * The probe failure, if any. When omitted it is taken from the first unreachable / timeout /
   * handshake-failed problem of the report.
   */
  error?: { code: string; message: string } | null;
  durationMs?: number | null;
}

export interface RecordItem {
  report: EndpointReport;
  /** The served certificates in the order received (ProbeResult.chain). */
  chainDer: readonly Buffer[];
  extra?: RecordExtra;
}

export interface ReadOptions {
  /**
   * Also rebuild `chain` (served certificates in served order, then those the analysis added).
   * Off by default: the table view does not need it, and at 10k endpoints it is most of the
   * decoding work (one CertInfo per distinct certificate).
   */
  withChain?: boolean;
}

export interface LatestFilter extends ReadOptions {
  /** Only these domains (the inventory's primary names). */
  domains?: readonly string[];
}

/** What a prune deleted. */
export interface PruneCounts {
  scans: number;
  /** Distinct scan results (see migration 7) no scan refers to any more. */
  results: number;
  certificates: number;
}

/** Everything stored about one scan, for a detail view. */
export interface ScanDetail {
  scanId: number;
  report: EndpointReport;
  path: unknown;
  error: { code: string; message: string } | null;
  durationMs: number | null;
}


const PROBE_ERROR_CODES: ReadonlySet<string> = new Set(['unreachable', 'timeout', 'handshake-failed']);

/**
 * Scans and the certificates they saw. Certificates are stored once per fingerprint; each scan
 * keeps the served order as a JSON array of fingerprints. Writes are IMMEDIATE transactions so a
 * concurrent writer makes us wait (busy timeout) instead of failing on a lock upgrade.
 *
 * Reports returned by `latest`/`history` share CertInfo objects between them (an intermediate
 * served by 10,000 endpoints is decoded once): treat them as read-only.
 */
export class ScanRepository {
  private readonly db: Db;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly recordManyTx: Database.Transaction<(items: readonly RecordItem[]) => number[]>;

  constructor(db: Db) {
    this.db = db;
    this.recordManyTx = db.transaction((items: readonly RecordItem[]) => {
      this.ensureRendered();
      // Within one transaction an intermediate shared by many endpoints is written once;
      // the upsert still guards against rows from earlier transactions.
      const written = new Map<string, number>();
      return items.map((item) => this.insertOne(item, written));
    });
  }

  /**
   * Stores one scan: its certificates (deduplicated), the endpoint (created on first sight) and
   * the scan row, all in one transaction. Returns the scan id.
   *
   * The store does not parse certificates: each DER's CertInfo is looked up in `report.chain` by
   * fingerprint256. A DER without one (unparseable) is kept as bytes only; chain entries that
   * were not served (trust-store certificates the analysis added) are kept as info only. Reading
   * back gives `chain` = served certificates that have info, in served order, then the added ones.
   *
   * Report fields without a column (e.g. `file`, `error`) are kept as JSON and restored as they
   * were. A report without `scannedAt` is stamped with the current time. The endpoint's "latest"
   * only moves forward: recording an older scan adds history without hiding a newer one.
   */
  record(report: EndpointReport, chainDer: readonly Buffer[], extra?: RecordExtra): number {
    return this.recordMany([{ report, chainDer, extra }])[0]!;
  }

  /** Like `record` for many scans, in ONE transaction: all are stored or none. Returns scan ids in order. */
  recordMany(items: readonly RecordItem[]): number[] {
    if (items.length === 0) return [];
    try {
      return this.recordManyTx.immediate(items);
    } catch (err) {
      throw this.wrap(err, `recording ${items.length === 1 ? 'a scan' : `${items.length} scans`}`);
    }
  }

  /**
   * The newest scan of every stored endpoint, ordered by domain, host, port, address, source.
   * One query (plus one for the chain certificates when `withChain`), whatever the count.
   */
  latest(filter: LatestFilter = {}): EndpointReport[] {
    const withChain = filter.withChain === true;
    try {
      let rows: Row[];
      if (filter.domains) {
        const sql = latestSql(withChain, 'WHERE e.domain IN (SELECT value FROM json_each(?))');
        rows = this.stmt(`latestByDomain:${withChain}`, sql).raw().all(JSON.stringify(filter.domains)) as Row[];
      } else {
        rows = this.stmt(`latest:${withChain}`, latestSql(withChain, '')).raw().all() as Row[];
      }
      return this.toReports(rows, withChain);
    } catch (err) {
      throw this.wrap(err, 'reading the latest scans');
    }
  }

  /**
   * The newest scan of every stored endpoint of these targets, in target order (one target's
   * rows in no particular order), for `status` at fleet size. The whole answer is one string
   * from SQLite (per row: its key fields, then the report serialised; store/status-rows.ts),
   * where `latest()` reads ~19 values a row, which better-sqlite3 turns into JS values at
   * ~0.4 µs each. Ask for a few hundred targets at a time. Rows whose `text` is null are read
   * with `reportsById`.
   */
  statusRows(targets: readonly StatusTarget[], form: StatusForm = 'json'): StatusRow[] {
    return parseStatusRows(this.statusText(targets, form));
  }

  /** statusRows as SQLite's one string (null: no rows), for parseStatusRows; `targets` may be statusParam's string. */
  statusText(targets: readonly StatusTarget[] | string, form: StatusForm = 'json'): string | null {
    const param = typeof targets === 'string' ? targets : statusParam(targets);
    try {
      const stored = this.storedRenderingCurrent();
      return this.stmt(`statusRows:${form}:${stored}`, statusRowsSql(form, stored)).pluck().get(param) as string | null;
    } catch (err) {
      throw this.wrap(err, 'reading the latest scans');
    }
  }

  /** Whether endpoints' stored texts were made by this build's rendering (else they are not read). */
  private storedRenderingCurrent(): boolean {
    const v = this.stmt('renderingMeta', 'SELECT value FROM meta WHERE key = ?').pluck().get(STATUS_TEXT_META) as string | undefined;
    return v === STATUS_TEXT_RENDERING;
  }

  /**
   * At the start of every recording transaction, so the texts it writes and the meta row naming
   * their rendering always agree: texts made by another rendering (another certs version sharing
   * the store, or none yet after migration 9) are rendered again first (~1 s at 100,000 endpoints,
   * once per store and rendering). One indexed read otherwise.
   */
  private ensureRendered(): void {
    if (this.storedRenderingCurrent()) return;
    this.stmt('renderAll', RENDER_ALL_SQL).run();
    this.stmt('renderingSet', 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(STATUS_TEXT_META, STATUS_TEXT_RENDERING);
  }

  /** The newest scan of each of these endpoints (ids from `statusRows`), as `latest()` reads it. */
  reportsById(ids: readonly number[], opts: ReadOptions = {}): Map<number, EndpointReport> {
    const withChain = opts.withChain === true;
    const map = new Map<number, EndpointReport>();
    if (ids.length === 0) return map;
    try {
      const sql = `SELECT e.id, ${columns(withChain)}
        FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id
        WHERE e.id IN (SELECT value FROM json_each(?))`;
      const rows = this.stmt(`byId:${withChain}`, sql).raw().all(JSON.stringify(ids)) as Row[];
      const reports = this.toReports(rows.map((r) => r.slice(1)), withChain);
      for (let i = 0; i < rows.length; i++) map.set(rows[i]![0] as number, reports[i]!);
      return map;
    } catch (err) {
      throw this.wrap(err, 'reading the latest scans');
    }
  }

  /**
   * Past scans of one endpoint, newest first. Without `address`/`source` in the key, scans of
   * every endpoint with that domain, host and port are merged.
   */
  history(endpoint: EndpointKey, limit = 20, opts: ReadOptions = {}): EndpointReport[] {
    const withChain = opts.withChain === true;
    try {
      const sql = `SELECT ${columns(withChain)}
        FROM endpoints e JOIN scans s ON s.endpoint_id = e.id JOIN scan_results r ON r.id = s.result_id
        WHERE ${KEY_WHERE}
        ORDER BY s.scanned_at DESC, s.id DESC
        LIMIT @limit`;
      const rows = this.stmt(`history:${withChain}`, sql).raw().all({ ...keyParams(endpoint), limit }) as Row[];
      return this.toReports(rows, withChain);
    } catch (err) {
      throw this.wrap(err, 'reading scan history');
    }
  }

  /** The newest scan of one endpoint with its chain, path and probe error; null if never scanned. */
  detail(endpoint: EndpointKey): ScanDetail | null {
    try {
      const row = this.stmt('detail', DETAIL_SQL).raw().get(keyParams(endpoint)) as Row | undefined;
      if (!row) return null;
      const [report] = this.toReports([row], true);
      const at = DETAIL_AT;
      const errorCode = row[at + 1] as string | null;
      const durationUs = row[at + 3] as number | null;
      return {
        scanId: row[at + 4] as number,
        report: report!,
        path: decodePath(row[at] as string | null, row[at + 5] as string | null, chainFingerprints(row)),
        error: errorCode === null ? null : { code: errorCode, message: (row[at + 2] as string | null) ?? '' },
        durationMs: durationUs === null ? null : durationUs / 1000,
      };
    } catch (err) {
      throw this.wrap(err, 'reading a scan');
    }
  }

  /**
   * Keeps the newest `keepPerEndpoint` scans of each endpoint (never the latest one) and deletes
   * the rest. Certificates stay: they are small and a later scan may serve them again.
   * Returns the number of scans deleted.
   */
  pruneHistory(keepPerEndpoint: number): number {
    if (!Number.isInteger(keepPerEndpoint) || keepPerEndpoint < 1) {
      throw new StoreError('invalid-argument', `pruneHistory: keepPerEndpoint must be an integer ≥ 1, got ${keepPerEndpoint}`);
    }
    try {
      return this.db
        .transaction(() => {
          const deleted = this.stmt('prune', PRUNE_SQL).run(keepPerEndpoint).changes;
          if (deleted > 0) this.stmt('unusedResults', DELETE_UNUSED_RESULTS_SQL).run();
          return deleted;
        })
        .immediate();
    } catch (err) {
      throw this.wrap(err, 'pruning scan history');
    }
  }

  /**
   * Retention by age: deletes every scan older than `cutoff` except each endpoint's latest (an
   * endpoint scanned last a year ago still shows what it served then), then the results and
   * certificates no remaining scan refers to. Certificates named by `issued` or `deployments`
   * stay too. One IMMEDIATE transaction; returns what was deleted.
   */
  pruneBefore(cutoff: Date): PruneCounts {
    const cutoffMs = cutoff.getTime();
    if (!Number.isFinite(cutoffMs)) throw new StoreError('invalid-argument', `pruneBefore: cutoff must be a valid date, got ${String(cutoff)}`);
    try {
      return this.db
        .transaction((): PruneCounts => {
          const scans = this.stmt('pruneBefore', PRUNE_BEFORE_SQL).run(cutoffMs).changes;
          this.stmt('dropHistoryDer', DROP_HISTORY_DER_SQL).run();
          // Nothing deleted, nothing newly unreferenced: skip the two full passes.
          if (scans === 0) return { scans: 0, results: 0, certificates: 0 };
          const results = this.stmt('unusedResults', DELETE_UNUSED_RESULTS_SQL).run().changes;
          const certificates = results === 0 ? 0 : this.stmt('unusedCerts', DELETE_UNUSED_CERTS_SQL).run().changes;
          return { scans, results, certificates };
        })
        .immediate();
    } catch (err) {
      throw this.wrap(err, 'pruning scan history');
    }
  }

  private insertOne(item: RecordItem, written: Map<string, number>): number {
    const { report, chainDer, extra } = item;
    const infos = new Map<string, CertInfo>();
    for (const info of report.chain ?? []) infos.set(info.fingerprint256.toUpperCase(), info);

    const served: string[] = [];
    for (const der of chainDer) {
      const fp = fingerprint256(der);
      served.push(fp);
      // No CertInfo means the analysis could not parse it: keep the bytes, they are the evidence.
      this.putCert(fp, der, infos.get(fp) ?? null, written);
    }
    const added: string[] = [];
    for (const [fp, info] of infos) {
      if (served.includes(fp)) continue;
      added.push(fp);
      this.putCert(fp, null, info, written);
    }

    const address = report.address ?? '';
    let endpointId = this.stmt('findEndpoint', FIND_ENDPOINT_SQL).pluck().get(report.domain, report.host, report.port, address, report.source) as
      | number
      | undefined;
    if (endpointId === undefined) {
      endpointId = this.stmt('insertEndpoint', INSERT_ENDPOINT_SQL).pluck().get(report.domain, report.host, report.port, address, report.source) as number;
    }

    const scannedAt = scanTime(report.scannedAt, report);
    // Column order of INSERT_RESULT_SQL after the digest.
    const content = resultContent(report, served, added, extra);
    // What a scan found is stored once: tomorrow's scan of an unchanged endpoint reuses today's row.
    const digest = sha256(JSON.stringify(content));
    let resultId = this.stmt('findResult', FIND_RESULT_SQL).pluck().get(digest) as number | undefined;
    resultId ??= this.stmt('insertResult', INSERT_RESULT_SQL).pluck().get(digest, ...content) as number;
    const scanId = this.stmt('insertScan', INSERT_SCAN_SQL)
      .pluck()
      .get(endpointId, scannedAt, resultId, report.daysLeft ?? null, durationUs(extra?.durationMs)) as number;
    this.stmt('setLatest', SET_LATEST_SQL).run({ scanId, endpointId, scannedAt });
    return scanId;
  }

  /** `written` remembers, per fingerprint, what this transaction already stored (HAS_DER | HAS_INFO). */
  private putCert(fp: string, der: Buffer | null, info: CertInfo | null, written: Map<string, number>): void {
    const want = (der ? HAS_DER : 0) | (info ? HAS_INFO : 0);
    const have = written.get(fp) ?? 0;
    if ((have & want) === want) return;
    this.stmt('putCert', PUT_CERT_SQL).run(
      fp,
      der,
      info?.subject ?? null,
      info?.issuer ?? null,
      info?.notBefore ?? null,
      info?.notAfter ?? null,
      info ? JSON.stringify(info) : null,
    );
    written.set(fp, have | want);
  }

  private toReports(rows: readonly Row[], withChain: boolean): EndpointReport[] {
    const chains = withChain ? rows.map(chainFingerprints) : null;
    const certs = chains ? this.loadCerts(chains) : null;
    const out = new Array<EndpointReport>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const problems = r[C.problems] as string;
      // Key order is the order of `--json` output: identity, verdict, then details.
      const rep: EndpointReport = {
        domain: r[C.domain] as string,
        host: r[C.host] as string,
        port: r[C.port] as number,
        source: r[C.source] as EndpointReport['source'],
        status: r[C.status] as Status,
        daysLeft: r[C.daysLeft] as number | null,
        notAfter: r[C.notAfter] as string | null,
        fingerprint256: r[C.fingerprint256] as string | null,
        issuer: r[C.issuer] as string | null,
        subject: r[C.subject] as string | null,
        // Most endpoints are fine: skip the parser for them.
        problems: problems === '[]' ? [] : (JSON.parse(problems) as Problem[]),
        scannedAt: new Date(r[C.scannedAt] as number).toISOString(),
      };
      // Optional fields are present only when known, as in the reports that were recorded.
      if (r[C.address] !== '') rep.address = r[C.address] as string;
      if (r[C.protocol] !== null) rep.protocol = r[C.protocol] as string;
      if (r[C.orderKnown] !== null) rep.orderKnown = r[C.orderKnown] === 1;
      if (r[C.crossAgrees] !== null) {
        rep.crossCheck = { openssl: r[C.openssl] as string | null, agrees: r[C.crossAgrees] === 1 };
        if (r[C.crossNote] !== null) rep.crossCheck.note = r[C.crossNote] as string;
      }
      if (r[C.extra] !== null) Object.assign(rep, JSON.parse(r[C.extra] as string) as Partial<EndpointReport>);
      if (chains && certs) {
        const chain: CertInfo[] = [];
        for (const fp of chains[i]!) {
          // A served certificate that could not be parsed has bytes but no CertInfo to show.
          const info = certs.get(fp);
          if (info) chain.push(info);
        }
        rep.chain = chain;
      }
      out[i] = rep;
    }
    return out;
  }

  /** One query for every distinct certificate of these chains, each decoded once. */
  private loadCerts(chains: readonly (readonly string[])[]): Map<string, CertInfo> {
    const wanted = new Set<string>();
    for (const c of chains) for (const fp of c) wanted.add(fp);
    const map = new Map<string, CertInfo>();
    if (wanted.size === 0) return map;
    const rows = this.stmt('certsByFp', CERTS_BY_FP_SQL).raw().all(JSON.stringify([...wanted])) as [string, string | null][];
    for (const [fp, json] of rows) if (json !== null) map.set(fp, JSON.parse(json) as CertInfo);
    return map;
  }

  private stmt(key: string, sql: string): Database.Statement {
    // Prepared lazily: a read-only `status` never compiles the write statements.
    let s = this.statements.get(key);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(key, s);
    }
    return s;
  }

  private wrap(err: unknown, doing: string): StoreError {
    const busyTimeoutMs = this.db.open ? (this.db.pragma('busy_timeout', { simple: true }) as number) : 0;
    return wrapSqliteError(err, { path: this.db.name, busyTimeoutMs }, doing);
  }
}

const HAS_DER = 1;
const HAS_INFO = 2;


/** A result row in `.raw()` form: arrays are cheaper than objects to build at 10k rows. */
type Row = unknown[];

const REPORT_COLUMNS = [
  'e.domain', 'e.host', 'e.port', 'e.address', 'e.source', 's.scanned_at', 'r.status', 's.days_left',
  'r.not_after', 'r.fingerprint256', 'r.subject', 'r.issuer', 'r.protocol', 'r.order_known',
  'r.openssl_error', 'r.cross_check_agrees', 'r.cross_check_note', 'r.problems_json', 'r.report_extra_json',
  // Only selected with the chain:
  'r.chain_json', 'r.added_json',
] as const;

/** Positions in REPORT_COLUMNS. */
const C = {
  domain: 0, host: 1, port: 2, address: 3, source: 4, scannedAt: 5, status: 6, daysLeft: 7,
  notAfter: 8, fingerprint256: 9, subject: 10, issuer: 11, protocol: 12, orderKnown: 13,
  openssl: 14, crossAgrees: 15, crossNote: 16, problems: 17, extra: 18, chain: 19, added: 20,
} as const;

function columns(withChain: boolean): string {
  return (withChain ? REPORT_COLUMNS : REPORT_COLUMNS.slice(0, C.chain)).join(', ');
}

// Walks endpoints in UNIQUE-index order and joins each to its newest scan by primary key: no
// per-group max over the history, no sort step.
function latestSql(withChain: boolean, where: string): string {
  return `SELECT ${columns(withChain)}
    FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id
    ${where}
    ORDER BY e.domain, e.host, e.port, e.address, e.source`;
}


const KEY_WHERE = `e.domain = @domain AND e.host = @host AND e.port = @port
  AND (@address IS NULL OR e.address = @address) AND (@source IS NULL OR e.source = @source)`;

/** Where the detail columns start in a DETAIL_SQL row. */
const DETAIL_AT = REPORT_COLUMNS.length;

const DETAIL_SQL = `SELECT ${columns(true)}, r.path_json, r.error_code, r.error_message, s.duration_us, s.id, r.path_refs
  FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id
  WHERE ${KEY_WHERE}
  ORDER BY s.scanned_at DESC, s.id DESC
  LIMIT 1`;

const CERTS_BY_FP_SQL = `SELECT fingerprint256, info_json FROM certificates
  WHERE fingerprint256 IN (SELECT value FROM json_each(?))`;

// Fills in whichever half (bytes or decoded info) an earlier scan could not supply; a row that
// is already complete is left alone without a write (the WHERE of the DO UPDATE).
const PUT_CERT_SQL = `INSERT INTO certificates
  (fingerprint256, der, subject, issuer, not_before, not_after, info_json) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (fingerprint256) DO UPDATE SET
    der = coalesce(certificates.der, excluded.der),
    subject = iif(certificates.info_json IS NULL, excluded.subject, certificates.subject),
    issuer = iif(certificates.info_json IS NULL, excluded.issuer, certificates.issuer),
    not_before = iif(certificates.info_json IS NULL, excluded.not_before, certificates.not_before),
    not_after = iif(certificates.info_json IS NULL, excluded.not_after, certificates.not_after),
    info_json = coalesce(certificates.info_json, excluded.info_json)
  WHERE (certificates.der IS NULL AND excluded.der IS NOT NULL)
     OR (certificates.info_json IS NULL AND excluded.info_json IS NOT NULL)`;

const FIND_ENDPOINT_SQL = `SELECT id FROM endpoints
  WHERE domain = ? AND host = ? AND port = ? AND address = ? AND source = ?`;

const INSERT_ENDPOINT_SQL = `INSERT INTO endpoints (domain, host, port, address, source)
  VALUES (?, ?, ?, ?, ?) RETURNING id`;

const FIND_RESULT_SQL = 'SELECT id FROM scan_results WHERE digest = ?';

const INSERT_RESULT_SQL = `INSERT INTO scan_results (digest, status, not_after, fingerprint256, subject,
  issuer, protocol, order_known, openssl_error, cross_check_agrees, cross_check_note, chain_json,
  added_json, path_json, path_refs, problems_json, error_code, error_message, report_extra_json)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`;

const INSERT_SCAN_SQL = `INSERT INTO scans (endpoint_id, scanned_at, result_id, days_left, duration_us)
  VALUES (?, ?, ?, ?, ?) RETURNING id`;

// Ties go to the scan recorded last, so re-recording the same instant updates "latest".
const SET_LATEST_SQL = `UPDATE endpoints SET last_scan_id = @scanId, ${RENDER_LATEST_SET}
  WHERE id = @endpointId AND (last_scan_id IS NULL
    OR (SELECT scanned_at FROM scans WHERE id = endpoints.last_scan_id) <= @scannedAt)`;

const PRUNE_SQL = `DELETE FROM scans WHERE id IN (
  SELECT id FROM (
    SELECT s.id, row_number() OVER (PARTITION BY s.endpoint_id ORDER BY s.scanned_at DESC, s.id DESC) AS n
    FROM scans s)
  WHERE n > ?)
  AND id NOT IN (SELECT last_scan_id FROM endpoints WHERE last_scan_id IS NOT NULL)`;

// One pass over the slim scan rows (~30 bytes each): cheaper than an index on the time.
const PRUNE_BEFORE_SQL = `DELETE FROM scans WHERE scanned_at < ?
  AND id NOT IN (SELECT last_scan_id FROM endpoints WHERE last_scan_id IS NOT NULL)`;

// A certificate that no endpoint serves any more (no latest scan names it) keeps its decoded
// info for the history views, not its bytes: certs never reads the DER back, it is evidence of
// what is served now, and it is most of a certificate row. Served again, it gets its bytes back
// (PUT_CERT_SQL fills in a missing half).
const DROP_HISTORY_DER_SQL = `UPDATE certificates SET der = NULL
  WHERE der IS NOT NULL AND info_json IS NOT NULL AND fingerprint256 NOT IN (
    SELECT j.value FROM endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id, json_each(r.chain_json) j)`;

const DELETE_UNUSED_RESULTS_SQL = `DELETE FROM scan_results WHERE id NOT IN (SELECT result_id FROM scans)`;

// The certificates table only serves scans (chains, added trust-store certificates, leaves);
// issued and deployments keep their own columns but are spared anyway, as nothing requires
// their rows to go.
const DELETE_UNUSED_CERTS_SQL = `DELETE FROM certificates WHERE fingerprint256 NOT IN (
  SELECT j.value FROM scan_results r, json_each(r.chain_json) j
  UNION SELECT j.value FROM scan_results r, json_each(r.added_json) j
  UNION SELECT fingerprint256 FROM scan_results WHERE fingerprint256 IS NOT NULL
  UNION SELECT fingerprint256 FROM issued
  UNION SELECT fingerprint256 FROM deployments WHERE fingerprint256 IS NOT NULL)`;

function keyParams(k: EndpointKey): Record<string, string | number | null> {
  return { domain: k.domain, host: k.host, port: k.port, address: k.address ?? null, source: k.source ?? null };
}

// crypto.hash (one-shot, about twice as fast at 30k certificates per run) appeared in Node 20.12;
// `engines` allows 20.9, so fall back to createHash there.
const sha256Hex: (data: Buffer) => string =
  typeof nodeCrypto.hash === 'function'
    ? (data) => nodeCrypto.hash('sha256', data, 'hex')
    : (data) => nodeCrypto.createHash('sha256').update(data).digest('hex');

/** The form node:crypto's X509Certificate.fingerprint256 uses: upper-case hex, colon-separated. */
export function fingerprint256(der: Buffer): string {
  const hex = sha256Hex(der).toUpperCase();
  let out = hex.slice(0, 2);
  for (let i = 2; i < hex.length; i += 2) out += ':' + hex.slice(i, i + 2);
  return out;
}

/** Served order first, then the certificates the analysis added (as in ChainAnalysis). */
function chainFingerprints(r: Row): readonly string[] {
  const chain = r[C.chain] as string;
  const added = r[C.added] as string;
  const served = chain === '[]' ? [] : (JSON.parse(chain) as string[]);
  return added === '[]' ? served : served.concat(JSON.parse(added) as string[]);
}

export function extraFields(report: EndpointReport): string | null {
  let extra: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(report)) {
    if (v !== undefined && !COLUMN_FIELDS.has(k)) (extra ??= {})[k] = v;
  }
  return extra === null ? null : JSON.stringify(extra);
}

export function probeError(problems: readonly Problem[]): { code: string; message: string } | null {
  const p = problems.find((x) => PROBE_ERROR_CODES.has(x.code));
  return p ? { code: p.code, message: p.message } : null;
}

/** Milliseconds since the epoch (migration 7): read back as canonical ISO (toISOString). */
export function scanTime(value: string | null, report: EndpointReport): number {
  if (value === null) return Date.now();
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new StoreError('invalid-argument', `scan of ${report.host}:${report.port}: scannedAt ${JSON.stringify(value)} is not an ISO 8601 time`);
  }
  return t;
}

/** Whole microseconds: an integer takes 3 bytes where a fractional REAL takes 8, on every scan row. */
export function durationUs(ms: number | null | undefined): number | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : Math.round(ms * 1000);
}

/**
 * The chain analysis's path (entries {fingerprint256, source, anchor} in that key order, each
 * naming a certificate of `fps`) as [index, source, anchor] triples; anything else as plain JSON.
 * Returns [path_json, path_refs]; decodePath gives back an equal value.
 */
export function encodePath(path: unknown, fps: readonly string[]): [string | null, string | null] {
  if (path === undefined) return [null, null];
  const plain: [string, null] = [JSON.stringify(path), null];
  if (!Array.isArray(path) || path.length === 0) return plain;
  const refs: [number, string, boolean][] = [];
  for (const e of path as unknown[]) {
    if (e === null || typeof e !== 'object') return plain;
    const keys = Object.keys(e);
    if (keys.length !== 3 || keys[0] !== 'fingerprint256' || keys[1] !== 'source' || keys[2] !== 'anchor') return plain;
    const { fingerprint256: fp, source, anchor } = e as Record<string, unknown>;
    const i = typeof fp === 'string' ? fps.indexOf(fp) : -1;
    if (i < 0 || typeof source !== 'string' || typeof anchor !== 'boolean') return plain;
    refs.push([i, source, anchor]);
  }
  return [null, JSON.stringify(refs)];
}

export function decodePath(pathJson: string | null, pathRefs: string | null, fps: readonly string[]): unknown {
  if (pathRefs !== null) {
    return (JSON.parse(pathRefs) as [number, string, boolean][]).map(([i, source, anchor]) => ({ fingerprint256: fps[i], source, anchor }));
  }
  return pathJson === null ? null : (JSON.parse(pathJson) as unknown);
}

export function sha256(text: string): Buffer {
  return nodeCrypto.createHash('sha256').update(text).digest();
}

/**
 * What a scan found, as the values of a `scan_results` row after its digest, in column order.
 * Both engines digest exactly these values, so a store moved between them shares result rows.
 */
export function resultContent(report: EndpointReport, served: readonly string[], added: readonly string[], extra: RecordExtra | undefined): unknown[] {
  const error = extra?.error !== undefined ? extra.error : probeError(report.problems);
  const cross = report.crossCheck ?? null;
  return [
    report.status,
    report.notAfter ?? null,
    report.fingerprint256 ?? null,
    report.subject ?? null,
    report.issuer ?? null,
    report.protocol ?? null,
    report.orderKnown === undefined ? null : report.orderKnown ? 1 : 0,
    cross?.openssl ?? null,
    cross === null ? null : cross.agrees ? 1 : 0,
    cross?.note ?? null,
    served.length === 0 ? '[]' : JSON.stringify(served),
    added.length === 0 ? '[]' : JSON.stringify(added),
    ...encodePath(extra?.path, added.length === 0 ? served : served.concat(added)),
    report.problems.length === 0 ? '[]' : JSON.stringify(report.problems),
    error?.code ?? null,
    error?.message ?? null,
    extraFields(report),
  ];
}
