/**
 * `certs daemon`: runs cycles on node-cron schedules, never two at once (in this process, and
 * across processes through the SQLite run lock shared with cron's `certs run`), serves the
 * optional HTTP endpoint, reloads its config on SIGHUP (an invalid one keeps the old running) and
 * stops on SIGTERM/SIGINT within a bound. Logs are JSON lines on stdout, one per event.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { errorMessage, StoreError } from '../core/errors.js';
import type { Config } from '../config/types.js';
import { cycleKeyOf } from './scan-cycle.js';

/** A six-field cron expression fires on seconds: its cycles are keyed to the second. */
function hasSeconds(expression: string): boolean {
  return expression.trim().split(/\s+/).length === 6;
}

export type Logger = (event: string, fields?: Record<string, unknown>) => void;

export interface DaemonDeps {
  loadConfig: () => Config;
  /** Runs one cycle (lock, scan, renew?, deploy, rescan, notify); resolves with its exit code. */
  cycle: (config: Config, opts: { renew: boolean; cycleKey?: string }) => Promise<number>;
  /** The installation's default schedule (a random minute chosen once, kept in the store). */
  defaultSchedule: (config: Config) => Promise<string>;
  /** Starts the HTTP endpoint when configured; returns its closer. */
  startHttp?: (config: () => Config) => Promise<{ close(): Promise<void>; address: string; port: number } | null>;
  log: Logger;
  /** Budget for the run in flight after SIGTERM. Default 30000 ms. */
  shutdownTimeoutMs?: number;
  /** Run a full cycle right away (tests, first start). */
  runNow?: boolean;
  /** Signals to listen to; default process. */
  signals?: NodeJS.EventEmitter;
  /** Records this node's heartbeat between cycles (issue 16), every `heartbeatMs` (default 60 s). */
  heartbeat?: (config: Config) => Promise<void>;
  heartbeatMs?: number;
  /** First retry after a cycle found the store unreachable; doubles up to 60 s. Default 1000 ms. */
  reconnectBaseMs?: number;
}

/**
 * The interval of a cron expression: the gap between its next two fire times after `from`. For
 * an uneven schedule ("0 3,4 * * *") that is the shorter gap; node-silent then waits 3 of those,
 * which errs on the side of saying so early rather than never.
 */
export function scheduleIntervalMs(expression: string, from: Date = new Date()): number | null {
  const task = cron.createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(3).filter((d) => d.getTime() > from.getTime());
    if (runs.length < 2) return null;
    let gap = Infinity;
    for (let i = 1; i < runs.length; i++) gap = Math.min(gap, runs[i]!.getTime() - runs[i - 1]!.getTime());
    return Number.isFinite(gap) && gap > 0 ? gap : null;
  } finally {
    void task.stop();
  }
}

/** Twice a day, 12 hours apart, at a minute and hour chosen once per installation. */
export function installationSchedule(minute: number, hour: number): string {
  return `${minute} ${hour % 12},${(hour % 12) + 12} * * *`;
}

export async function runDaemon(deps: DaemonDeps): Promise<number> {
  const log = deps.log;
  let config = deps.loadConfig();
  let running: Promise<void> | null = null;
  let stopping = false;
  let tasks: ScheduledTask[] = [];
  let unreachable = 0;
  let retry: NodeJS.Timeout | undefined;

  const tick = (renew: boolean, reason: string, seconds = false) => async (ctx?: { date?: Date }): Promise<void> => {
    if (stopping) return;
    // The same key on every node the schedule fired on at this moment: they share the cycle's scan.
    const cycleKey = cycleKeyOf(renew ? 'run' : 'scan', ctx?.date instanceof Date ? ctx.date : new Date(), seconds);
    if (running) {
      log('run.skipped', { reason: 'a run is still in progress', trigger: reason });
      return;
    }
    const current = config;
    running = (async () => {
      try {
        const code = await deps.cycle(current, { renew, cycleKey });
        log('run.finished', { trigger: reason, exitCode: code });
        unreachable = 0;
      } catch (err) {
        // A failed cycle never takes the daemon down: the next tick tries again.
        log('run.error', { trigger: reason, error: errorMessage(err) });
        // A store that cannot be reached (PostgreSQL restarting) is tried again sooner, with
        // backoff: 1, 2, 4 … 60 s, until a cycle gets through (or the schedule's next tick).
        if (err instanceof StoreError && err.code === 'connection' && !stopping) {
          const inMs = Math.min(60_000, (deps.reconnectBaseMs ?? 1000) * 2 ** Math.min(unreachable, 6));
          unreachable += 1;
          log('store.reconnect', { attempt: unreachable, inMs, error: errorMessage(err) });
          clearTimeout(retry);
          retry = setTimeout(() => void tick(renew, 'reconnect', seconds)({ date: ctx?.date ?? new Date() }), inMs);
          retry.unref();
        }
      } finally {
        running = null;
      }
    })();
    await running;
  };

  const schedule = async (): Promise<void> => {
    const full = config.daemon?.schedule ?? (await deps.defaultSchedule(config));
    for (const t of tasks) void t.stop();
    tasks = [];
    tasks.push(cron.schedule(full, tick(true, 'schedule', hasSeconds(full)), { name: 'certs-run', noOverlap: true }));
    const scanOnly = config.daemon?.scanSchedule;
    if (scanOnly) tasks.push(cron.schedule(scanOnly, tick(false, 'scan-schedule', hasSeconds(scanOnly)), { name: 'certs-scan', noOverlap: true }));
    log('daemon.scheduled', { schedule: full, ...(scanOnly ? { scanSchedule: scanOnly } : {}) });
  };

  cron.setLogger({ info: () => undefined, warn: (m) => log('cron.warning', { message: m }), error: (m) => log('cron.error', { message: String(m) }), debug: () => undefined });
  const http = deps.startHttp ? await deps.startHttp(() => config) : null;
  if (http) log('http.listening', { address: http.address, port: http.port });
  await schedule();
  log('daemon.started', { pid: process.pid, config: config.file });
  let beating = false;
  const beater = deps.heartbeat
    ? setInterval(() => {
      if (beating || stopping) return;
      beating = true;
      deps.heartbeat!(config).catch((err: unknown) => log('node.heartbeat-error', { error: errorMessage(err) })).finally(() => (beating = false));
    }, deps.heartbeatMs ?? 60_000)
    : null;
  beater?.unref();

  const signals = deps.signals ?? process;
  return new Promise<number>((resolve) => {
    const onHup = (): void => {
      void (async () => {
        const before = config;
        try {
          config = deps.loadConfig();
          await schedule();
          log('config.reloaded', { config: config.file });
        } catch (err) {
          config = before;
          log('config.invalid', { error: errorMessage(err), keeping: 'the previous config' });
        }
      })();
    };
    const onStop = (signal: string) => (): void => {
      if (stopping) return;
      stopping = true;
      if (beater) clearInterval(beater);
      clearTimeout(retry);
      log('daemon.stopping', { signal });
      for (const t of tasks) void t.stop();
      const budget = deps.shutdownTimeoutMs ?? 30_000;
      const inFlight = running ?? Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      const bounded = Promise.race([inFlight.then(() => 'finished'), new Promise<string>((r) => { timer = setTimeout(() => r('timed out'), budget); })]);
      void bounded.then(async (how) => {
        clearTimeout(timer);
        if (how !== 'finished') log('daemon.run-abandoned', { afterMs: budget, note: 'every write is atomic; the next run finishes the work, the lock lease expires within a minute' });
        await http?.close();
        signals.removeListener('SIGHUP', onHup);
        signals.removeListener('SIGTERM', term);
        signals.removeListener('SIGINT', int);
        log('daemon.stopped', { signal });
        resolve(how === 'finished' ? 0 : 1);
      });
    };
    const term = onStop('SIGTERM');
    const int = onStop('SIGINT');
    signals.on('SIGHUP', onHup);
    signals.on('SIGTERM', term);
    signals.on('SIGINT', int);
    if (deps.runNow) void tick(true, 'start')();
  });
}
