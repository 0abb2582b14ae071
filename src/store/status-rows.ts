/**
 * What `certs status` reads of the store at fleet size (issue 12 §6): the latest scan of each
 * target, a few hundred targets per query, packed by SQLite into one string.
 *
 * - The report of a row is serialised by SQLite (STATUS_JSON for `--json`, STATUS_TABLE for the
 *   table) where it can be written exactly as JS would write it; otherwise the text is empty and
 *   the caller reads the report itself (ScanRepository.reportsById).
 * - Those texts are rendered when a scan becomes an endpoint's latest (ScanRepository's
 *   SET_LATEST) and kept in endpoints.status_json / status_table (migration 9): at 100,000
 *   endpoints, rendering them on every `status` was most of its SQL time. The meta row
 *   STATUS_TEXT_META names the rendering they were made with (a hash of the two expressions); a
 *   store whose texts another rendering made is read with the live expressions until a writer
 *   renders them again (ScanRepository.ensureRendered), so a stored text is never stale.
 */
import { createHash } from 'node:crypto';
import type { Status } from '../core/problems.js';

/** Fields of EndpointReport stored in columns of their own; the rest go to report_extra_json. */
export const COLUMN_FIELDS: ReadonlySet<string> = new Set([
  'domain', 'host', 'port', 'address', 'source', 'status', 'daysLeft', 'notAfter', 'fingerprint256',
  'issuer', 'subject', 'problems', 'scannedAt', 'protocol', 'orderKnown', 'crossCheck', 'chain',
]);

/** An endpoint `status` shows, without its address: every address row of it is read. */
export interface StatusTarget {
  domain: string;
  host: string;
  port: number;
  source: 'tls' | 'file';
  /** The fingerprint of the domain's newest issued certificate, if any: rows serving another are `touched`. */
  issued?: string | null;
}

/**
 * What `status` needs of one stored row to place and count it, with the report already
 * serialised where SQLite can write it.
 */
export interface StatusRow {
  /** Index of its target in the list given to `statusRows`. */
  target: number;
  /** The endpoint's row id: `reportsById` reads its full report. */
  id: number;
  /** Absent when the endpoint has no address, as in its report. */
  address?: string;
  /** scanned_at, milliseconds since the epoch (the report's scannedAt is its toISOString()). */
  scannedAtMs: number;
  status: Status;
  /** It serves a certificate other than the target's `issued` one. */
  touched: boolean;
  /**
   * The row as the form asked for, or null when only the report itself can say
   * (problems, or a field SQLite cannot write the way JS would): for 'json' the report `latest()`
   * would return, without its chain, as `JSON.stringify(doc, null, 2)` prints it as an element of
   * a list under a key of the top-level object (its `{` after four spaces, no comma, no newline
   * at either end); for 'table' a JSON array [daysLeft, notAfter, issuer, error, file, problem
   * codes joined by ", "], the report's fields the status table shows.
   */
  text: string | null;
}

/** What a status row carries: the `--json` report, or the status table's fields. */
export type StatusForm = 'json' | 'table';

/** report_extra_json's fields as `,\n      "key": value` lines in stored order; NULL when JS must write them (a whole number JS cannot hold exactly among them). */
const EXTRA_FIELDS = `CASE WHEN r.report_extra_json IS NULL THEN ''
  WHEN json_valid(r.report_extra_json) AND json_type(r.report_extra_json) = 'object' THEN (
    SELECT iif(count(*) = 0 OR sum(j.type NOT IN ('text', 'integer', 'true', 'false', 'null')
        OR (j.type = 'integer' AND abs(j.value) >= 9007199254740992)
        OR j.key GLOB '[0-9]*' OR j.key = '__proto__' OR j.key IN (${[...COLUMN_FIELDS].map((f) => `'${f}'`).join(', ')})) > 0
        OR count(*) <> count(DISTINCT j.key), NULL,
      group_concat(',
      ' || json_quote(j.key) || ': ' || CASE j.type WHEN 'text' THEN json_quote(j.value) WHEN 'integer' THEN j.value ELSE j.type END, '' ORDER BY j.id))
    FROM json_each(r.report_extra_json) j)
  ELSE NULL END`;

/**
 * problems_json (JSON.stringify of the problems) that json_pretty writes as JSON.stringify(…,
 * null, 2) would after JSON.parse: a valid array whose objects repeat no key (JSON.parse keeps
 * the last, json_pretty every one). Numbers and strings keep their text, which JSON.stringify
 * wrote canonically; lines are indented to the problems' depth in the document (six spaces).
 */
const PROBLEMS_AS_JS = `json_valid(r.problems_json) AND json_type(r.problems_json) = 'array'
    AND (SELECT count(*) = count(DISTINCT j.fullkey) FROM json_tree(r.problems_json) j)`;

/**
 * The report serialised exactly as JSON.stringify(report, null, 2) would at list-element depth
 * (toReports gives the object: same fields, same order), or NULL when a value needs JS to be
 * written the same way: problems json_pretty cannot write as JS would (PROBLEMS_AS_JS), a REAL that is not a whole number, extra fields that are not strings, whole numbers, booleans or null, or whose names could be
 * ordered differently by JS (integer-like) or clash with a column (a NULL from EXTRA_FIELDS makes
 * the whole text NULL, which concat() then writes as nothing). A scanned_at outside years
 * 0000–9999 (which toISOString writes differently) is left to statusRows. orderKnown and
 * crossCheck.agrees need no check: `= 1` in SQL is `=== 1` of the number JS would read.
 * No status row field holds a raw U+001E or U+001F: JSON (json_quote), numbers and status words. json_quote writes every
 * character as JSON.stringify does (test/unit/service/status-json.test.ts checks every code point).
 */
const STATUS_JSON = `CASE WHEN (r.problems_json = '[]' OR (${PROBLEMS_AS_JS})) AND typeof(e.port) = 'integer'
    AND (s.days_left IS NULL OR (typeof(s.days_left) IN ('integer', 'real') AND abs(s.days_left) < 9007199254740992 AND s.days_left = CAST(s.days_left AS INTEGER)))
  THEN concat('    {
      "domain": ', json_quote(e.domain), ',
      "host": ', json_quote(e.host), ',
      "port": ', e.port, ',
      "source": ', json_quote(e.source), ',
      "status": ', json_quote(r.status), ',
      "daysLeft": ', ifnull(CAST(s.days_left AS INTEGER), 'null'), ',
      "notAfter": ', json_quote(r.not_after), ',
      "fingerprint256": ', json_quote(r.fingerprint256), ',
      "issuer": ', json_quote(r.issuer), ',
      "subject": ', json_quote(r.subject), ',
      "problems": ', iif(r.problems_json = '[]', '[]', replace(json_pretty(r.problems_json, '  '), char(10), char(10) || '      ')), ',
      "scannedAt": "', strftime('%Y-%m-%dT%H:%M:%S', s.scanned_at / 1000, 'unixepoch'), printf('.%03dZ"', s.scanned_at % 1000),
    iif(e.address = '', '', ',
      "address": ' || json_quote(e.address)),
    iif(r.protocol IS NULL, '', ',
      "protocol": ' || json_quote(r.protocol)),
    iif(r.order_known IS NULL, '', iif(r.order_known = 1, ',
      "orderKnown": true', ',
      "orderKnown": false')),
    iif(r.cross_check_agrees IS NULL, '', concat(',
      "crossCheck": {
        "openssl": ', json_quote(r.openssl_error), iif(r.cross_check_agrees = 1, ',
        "agrees": true', ',
        "agrees": false'), iif(r.cross_check_note IS NULL, '', ',
        "note": ' || json_quote(r.cross_check_note)), '
      }')))
    -- || rather than an argument of concat, which would take NULL for '' (see EXTRA_FIELDS).
    || (${EXTRA_FIELDS}) || '
    }'
  END`;

/**
 * The status table's fields of a report (cli/render.ts tableFields), or NULL where JS must read
 * them: a daysLeft that is not a whole number, extra fields that are not an object or whose
 * `error` or `file` is not a string (or that could set the report's prototype), problems whose
 * codes are not all strings. The error and file are the extra fields' (`->>` of the stored JSON,
 * which JSON.stringify wrote with each key once).
 */
const STATUS_TABLE = `CASE WHEN (s.days_left IS NULL OR (typeof(s.days_left) IN ('integer', 'real') AND abs(s.days_left) < 9007199254740992 AND s.days_left = CAST(s.days_left AS INTEGER)))
    AND (r.report_extra_json IS NULL OR (json_valid(r.report_extra_json) AND json_type(r.report_extra_json) = 'object'
      AND json_type(r.report_extra_json, '$."__proto__"') IS NULL
      AND ifnull(json_type(r.report_extra_json, '$.error'), 'text') IN ('text', 'null')
      AND ifnull(json_type(r.report_extra_json, '$.file'), 'text') IN ('text', 'null')))
    AND (r.problems_json = '[]' OR (json_valid(r.problems_json) AND json_type(r.problems_json) = 'array'
      AND NOT EXISTS (SELECT 1 FROM json_each(r.problems_json) j WHERE json_type(j.value, '$.code') IS NOT 'text')))
  THEN json_array(CAST(s.days_left AS INTEGER), r.not_after, r.issuer, r.report_extra_json ->> '$.error', r.report_extra_json ->> '$.file',
    iif(r.problems_json = '[]', '', (SELECT group_concat(j.value ->> '$.code', ', ' ORDER BY j.id) FROM json_each(r.problems_json) j)))
  END`;


/** The meta key naming the rendering of endpoints.status_json / status_table. */
export const STATUS_TEXT_META = 'status_text_rendering';
/** This build's rendering: stored texts made by any other are not read. */
export const STATUS_TEXT_RENDERING = createHash('sha256').update(`${STATUS_JSON}\u0000${STATUS_TABLE}`).digest('hex').slice(0, 16);

const rendered = (scanId: string, endpointId: string): string => `
  status_json = (SELECT ${STATUS_JSON} FROM endpoints e JOIN scans s ON s.id = ${scanId} JOIN scan_results r ON r.id = s.result_id WHERE e.id = ${endpointId}),
  status_table = (SELECT ${STATUS_TABLE} FROM endpoints e JOIN scans s ON s.id = ${scanId} JOIN scan_results r ON r.id = s.result_id WHERE e.id = ${endpointId})`;

/** SET clauses storing an endpoint's texts for scan @scanId (with `last_scan_id = @scanId`). */
export const RENDER_LATEST_SET = rendered('@scanId', '@endpointId');

/** Renders every endpoint's texts again (a store made by another rendering, or none yet). */
export const RENDER_ALL_SQL = `UPDATE endpoints SET ${rendered('endpoints.last_scan_id', 'endpoints.id')}`;

/** Between the fields of a status row, and between rows (never inside JSON text: JSON escapes them). */
const FIELD_SEPARATOR = '\u001f';
/** 9999-12-31T23:59:59.999Z */
const MAX_ISO_YEAR_MS = 253402300799999;
const ROW_SEPARATOR = '\u001e';

// concat() (SQLite 3.44) writes the pieces once; a chain of || copies the growing text at each
// step. The targets are the outer loop (CROSS JOIN), each looked up by the endpoints' UNIQUE
// index. No ORDER BY (its sorter was a fifth of the query): parseStatusRows groups the rows by
// target. A whole pass over the endpoints, matched to targets in JS, was no faster and held
// every row at once.
/** The query of ScanRepository.statusText. `stored`: read the stored texts (the live expression for a row not rendered yet). */
export function statusRowsSql(form: StatusForm, stored: boolean): string {
  const live = form === 'json' ? STATUS_JSON : STATUS_TABLE;
  const text = stored ? `coalesce(e.status_${form}, ${live})` : live;
  return `SELECT group_concat(concat(t.key, char(31), e.id, char(31), r.status, char(31),
    iif(t.value ->> 4 IS NOT NULL AND r.fingerprint256 IS NOT NULL AND r.fingerprint256 <> t.value ->> 4, 1, 0), char(31),
    s.scanned_at, char(31), json_quote(e.address), char(31), ${text}), char(30))
  FROM json_each(?) t CROSS JOIN endpoints e JOIN scans s ON s.id = e.last_scan_id JOIN scan_results r ON r.id = s.result_id
  WHERE e.domain = t.value ->> 0 AND e.host = t.value ->> 1 AND e.port = t.value ->> 2 AND e.source = t.value ->> 3`;
}

/** The targets as statusText's query takes them. */
export function statusParam(targets: readonly StatusTarget[]): string {
  return JSON.stringify(targets.map((t) => [t.domain, t.host, t.port, t.source, t.issued ?? null]));
}
export function parseStatusRows(text: string | null): StatusRow[] {
  const out: StatusRow[] = [];
  if (text === null) return out;
  // target US id US status US touched US scanned_at US address (JSON) US text, rows split by RS.
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf(ROW_SEPARATOR, at);
    if (end === -1) end = text.length;
    const f1 = text.indexOf(FIELD_SEPARATOR, at);
    const f2 = text.indexOf(FIELD_SEPARATOR, f1 + 1);
    const f3 = text.indexOf(FIELD_SEPARATOR, f2 + 1);
    const f4 = text.indexOf(FIELD_SEPARATOR, f3 + 1);
    const f5 = text.indexOf(FIELD_SEPARATOR, f4 + 1);
    const f6 = text.indexOf(FIELD_SEPARATOR, f5 + 1);
    const address = text.slice(f5 + 1, f6);
    const row: StatusRow = {
      target: Number(text.slice(at, f1)),
      id: Number(text.slice(f1 + 1, f2)),
      scannedAtMs: Number(text.slice(f4 + 1, f5)),
      status: text.slice(f2 + 1, f3) as Status,
      touched: text.charCodeAt(f3 + 1) === 0x31,
      text: f6 + 1 === end ? null : text.slice(f6 + 1, end),
    };
    if (address !== '""') row.address = JSON.parse(address) as string;
    // toISOString writes years outside 0000–9999 differently from strftime.
    if (!(row.scannedAtMs >= 0 && row.scannedAtMs <= MAX_ISO_YEAR_MS)) row.text = null;
    out.push(row);
    at = end + 1;
  }
  // By target, as the caller reads them (stable: the order of one target's rows does not matter).
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.target < out[i - 1]!.target) return out.sort((a, b) => a.target - b.target);
  }
  return out;
}
