import { certsVersion } from '../version.js';
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

const VERSION = certsVersion();

/**
 * `certs demo`: the demo world scanned for real, its table, and the HTML report; with --serve the
 * dashboard too, until SIGINT/SIGTERM. Exit codes: 0 every planted problem was found (and the
 * healthy sites came out ok), 1 something planted was missed or the demo could not run, 2 usage.
 */
export async function demoCommand(opts: DemoCommandOptions, io: Io): Promise<number> {
  const port = opts.port === undefined ? 0 : parsePort(opts.port);
  if (opts.port !== undefined && !opts.serve) throw new UsageError('--port is for --serve: the dashboard\'s port');
  const c = compose(io.now);
  // Taken from the start: Ctrl-C during the scan still stops the servers and removes the
  // temporary data dir (the scan takes a second or two; it finishes, then nothing is served).
  const signal = stopSignal();
  try {
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
        io.stdout.write(`${humanOutput(session, useColour(io.stdout), opts.serve === true)}\n`);
      }
      for (const m of missed) {
        io.stderr.write(`certs demo: ${m.domain} (${m.planted}): expected ${m.expect ?? 'no problems'}, the scan reported ${m.found.join(', ') || m.status}\n`);
      }
      // With --json, stdout holds the document alone: the URL goes to stderr.
      if (opts.serve && !signal.fired()) await serve(session, port, opts.json ? io.stderr : io.stdout, io, c.readStore, signal.wait);
      return missed.length === 0 ? 0 : 1;
    } finally {
      await session.close();
    }
  } finally {
    signal.dispose();
  }
}

/** SIGINT/SIGTERM caught for the command's lifetime (instead of Node's default: die at once). */
function stopSignal(): { fired(): boolean; wait: Promise<void>; dispose(): void } {
  let fired = false;
  let resolve!: () => void;
  const wait = new Promise<void>((r) => (resolve = r));
  const on = (): void => {
    fired = true;
    resolve();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    fired: () => fired,
    wait,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n > 65535) throw new UsageError(`--port ${JSON.stringify(text)}: expected a port number 0-65535 (0 picks a free one)`);
  return n;
}

function humanOutput(s: DemoSession, colour: boolean, serving: boolean): string {
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
    `report: ${s.reportFile} (open it in a browser)`,
    s.temporary
      ? `state: ${s.dataDir}, a temporary data dir removed on exit${serving ? '' : '\nnext: demo --serve for the live dashboard; demo --data-dir DIR keeps the state, then status --config DIR/demo.yaml <name> shows a row\'s chain and how to fix it'}`
      : `state: ${s.dataDir}: status --config ${s.configPath} <name> shows a row's chain and how to fix it`,
  ].join('\n');
}

/** Serves the dashboard over the demo's store on loopback until `stop` (SIGINT or SIGTERM). */
async function serve(s: DemoSession, port: number, out: NodeJS.WriteStream, io: Io, readStore: ReturnType<typeof compose>['readStore'], stop: Promise<void>): Promise<void> {
  const { startStatusServer } = await import('../../service/http.js');
  const server = await startStatusServer({
    config: () => s.config,
    readStore,
    lastRun: async () => s.lastRun,
    address: '127.0.0.1',
    port,
    version: VERSION,
    log: (m) => io.stderr.write(`certs demo: ${m}\n`),
  }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new UsageError(`--port ${port}: something already listens on 127.0.0.1:${port}`, { hint: 'pick another port, or leave --port out for a free one' });
  });
  try {
    out.write(`dashboard: http://127.0.0.1:${server.port}/  (Ctrl-C stops it and the demo's servers)\n`);
    await stop;
    io.stderr.write('certs demo: stopping\n');
  } finally {
    await server.close();
  }
}
