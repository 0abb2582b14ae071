/** certs run (one cycle, for cron) and certs daemon. */
import { certsVersion } from '../version.js';
import { UsageError, errorMessage } from '../../core/errors.js';
import { reportDocument } from '../../core/report.js';
import type { Config } from '../../config/types.js';
import type { AsyncStore } from '../../store/contract.js';
import { runLocked, type NodeIdentity, type RunResult } from '../../service/run.js';
import { nodeNameOf } from '../../config/node.js';
import { cycleKeyOf } from '../../service/scan-cycle.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import { compose, type Composition } from '../compose.js';
import { renderSummary, renderTable } from '../render.js';
import { useColour } from '../style.js';
import { withLifecycle } from '../../service/status.js';

export interface RunCliOptions extends GlobalOptions {
  json?: boolean;
  wait?: string;
  renew?: boolean;
  /** Write the HTML report (certs report --html) here after the run, whatever its outcome. */
  report?: string;
  /** The cycle key shared with other nodes (store.engine postgres). */
  cycle?: string;
}

/** --cycle: a key other nodes can name too; no spaces or slashes, so it reads back in logs. */
function cycleOption(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^[A-Za-z0-9:@._-]{1,64}$/.test(v)) throw new UsageError(`--cycle: expected 1 to 64 of A-Z a-z 0-9 : @ . _ -, got ${JSON.stringify(v)}`);
  return v;
}

function waitSeconds(v: string | undefined): number {
  if (v === undefined) return 600;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new UsageError(`--wait: expected whole seconds from 0 to 86400, got ${JSON.stringify(v)}`);
  return n;
}

/** The default schedule's shape (its minute and hour are chosen per installation): twice a day. */
const DEFAULT_SHAPE = '0 0,12 * * *';

/** When this process started: a node's heartbeat says how long it has been up. */
const PROCESS_STARTED_AT = new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString();

export function nodeIdentity(config: Config, cycleMs: number | null): NodeIdentity {
  return { name: nodeNameOf(config), version: certsVersion(), startedAt: PROCESS_STARTED_AT, cycleMs };
}

/** One cycle under the run lock (service/run.ts runLocked), with the scanner wired to this store. */
export async function cycle(config: Config, store: AsyncStore, io: Io, opts: { renew: boolean; waitMs: number; log: (event: string, fields?: Record<string, unknown>) => void; report?: string; cycleMs?: number | null; cycleKey?: string }, c: Composition = compose(io.now)): Promise<RunResult> {
  const scan = await c.scanner(config, store);
  // On PostgreSQL the nodes of a cluster share each cycle's scan (issue 16).
  const collect = store.engine === 'postgres' ? await c.collector(config) : undefined;
  return runLocked(config, store, {
    scan,
    ...(collect ? { collect } : {}),
    node: nodeIdentity(config, opts.cycleMs ?? null),
    overlay: (reports) => withLifecycle(config, store, reports),
    now: c.now,
    random: c.random,
    channels: c.channels(config),
    log: opts.log,
    ...(opts.report !== undefined ? { report: opts.report } : {}),
  }, { renew: opts.renew, notify: true, waitMs: opts.waitMs, cycle: opts.cycleKey ?? cycleKeyOf(opts.renew ? 'run' : 'scan', io.now()) });
}

export async function runCommand(opts: RunCliOptions, io: Io): Promise<number> {
  const waitMs = waitSeconds(opts.wait) * 1000;
  const cycleKey = cycleOption(opts.cycle);
  // Loaded only for --report: a plain run does not pay for the page renderer.
  const reporting = opts.report !== undefined ? await import('./report.js') : null;
  // A path that cannot be a report file is refused before the run, not after it.
  if (reporting) reporting.checkReportPath('--report', opts.report!);
  const config = configFrom(opts);
  const store = await compose().openStore(config);
  /** The report of what the store holds after the run (it records the run, failed or not); false when it could not be written. */
  const writeReport = async (): Promise<boolean> => {
    if (!reporting) return true;
    try {
      await reporting.writeHtmlReport(opts.report!, config, store, io.now());
      return true;
    } catch (err) {
      io.stderr.write(`certs: --report: ${errorMessage(err)}\n`);
      return false;
    }
  };
  try {
    let result: RunResult;
    try {
      result = await cycle(config, store, io, {
        renew: opts.renew !== false,
        waitMs,
        ...(cycleKey !== undefined ? { cycleKey } : {}),
        ...(opts.report !== undefined ? { report: opts.report } : {}),
        log: (event, fields) => io.stderr.write(`certs: ${event}${fields ? ` ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}` : ''}\n`),
      });
    } catch (err) {
      await writeReport();
      throw err;
    }
    const reported = await writeReport();
    if (opts.json) {
      const strip = <T extends { error?: { code: string; message: string } }>(o: T) => ({ ...o, ...(o.error ? { error: { code: o.error.code, message: o.error.message } } : {}) });
      io.stdout.write(`${JSON.stringify({
        ...reportDocument(result.reports, io.now()),
        run: result.run,
        renew: result.renew.map(strip),
        deploy: result.deploy.map(strip),
        notify: result.notify && { events: result.notify.events.length, queued: result.notify.queued, delivered: result.notify.delivered, failed: result.notify.failed, pending: result.notify.pending },
        pruned: result.pruned && { scans: result.pruned.scans, certificates: result.pruned.certificates, versions: result.pruned.versions },
        errors: result.errors,
        failures: result.failures,
      }, null, 2)}\n`);
    } else {
      const colour = useColour(io.stdout);
      const lines = [renderTable(result.reports, colour), '', renderSummary(reportDocument(result.reports, io.now()).summary, colour)];
      const issued = result.renew.filter((o) => o.action === 'issued').length;
      const failed = result.renew.filter((o) => o.action === 'failed').length;
      lines.push(`renewed ${issued}, failed ${failed}; deployed ${result.deploy.filter((o) => o.action === 'deployed').length}${result.notify ? `; notifications: ${result.notify.events.length} new, ${result.notify.delivered} delivered, ${result.notify.pending} pending` : ''}`);
      const p = result.pruned;
      if (p && p.scans + p.certificates + p.versions > 0) lines.push(`pruned ${p.scans} old scans, ${p.certificates} unused certificates, ${p.versions} archive versions (store.retention)`);
      for (const e of result.errors) lines.push(`error: ${e}`);
      // Each domain's own failure, with its code and hint (whole-step failures are the lines above).
      for (const f of result.failures) if (f.domain) lines.push(`failed: ${f.domain}: ${f.step} [${f.code}]: ${f.message}${f.hint ? ` (${f.hint})` : ''}`);
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    const code = result.run.exitCode ?? 3;
    // A report that could not be written fails an otherwise clean run, as a failed step does.
    return !reported && code === 0 ? 1 : code;
  } finally {
    await store.close();
  }
}

/** JSON lines on stdout, one per event; nothing from the config but its path. */
function jsonLogger(io: Io): (event: string, fields?: Record<string, unknown>) => void {
  return (event, fields = {}) => {
    io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: /error|invalid|abandoned/.test(event) ? 'error' : /warning|skipped/.test(event) ? 'warn' : 'info', ...fields, event })}\n`);
  };
}

export async function daemonCommand(opts: GlobalOptions & { runNow?: boolean; shutdownTimeout?: string }, io: Io): Promise<number> {
  const [{ runDaemon, installationSchedule, scheduleIntervalMs }, { startStatusServer }, { lastRunOf, beat }] = await Promise.all([
    import('../../service/daemon.js'),
    import('../../service/http.js'),
    import('../../service/run.js'),
  ]);
  // Built once for the daemon's life: every cycle and every HTTP render gets the same.
  const c = compose(io.now);
  const log = jsonLogger(io);
  const shutdownTimeoutMs = Number(opts.shutdownTimeout ?? 30_000);
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 100) throw new UsageError(`--shutdown-timeout: expected milliseconds ≥ 100, got ${JSON.stringify(opts.shutdownTimeout)}`);
  /** The interval of the schedule the daemon runs `config` on, for node-silent. */
  const cycleMsOf = (config: Config): number | null => scheduleIntervalMs(config.daemon?.schedule ?? DEFAULT_SHAPE);
  return runDaemon({
    loadConfig: () => configFrom(opts),
    heartbeat: async (config) => {
      const cycleMs = cycleMsOf(config);
      const store = await c.openStore(config);
      try {
        await beat(store, nodeIdentity(config, cycleMs), c.now(), log);
      } finally {
        await store.close();
      }
    },
    log,
    runNow: opts.runNow === true,
    shutdownTimeoutMs,
    defaultSchedule: async (config) => {
      const store = await c.openStore(config);
      try {
        // Chosen once per installation: CAs ask clients not to all renew at the top of the hour.
        const minute = Number(await store.meta.getOrSet('daemon.minute', String(Math.floor(Math.random() * 60))));
        const hour = Number(await store.meta.getOrSet('daemon.hour', String(Math.floor(Math.random() * 12))));
        return installationSchedule(minute, hour);
      } finally {
        await store.close();
      }
    },
    cycle: async (config, { renew, cycleKey }) => {
      const store = await c.openStore(config);
      try {
        // Another process (a second daemon, cron's certs run) holding the run lock: wait for it,
        // then decide again; it will usually have left nothing to do.
        const result = await cycle(config, store, io, { renew, waitMs: 10 * 60_000, log, cycleMs: cycleMsOf(config), ...(cycleKey !== undefined ? { cycleKey } : {}) }, c);
        return result.run.exitCode ?? 3;
      } finally {
        await store.close();
      }
    },
    startHttp: async (config) => {
      const http = config().daemon?.http;
      if (!http) return null;
      return startStatusServer({
        config,
        address: http.address,
        port: http.port,
        version: certsVersion(),
        log: (m) => log('http.error', { message: m }),
        readStore: c.readStore,
        lastRun: async () => {
          const store = await c.readStore(config());
          try {
            return store ? await lastRunOf(store) : null;
          } finally {
            await store?.close();
          }
        },
      });
    },
  });
}
