import { UsageError } from '../../core/errors.js';
import { reportDocument, summarise } from '../../core/report.js';
import { runDemo, type DemoSession } from '../../service/demo.js';
import { compose } from '../compose.js';
import type { GlobalOptions, Io } from '../context.js';
import { renderSummary, renderTable } from '../render.js';
import { paint, table, useColour } from '../style.js';

export interface DemoCommandOptions extends GlobalOptions {
  dataDir?: string;
  serve?: boolean;
  port?: string;
  report?: string;
  json?: boolean;
}

const VERSION = process.env['npm_package_version'] ?? '0.1.0';

/**
 * `certs demo`: the demo world scanned for real, its table, and the HTML report; with --serve the
 * dashboard too, until SIGINT/SIGTERM. Exit codes: 0 every planted problem was found (and the
 * healthy sites came out ok), 1 something planted was missed or the demo could not run, 2 usage.
 */
export async function demoCommand(opts: DemoCommandOptions, io: Io): Promise<number> {
  const port = opts.port === undefined ? 0 : parsePort(opts.port);
  if (opts.port !== undefined && !opts.serve) throw new UsageError('--port is for --serve: the dashboard\'s port');
  const c = compose(io.now);
  io.stderr.write('certs demo: starting servers on 127.0.0.1 with a throwaway CA, then scanning them…\n');
  const session = await runDemo({
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    ...(opts.report !== undefined ? { reportFile: opts.report } : {}),
    now: c.now,
    version: VERSION,
    openStore: c.openStore,
  });
  try {
    const missed = session.planted.filter((p) => !p.ok);
    if (opts.json) {
      const doc = { ...reportDocument(session.reports, io.now()), demo: { report: session.reportFile, planted: session.planted } };
      io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      io.stderr.write(`report: ${session.reportFile}\n`);
    } else {
      io.stdout.write(`${humanOutput(session, useColour(io.stdout))}\n`);
    }
    for (const m of missed) {
      io.stderr.write(`certs demo: ${m.domain} (${m.planted}): expected ${m.expect ?? 'no problems'}, the scan reported ${m.found.join(', ') || m.status}\n`);
    }
    if (opts.serve) await serve(session, port, io, c.readStore);
    return missed.length === 0 ? 0 : 1;
  } finally {
    await session.close();
  }
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n > 65535) throw new UsageError(`--port ${JSON.stringify(text)}: expected a port number 0-65535 (0 picks a free one)`);
  return n;
}

function humanOutput(s: DemoSession, colour: boolean): string {
  const planted = table(
    s.planted.map((p) => [p.domain, p.planted, p.ok ? (p.expect ? `found ${p.expect}` : 'ok, as planted') : paint(colour, 'red', `MISSED (${p.found.join(', ') || p.status})`)]),
    ['DOMAIN', 'PLANTED', 'FOUND'],
  );
  return [
    `${s.world.sites.length} servers on 127.0.0.1 with certificates from a CA made a moment ago, scanned as \`certs scan\` scans:`,
    '',
    renderTable(s.reports, colour),
    '',
    renderSummary(summarise(s.reports), colour),
    '',
    planted,
    '',
    `report: ${s.reportFile}`,
    s.temporary ? 'state: a temporary data dir, removed on exit (--data-dir DIR keeps it)' : `state: ${s.dataDir} (inventory ${s.configPath})`,
  ].join('\n');
}

/** Serves the dashboard over the demo's store on loopback until SIGINT or SIGTERM. */
async function serve(s: DemoSession, port: number, io: Io, readStore: ReturnType<typeof compose>['readStore']): Promise<void> {
  const { startStatusServer } = await import('../../service/http.js');
  const server = await startStatusServer({
    config: () => s.config,
    readStore,
    lastRun: () => s.lastRun,
    address: '127.0.0.1',
    port,
    version: VERSION,
    log: (m) => io.stderr.write(`certs demo: ${m}\n`),
  });
  try {
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      io.stdout.write(`dashboard: http://127.0.0.1:${server.port}/  (Ctrl-C stops it and the demo's servers)\n`);
    });
    io.stderr.write('certs demo: stopping\n');
  } finally {
    await server.close();
  }
}
