/**
 * ScanRepository.statusText for many batches of targets, in order, with a worker thread on a
 * connection of its own taking batches from the end while this thread takes them from the start
 * (a shared Int32 per batch says whose it is): at 100,000 endpoints SQLite serialising the rows
 * is most of `status --json`, and the machine has a second core. Below WORKER_MIN_BATCHES the
 * worker's start (a V8 isolate, the store's modules) costs more than it saves, and everything
 * is read here. A worker that fails to start or dies leaves its batches to this thread.
 */
import { Worker } from 'node:worker_threads';
import { StoreError, type StoreErrorCode } from '../core/errors.js';
import type { Store } from './index.js';
import { statusParam, type StatusForm, type StatusTarget } from './scans.js';
import type { StatusWorkerData, StatusWorkerMessage } from './status-worker.js';

/** 40 batches of 500 targets: 20,000 endpoints. */
const WORKER_MIN_BATCHES = 40;
const UNDER_TSX = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./status-worker${UNDER_TSX ? '.ts' : '.js'}`, import.meta.url);

function startWorker(data: StatusWorkerData): Worker {
  // Under tsx (the tests) a worker thread does not get the loader: it registers it, then loads the module.
  if (UNDER_TSX) return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`, { eval: true, workerData: data });
  return new Worker(WORKER_URL, { workerData: data });
}

export interface StatusTextsOptions {
  /** What each row carries (default 'json'). */
  form?: StatusForm;
  /** Fewest batches for which the worker is started (tests lower it). */
  workerMinBatches?: number;
  /** Counts the batches the worker read (tests read it). */
  stats?: { fromWorker: number };
  /** Wait for the worker's first answer before reading here (tests: small batches are read before a worker starts). */
  workerFirst?: boolean;
}

export async function* statusTexts(store: Store, batches: StatusTarget[][], opts: StatusTextsOptions = {}): AsyncGenerator<string | null> {
  const form = opts.form ?? 'json';
  // An in-memory database cannot be opened a second time.
  if (batches.length < (opts.workerMinBatches ?? WORKER_MIN_BATCHES) || store.db.memory) {
    for (const b of batches) yield store.scans.statusText(b, form);
    return;
  }
  // As strings, which the worker gets as they are (objects would be copied one by one).
  const params = batches.map(statusParam);
  const claims = new SharedArrayBuffer(4 * batches.length);
  const flags = new Int32Array(claims);
  const results = new Map<number, Exclude<StatusWorkerMessage, { done: true }>>();
  let waiting: (() => void) | undefined;
  let gone = false;
  const wake = (): void => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  let worker: Worker | undefined;
  try {
    worker = startWorker({ path: store.db.name, batches: params, form, claims });
    worker.on('message', (m: StatusWorkerMessage) => {
      if ('batch' in m) results.set(m.batch, m);
      else gone = true;
      wake();
    });
    worker.on('error', () => { gone = true; wake(); });
    worker.on('exit', () => { gone = true; wake(); });
  } catch (err) {
    void err; // no worker: this thread reads every batch
    gone = true;
  }
  try {
    if (opts.workerFirst) while (results.size === 0 && !gone) await new Promise<void>((resolve) => { waiting = resolve; });
    for (let i = 0; i < batches.length; i++) {
      if (Atomics.compareExchange(flags, i, 0, 1) === 0) {
        yield store.scans.statusText(params[i]!, form);
        continue;
      }
      // The worker's: wait for it, unless it is gone without answering.
      while (!results.has(i) && !gone) await new Promise<void>((resolve) => { waiting = resolve; });
      const m = results.get(i);
      results.delete(i);
      if (m === undefined) yield store.scans.statusText(params[i]!, form);
      else if ('error' in m) throw new StoreError(m.error.code as StoreErrorCode, m.error.message, m.error.hint ? { hint: m.error.hint } : {});
      else {
        if (opts.stats) opts.stats.fromWorker++;
        yield m.text;
      }
    }
  } finally {
    await worker?.terminate();
  }
}
