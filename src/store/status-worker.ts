/**
 * The worker thread of status-reader.ts: its own read-only connection to the store, running
 * ScanRepository.statusText for the batches it claims, from the last one down, until it meets
 * the main thread (see status-reader.ts for the claims).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CertsError, errorMessage } from '../core/errors.js';
import { openDatabase } from './db.js';
import { ScanRepository, type StatusForm } from './scans.js';

export interface StatusWorkerData {
  /** The database file of the caller's store (better-sqlite3's `name`). */
  path: string;
  /** Each batch's targets, as statusParam writes them. */
  batches: string[];
  form: StatusForm;
  /** One Int32 per batch: 0 free, 1 the main thread's, 2 this worker's. */
  claims: SharedArrayBuffer;
}

export type StatusWorkerMessage =
  | { batch: number; text: string | null }
  | { batch: number; error: { code: string; message: string; hint?: string | undefined } }
  | { done: true };

const { path, batches, form, claims } = workerData as StatusWorkerData;
const port = parentPort!;
const flags = new Int32Array(claims);
const db = openDatabase(path, { readonly: true });
const scans = db ? new ScanRepository(db) : null;
try {
  for (let i = batches.length - 1; i >= 0; i--) {
    if (Atomics.compareExchange(flags, i, 0, 2) !== 0) break;
    let message: StatusWorkerMessage;
    try {
      message = { batch: i, text: scans ? scans.statusText(batches[i]!, form) : null };
    } catch (err) {
      message = { batch: i, error: { code: err instanceof CertsError ? err.code : 'read-failed', message: errorMessage(err), ...(err instanceof CertsError && err.hint ? { hint: err.hint } : {}) } };
    }
    port.postMessage(message);
  }
} finally {
  db?.close();
}
port.postMessage({ done: true } satisfies StatusWorkerMessage);
