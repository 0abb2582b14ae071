/**
 * The daemon's `/metrics` in the Prometheus text exposition format (version 0.0.4), modelled on
 * cert-manager's. Pure: the caller reads the store and passes what it found.
 *
 * Metrics carry timestamps, not "days left" (ARCHITECTURE §7): an alert rule computes
 * `certs_certificate_expiration_timestamp_seconds - time()` itself, and the series keeps being
 * emitted when verification fails, as long as a certificate was seen.
 */
import type { EndpointReport } from './model.js';

/**
 * One run of the daemon's pipeline, as `/healthz` and `/metrics` report it.
 * `outcome`: ok / warning / critical is the run's verdict on the certificates (the run itself
 * worked); `failed`: the run went through but a step failed (a renewal, a deploy, a delivery);
 * `error`: the run could not run at all (config, database, lock). `finishedAt` null: still running.
 */
export interface LastRun {
  startedAt: string;
  finishedAt: string | null;
  outcome: 'ok' | 'warning' | 'critical' | 'failed' | 'error';
  exitCode: number | null;
}

export interface MetricsInput {
  /** The current reports (stored scans with lifecycle problems laid over, as `certs status` shows them). */
  reports: EndpointReport[];
  /** Consecutive failed renewal attempts per domain (renewal_state.failures); 0 for a healthy managed domain. */
  renewalFailures: Map<string, number>;
  lastRun: LastRun | null;
  /** Undelivered notifications in the outbox. */
  pending: number;
  /** The nodes sharing the store and when each was last seen (issue 16); absent: none recorded. */
  nodes?: ReadonlyArray<{ name: string; lastSeenAt: string }>;
}

/** The Content-Type a Prometheus scraper expects for this format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Outcomes after which the run itself counts as successful (the certificates' state is another metric). */
const SUCCESSFUL_OUTCOMES: ReadonlySet<LastRun['outcome']> = new Set(['ok', 'warning', 'critical']);

type Labels = ReadonlyArray<readonly [string, string]>;

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: Array<{ labels: Labels; value: number }>;
}

/** Label values escape backslash, double quote and line feed (the format's only escapes). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** ISO 8601 → unix seconds (fractional only when the instant has milliseconds); null when unparseable. */
export function unixSeconds(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/**
 * The `endpoint` label: `host:port` for a TLS endpoint (`host:port@address` when a fixed address
 * is dialled, so two addresses of one name stay two series), `file:<path>` for a certificate file.
 */
export function endpointLabel(r: Pick<EndpointReport, 'source' | 'host' | 'port' | 'address' | 'file'>): string {
  if (r.source === 'file') return `file:${r.file ?? r.host}`;
  return `${r.host}:${r.port}${r.address ? `@${r.address}` : ''}`;
}

function renderFamily(f: Family): string {
  let out = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
  const seen = new Set<string>();
  for (const s of f.samples) {
    const labels = s.labels.length === 0 ? '' : `{${s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
    // A duplicated series makes the whole scrape invalid: the first one wins.
    if (seen.has(labels)) continue;
    seen.add(labels);
    out += `${f.name}${labels} ${formatValue(s.value)}\n`;
  }
  return out;
}

/**
 * Every family is always present (HELP and TYPE once each), with no samples when there is
 * nothing to say, so a scraper sees the same set of families from a fresh daemon.
 *
 * - `certs_certificate_expiration_timestamp_seconds{domain,endpoint[,address]}`: the report's notAfter (the
 *   earliest expiry on the served path) for every endpoint where a certificate was seen, whatever
 *   its problems.
 * - `certs_certificate_problems{domain,endpoint[,address],code}`: 1 per current problem code.
 * - `certs_renewal_failures_total{domain}`: consecutive failed renewal attempts since the last
 *   success (renewal_state.failures). It only grows while renewals fail and drops to 0 on a
 *   success, which Prometheus treats as a counter reset: `increase()` still counts the failures
 *   in a window, and `> 0` means "currently failing".
 * - `certs_last_run_timestamp_seconds`, `certs_last_run_success`: when the last finished run
 *   ended, and whether it ran (1 for outcomes ok/warning/critical, 0 for failed/error). No sample
 *   before the first run has finished.
 * - `certs_notifications_pending`: undelivered messages in the outbox.
 * - `certs_node_last_seen_timestamp_seconds{node}`: each node's last heartbeat (issue 16), so an
 *   alert on `time() - … > 3 * cycle` catches a node that stopped.
 */
export function renderMetrics(input: MetricsInput): string {
  const expiration: Family = {
    name: 'certs_certificate_expiration_timestamp_seconds',
    type: 'gauge',
    help: 'The date after which the certificate served at the endpoint (or the earliest-expiring certificate on its path) expires, in unix seconds.',
    samples: [],
  };
  const problems: Family = {
    name: 'certs_certificate_problems',
    type: 'gauge',
    help: 'A current problem of the endpoint (1 per problem code; see the problem codes of `certs status`).',
    samples: [],
  };
  for (const r of input.reports) {
    const endpoint = endpointLabel(r);
    // `address`: the address dialled (a configured one, or one of the name's addresses under scan.addresses all); absent for a file or an endpoint dialled by name.
    const base: Labels = r.address ? [['domain', r.domain], ['endpoint', endpoint], ['address', r.address]] : [['domain', r.domain], ['endpoint', endpoint]];
    const notAfter = r.notAfter === null ? null : unixSeconds(r.notAfter);
    if (notAfter !== null) expiration.samples.push({ labels: base, value: notAfter });
    for (const code of new Set(r.problems.map((p) => p.code))) problems.samples.push({ labels: [...base, ['code', code]], value: 1 });
  }

  const failures: Family = {
    name: 'certs_renewal_failures_total',
    type: 'counter',
    help: 'Consecutive failed renewal attempts of the domain\'s certificate since its last successful renewal (resets to 0 on success).',
    samples: [...input.renewalFailures].map(([domain, n]) => ({ labels: [['domain', domain]], value: n })),
  };

  const lastRunTs: Family = {
    name: 'certs_last_run_timestamp_seconds',
    type: 'gauge',
    help: 'When the last finished run of the daemon ended, in unix seconds.',
    samples: [],
  };
  const lastRunOk: Family = {
    name: 'certs_last_run_success',
    type: 'gauge',
    help: 'Whether the last finished run went through (1), or failed or could not run (0).',
    samples: [],
  };
  const finished = input.lastRun?.finishedAt ? unixSeconds(input.lastRun.finishedAt) : null;
  if (input.lastRun && finished !== null) {
    lastRunTs.samples.push({ labels: [], value: finished });
    lastRunOk.samples.push({ labels: [], value: SUCCESSFUL_OUTCOMES.has(input.lastRun.outcome) ? 1 : 0 });
  }

  const pending: Family = {
    name: 'certs_notifications_pending',
    type: 'gauge',
    help: 'Notifications written to the outbox and not delivered yet.',
    samples: [{ labels: [], value: input.pending }],
  };

  const nodes: Family = {
    name: 'certs_node_last_seen_timestamp_seconds',
    type: 'gauge',
    help: 'When the node (a daemon or certs run sharing this store) was last seen, in unix seconds.',
    samples: [],
  };
  for (const n of input.nodes ?? []) {
    const seen = unixSeconds(n.lastSeenAt);
    if (seen !== null) nodes.samples.push({ labels: [['node', n.name]], value: seen });
  }

  return [expiration, problems, failures, lastRunTs, lastRunOk, pending, nodes].map(renderFamily).join('');
}
