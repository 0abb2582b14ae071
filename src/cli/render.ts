import type { CertInfo, EndpointReport } from '../core/model.js';
import type { ReportSummary } from '../core/report.js';
import type { TableRow } from '../service/status.js';
import type { Problem, Status } from '../core/problems.js';
import { paint, statusColour, table, TableText } from './style.js';
import { EMPTY_ISSUER, issuerLabel, subjectLabel } from '../core/x509.js';
import { explainNotify, explainThresholds, reportLifetime, thresholdsInForce, type ThresholdSettings } from '../core/thresholds.js';

/** "C=US, O=Org, CN=name" → "name" (the CN, else O, else the whole DN); '' is an empty DN. */
export function shortName(dn: string | null | undefined): string {
  if (dn === null || dn === undefined) return '-';
  if (dn === '') return EMPTY_ISSUER;
  const pick = (key: string) => new RegExp(`(?:^|[,\n]\\s*)${key}=([^,\n]*)`).exec(dn)?.[1];
  return pick('CN') ?? pick('O') ?? oneLineDn(dn);
}

export function oneLineDn(dn: string | null | undefined): string {
  return (dn ?? '').split('\n').join(', ');
}

export function endpointLabel(e: Pick<EndpointReport, 'source' | 'file' | 'host' | 'port' | 'address'>): string {
  if (e.source === 'file') return `file:${e.file ?? e.host}`;
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${host}:${e.port}${e.address ? ` @${e.address}` : ''}`;
}

function day(iso: string | null): string {
  return iso ? iso.slice(0, 10) : '-';
}

/** What one line of the status table shows, before formatting. */
export interface TableFields {
  domain: string;
  /** endpointLabel() */
  endpoint: string;
  daysLeft: number | null;
  notAfter: string | null;
  /** shortName() of the issuer */
  issuer: string;
  status: Status;
  /** The error, else the problem codes, else '' */
  problems: string;
}

export function tableFields(e: EndpointReport): TableFields {
  return {
    domain: e.domain,
    endpoint: endpointLabel(e),
    daysLeft: e.daysLeft,
    notAfter: e.notAfter,
    issuer: shortName(e.issuer),
    status: e.status,
    problems: e.error ? e.error : e.problems.map((p) => p.code).join(', '),
  };
}

/**
 * tableFields of a report the store wrote the fields of (service/status.ts statusTable): the
 * report's domain, host, port and source are its target's. `issuers` remembers shortName()s
 * (a fleet has a few issuers).
 */
export function storedTableFields(r: TableRow, issuers: Map<string | null, string>): TableFields {
  const [daysLeft, notAfter, issuer, error, file, codes] = r.fields;
  let short = issuers.get(issuer);
  if (short === undefined) issuers.set(issuer, (short = shortName(issuer)));
  const t = r.target;
  return {
    domain: t.domain.name,
    endpoint: endpointLabel({ source: t.source, ...(file !== null ? { file } : {}), host: t.host, port: t.port, ...(r.row.address !== undefined ? { address: r.row.address } : {}) }),
    daysLeft,
    notAfter,
    issuer: short,
    status: r.row.status,
    problems: error ? error : codes,
  };
}

export function tableCells(f: TableFields, colour: boolean): string[] {
  return [
    f.domain,
    f.endpoint,
    f.daysLeft === null ? '-' : String(f.daysLeft),
    day(f.notAfter),
    f.issuer,
    paint(colour, statusColour(f.status), f.status.toUpperCase()),
    f.problems || '-',
  ];
}

export function renderTable(endpoints: readonly EndpointReport[], colour: boolean): string {
  return renderTableCells(endpoints.map((e) => tableCells(tableFields(e), colour)));
}

const STATUS_HEADER = ['DOMAIN', 'ENDPOINT', 'DAYS', 'EXPIRES', 'ISSUER', 'STATUS', 'PROBLEMS'];

export function renderTableCells(rows: string[][]): string {
  return table(rows, STATUS_HEADER);
}

/** The status table built a row at a time (cli/style.ts TableText), for the whole inventory. */
export function statusTableText(): TableText {
  return new TableText(STATUS_HEADER);
}

export function renderSummary(summary: ReportSummary, colour: boolean): string {
  const total = summary.ok + summary.warning + summary.critical + summary.unknown;
  const parts = (['ok', 'warning', 'critical', 'unknown'] as const).map((s) =>
    summary[s] > 0 ? paint(colour, statusColour(s), `${summary[s]} ${s}`) : `${summary[s]} ${s}`,
  );
  return `${total} ${total === 1 ? 'endpoint' : 'endpoints'}: ${parts.join(', ')}`;
}

function keyText(c: CertInfo): string {
  if (c.keyType === 'ec' && c.curve) return `EC ${c.curve}`;
  return c.keyBits ? `${c.keyType.toUpperCase()} ${c.keyBits} bits` : c.keyType.toUpperCase();
}

function certLines(c: CertInfo, label: string, now: Date): string[] {
  const days = Math.floor((Date.parse(c.notAfter) - now.getTime()) / 86_400_000);
  return [
    `  ${label} ${subjectLabel(c)}`,
    `       issuer   ${issuerLabel(c)}`,
    `       valid    ${c.notBefore} → ${c.notAfter} (${days} days left)`,
    `       key      ${keyText(c)}; signature ${c.signatureAlgorithm}${c.selfSigned ? '; self-signed' : ''}`,
    `       sha256   ${c.fingerprint256}`,
    ...(c.dnsNames.length || c.ipAddresses.length ? [`       names    ${[...c.dnsNames, ...c.ipAddresses].join(', ')}`] : []),
  ];
}

/** `certs status <name>`: the served chain, the expiry thresholds in force and why, and every problem with its fix. */
/** `fix`: the fix of a problem for this endpoint's domain (core/advice.ts); the problem's own hint without it. */
export function renderDetail(e: EndpointReport, colour: boolean, now: Date, settings?: ThresholdSettings, fix?: (p: Problem) => string): string {
  const out: string[] = [];
  const head = `${e.domain}  ${endpointLabel(e)}  ${paint(colour, statusColour(e.status), e.status.toUpperCase())}`;
  out.push(paint(colour, 'bold', head));
  if (!e.scannedAt) {
    out.push('  never scanned: run `certs scan` (or `certs status --refresh`)');
    return out.join('\n');
  }
  const proto = e.protocol ? `, ${e.protocol}` : '';
  out.push(`  scanned ${e.scannedAt}${proto}${e.daysLeft !== null ? `; ${e.daysLeft} days left (until ${e.notAfter})` : ''}`);
  if (e.error) out.push(`  could not be checked: ${e.error}`);
  if (settings && e.notAfter) {
    const t = thresholdsInForce(reportLifetime(e), settings);
    out.push(`  thresholds ${explainThresholds(t)}`);
    const emails = explainNotify(t);
    if (emails) out.push(`  emails     ${emails}`);
  }
  const chain = e.chain ?? [];
  if (chain.length > 0) {
    const served = e.servedCount ?? chain.length;
    out.push(e.source === 'file' ? '  chain in the file:' : '  chain as served:');
    chain.slice(0, served).forEach((c, i) => out.push(...certLines(c, `#${i}`, now)));
    if (served < chain.length) {
      out.push('  completed from the trust store:');
      chain.slice(served).forEach((c) => out.push(...certLines(c, ' +', now)));
    }
  }
  if (e.orderKnown === false && chain.length > 0) {
    out.push(`  note: the order the server sends its chain in could not be judged${e.note ? ` (${e.note})` : ''}`);
  }
  if (e.problems.length > 0) {
    out.push('  problems:');
    for (const p of e.problems) {
      out.push(`    ${paint(colour, statusColour(p.severity), p.severity.toUpperCase())} ${p.code}: ${p.message}`);
      const how = fix ? fix(p) : p.hint;
      if (how) out.push(`      fix: ${how}`);
    }
  } else if (!e.error) {
    out.push('  no problems');
  }
  if (e.crossCheck) {
    const verdict = e.crossCheck.openssl ?? 'verified';
    out.push(`  OpenSSL: ${verdict} (${e.crossCheck.agrees ? 'agrees' : `DISAGREES: ${e.crossCheck.note ?? ''}`})`);
  }
  return out.join('\n');
}

/** The Nagios plugin line: `STATUS: text | 'days_left'=N;30:;7:` (ARCHITECTURE §7). */
export function renderNagios(status: Status, endpoints: readonly EndpointReport[], warningDays: number, criticalDays: number): string {
  const bad = endpoints.filter((e) => e.status !== 'ok');
  const nearest = endpoints.reduce<EndpointReport | null>((m, e) => (e.daysLeft === null ? m : m === null || m.daysLeft === null || e.daysLeft < m.daysLeft ? e : m), null);
  const minDays = nearest?.daysLeft ?? null;
  const text = bad.length === 0
    ? `${endpoints.length} endpoints ok`
    : bad.slice(0, 5).map((e) => `${e.domain} ${endpointLabel(e)} ${e.problems.map((p) => p.code).join(',') || e.error || e.status}`).join('; ') +
      (bad.length > 5 ? `; and ${bad.length - 5} more` : '');
  // The ranges are those of the certificate nearest to expiry, scaled to its lifetime (issue 12 §4).
  const oneDecimal = (d: number): string => String(Math.round(d * 10) / 10);
  let warn = String(warningDays);
  let crit = String(criticalDays);
  if (nearest) {
    const t = thresholdsInForce(reportLifetime(nearest), { warningDays, criticalDays });
    if (t.scaled) {
      warn = oneDecimal(t.warning.days);
      crit = oneDecimal(t.critical.days);
    }
  }
  const perf = minDays === null ? '' : ` | 'days_left'=${minDays};${warn}:;${crit}:`;
  return `CERTS ${status.toUpperCase()}: ${text}${perf}`;
}
