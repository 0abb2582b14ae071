/**
 * certs report --html FILE / --json [FILE], and the report of certs run --report FILE: the
 * dashboard as one self-contained file (every style, script and chart inline), for cron users
 * without a daemon (issue 13). Built from the config and the store alone, like `certs status`.
 */
import { certsVersion } from '../version.js';
import { statSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import type { Config } from '../../config/types.js';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import type { AsyncStore } from '../../store/contract.js';
import { compose } from '../compose.js';
import { dashboardData } from '../../service/dashboard.js';
import { renderDashboard } from '../../web/page.js';
import type { DashboardData } from '../../web/model.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';

export interface ReportCliOptions extends GlobalOptions {
  html?: string;
  /** true: stdout; a string: that file. */
  json?: string | boolean;
}

/** Reports are for people and other programs to read: world-readable, like a web page (nothing secret is in them). */
const REPORT_MODE = 0o644;

export function version(): string {
  return certsVersion();
}

/**
 * Refuses a path the report cannot be written to as a file, before any work: a directory (a
 * common slip: `--html /var/www/`), or an empty name.
 */
export function checkReportPath(option: string, file: string): void {
  if (file.trim() === '') throw new UsageError(`${option}: expected a file name, got an empty one`);
  const st = statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw new UsageError(`${option}: ${file} is a directory; give the report's file name, e.g. ${file.replace(/\/+$/, '')}/certs-report.html`);
}

/** The dashboard as one HTML file: no links to detail pages (there is no server behind it). */
export function renderReport(data: DashboardData): string {
  return renderDashboard(data, { mode: 'file', endpointHref: () => null });
}

/** Writes the HTML report of what `store` holds now (atomically, 0644). */
export async function writeHtmlReport(file: string, config: Config, store: AsyncStore | null, now: Date): Promise<void> {
  writeFileAtomic(file, renderReport(await dashboardData(config, store, now, { version: version() })), REPORT_MODE);
}

export async function reportCommand(opts: ReportCliOptions, io: Io): Promise<number> {
  const jsonFile = typeof opts.json === 'string' ? opts.json : null;
  if (opts.html === undefined && opts.json === undefined) throw new UsageError('give --html FILE, --json [FILE], or both');
  if (opts.html !== undefined) checkReportPath('--html', opts.html);
  if (jsonFile !== null) checkReportPath('--json', jsonFile);
  const config = configFrom(opts);
  // Read-only, as `certs status`: nothing stored yet is a report of unknown endpoints, not an error.
  const store = await compose(io.now).readStore(config);
  try {
    const data = await dashboardData(config, store, io.now(), { version: version() });
    if (opts.html !== undefined) writeFileAtomic(opts.html, renderReport(data), REPORT_MODE);
    if (opts.json !== undefined) {
      const text = `${JSON.stringify(data, null, 2)}\n`;
      if (jsonFile !== null) writeFileAtomic(jsonFile, text, REPORT_MODE);
      else io.stdout.write(text);
    }
    return 0;
  } finally {
    await store?.close();
  }
}
