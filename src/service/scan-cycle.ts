/**
 * A cycle's scan shared by the nodes of a cluster (issue 16). Every node that starts cycle <key>
 * plans the same batches from the inventory (domains sorted by name, cluster.scanBatchSize per
 * batch); the first one stores them, and then each node claims open batches, scans them and
 * completes them with the claim's token (store/scan-batches.ts). When nothing is left to claim,
 * a node waits for the batches others hold, taking over any whose claim runs out (a node that
 * died), so the cycle's scan is complete on every node before it judges and notifies.
 *
 * The key is the same string on every node for one scheduled fire (daemon: the cron fire time;
 * `certs run`: the minute, or --cycle), so nodes started by the same schedule share one cycle.
 */
import { errorMessage } from '../core/errors.js';
import type { DomainConfig } from '../config/types.js';
import type { BatchPlan } from '../store/scan-batches.js';
import type { RecordItem } from '../store/index.js';
import type { AsyncStore } from '../store/contract.js';

export interface ScanCycleOptions {
  cycle: string;
  node: string;
  leaseMs: number;
  batchSize: number;
  /** Scans a batch's domains without storing them; what complete() records. */
  collect: (domains: DomainConfig[]) => Promise<RecordItem[]>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /** How long to wait for batches other nodes hold, once nothing is left to claim. Default max(10 min, 3 leases). */
  waitMs?: number;
}

export interface ScanCycleResult {
  /** This node stored the cycle's batches (it started first). */
  created: boolean;
  batches: number;
  /** Batches this node scanned and recorded. */
  mine: number;
  /** Endpoints this node recorded. */
  scanned: number;
  /** Batches whose claim this node lost before completing them (nothing recorded). */
  lost: number;
  /** False when the wait for other nodes' batches ran out. */
  complete: boolean;
}

/** The cycle's batches: every node plans the same ones from the same inventory. */
export function planBatches(domains: readonly DomainConfig[], batchSize: number): BatchPlan[] {
  const sorted = [...domains].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: BatchPlan[] = [];
  for (let i = 0; i < sorted.length; i += batchSize) {
    const chunk = sorted.slice(i, i + batchSize);
    out.push({ domains: chunk.map((d) => d.name), endpoints: chunk.reduce((n, d) => n + d.endpoints.length + (d.files ? 1 : 0), 0) });
  }
  return out;
}

/** The cycle key of a trigger time: the minute (or the second, for a seconds-granular schedule), as ISO text. */
export function cycleKeyOf(kind: 'run' | 'scan', at: Date, seconds = false): string {
  const ms = at.getTime();
  const floored = seconds ? ms - (ms % 1000) : ms - (ms % 60_000);
  return `${kind}@${new Date(floored).toISOString()}`;
}

export async function scanCycle(domains: readonly DomainConfig[], store: Pick<AsyncStore, 'scanBatches'>, opts: ScanCycleOptions): Promise<ScanCycleResult> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = opts.log ?? (() => undefined);
  const batches = store.scanBatches;
  const plan = planBatches(domains, opts.batchSize);
  const created = await batches.openCycle(opts.cycle, plan, opts.node, now());
  const byName = new Map(domains.map((d) => [d.name, d]));
  const result: ScanCycleResult = { created, batches: plan.length, mine: 0, scanned: 0, lost: 0, complete: false };
  const waitMs = opts.waitMs ?? Math.max(600_000, 3 * opts.leaseMs);
  const pollMs = Math.max(50, Math.min(1000, Math.floor(opts.leaseMs / 4)));
  let waitingSince: number | null = null;
  for (;;) {
    const claim = await batches.claim(opts.cycle, opts.node, opts.leaseMs, now());
    if (claim) {
      waitingSince = null;
      const mine = claim.domains.flatMap((n) => byName.get(n) ?? []);
      if (mine.length < claim.domains.length) {
        // Configs should be equal across nodes; a domain only another node knows is theirs to scan next cycle.
        log('scan.batch-unknown-domains', { cycle: opts.cycle, batch: claim.batch, missing: claim.domains.filter((n) => !byName.has(n)) });
      }
      // Keep the claim while the batch scans: a slow batch is not a dead node.
      let beating = false;
      const timer = setInterval(() => {
        if (beating) return;
        beating = true;
        batches.extend(opts.cycle, claim.batch, claim.token, opts.leaseMs, now()).catch(() => false).finally(() => (beating = false));
      }, Math.max(50, Math.floor(opts.leaseMs / 3)));
      timer.unref();
      let items: RecordItem[];
      try {
        items = await opts.collect(mine);
      } finally {
        clearInterval(timer);
      }
      if (await batches.complete(opts.cycle, claim.batch, claim.token, opts.node, items, now())) {
        result.mine += 1;
        result.scanned += items.length;
      } else {
        result.lost += 1;
        log('scan.batch-lost', { cycle: opts.cycle, batch: claim.batch, token: claim.token, note: 'its claim ran out and another node scanned it; nothing of ours was recorded' });
      }
      continue;
    }
    let progress;
    try {
      progress = await batches.progress(opts.cycle, now());
    } catch (err) {
      log('scan.progress-error', { error: errorMessage(err) });
      throw err;
    }
    if (progress.done >= progress.batches) {
      result.complete = true;
      return result;
    }
    waitingSince ??= now();
    if (now() - waitingSince >= waitMs) {
      log('scan.cycle-incomplete', { cycle: opts.cycle, done: progress.done, batches: progress.batches, waitedMs: now() - waitingSince });
      return result;
    }
    await sleep(pollMs);
  }
}
