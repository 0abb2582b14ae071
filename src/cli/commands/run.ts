/** certs run (one cycle, for cron) and certs daemon. */
import { UsageError } from '../../core/errors.js';
import { reportDocument } from '../../core/report.js';
import type { Config } from '../../config/types.js';
import { openStore, type Store } from '../../store/index.js';
import { newOwnerId, waitLease } from '../../service/lease.js';
import { runCycle, type RunResult } from '../../service/run.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';
import { renderSummary, renderTable } from '../render.js';
import { useColour } from '../style.js';
import { makeRescanner, withLifecycleProblems } from './scan.js';

export interface RunCliOptions extends GlobalOptions {
  json?: boolean;
  wait?: string;
  renew?: boolean;
}

function waitSeconds(v: string | undefined): number {
  if (v === undefined) return 600;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new UsageError(`--wait: expected whole seconds from 0 to 86400, got ${JSON.stringify(v)}`);
  return n;
}

/** One cycle under the run lock (shared by cron's `certs run`, `certs renew` and the daemon). */
export async function cycle(config: Config, store: Store, io: Io, opts: { renew: boolean; waitMs: number; log: (event: string, fields?: Record<string, unknown>) => void }): Promise<RunResult> {
  const owner = newOwnerId();
  const lease = await waitLease(store.locks, 'run', owner, opts.waitMs);
  try {
    const scan = await makeRescanner(config, store, io);
    return await runCycle(config, store, {
      scan,
      overlay: (reports) => withLifecycleProblems(config, reports),
      now: io.now,
      random: Math.random,
      owner,
      log: opts.log,
    }, { renew: opts.renew, notify: true });
  } finally {
    lease.release();
  }
}

export async function runCommand(opts: RunCliOptions, io: Io): Promise<number> {
  const config = configFrom(opts);
  const store = openStore(config.dataDir);
  try {
    const result = await cycle(config, store, io, {
      renew: opts.renew !== false,
      waitMs: waitSeconds(opts.wait) * 1000,
      log: (event, fields) => io.stderr.write(`certs: ${event}${fields ? ` ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}` : ''}\n`),
    });
    if (opts.json) {
      const strip = <T extends { error?: { code: string; message: string } }>(o: T) => ({ ...o, ...(o.error ? { error: { code: o.error.code, message: o.error.message } } : {}) });
      io.stdout.write(`${JSON.stringify({
        ...reportDocument(result.reports, io.now()),
        run: result.run,
        renew: result.renew.map(strip),
        deploy: result.deploy.map(strip),
        notify: result.notify && { events: result.notify.events.length, queued: result.notify.queued, delivered: result.notify.delivered, failed: result.notify.failed, pending: result.notify.pending },
        errors: result.errors,
      }, null, 2)}\n`);
    } else {
      const colour = useColour(io.stdout);
      const lines = [renderTable(result.reports, colour), '', renderSummary(reportDocument(result.reports, io.now()).summary, colour)];
      const issued = result.renew.filter((o) => o.action === 'issued').length;
      const failed = result.renew.filter((o) => o.action === 'failed').length;
      lines.push(`renewed ${issued}, failed ${failed}; deployed ${result.deploy.filter((o) => o.action === 'deployed').length}${result.notify ? `; notifications: ${result.notify.events.length} new, ${result.notify.delivered} delivered, ${result.notify.pending} pending` : ''}`);
      for (const e of result.errors) lines.push(`error: ${e}`);
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    return result.run.exitCode ?? 3;
  } finally {
    store.close();
  }
}
