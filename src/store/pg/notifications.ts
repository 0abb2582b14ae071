/**
 * NotificationStore on PostgreSQL (issue 15): store/notifications.ts's NotificationRepository.
 * commitRun is one transaction, as SQLite's is: a run's sent keys, problem state, messages and
 * meta are all recorded or none. Each of its five parts is one statement over arrays (unnest),
 * not one round trip per row: a 10,000-endpoint fleet's first run marks 10,000 keys.
 */
import { assertPgFence } from './locks.js';
import type { Fence } from '../fence.js';
import type { ActiveRow, NewOutboxMessage, OutboxRow, SeenCert, SeenRow } from '../notifications.js';
import type { NotificationStore } from '../contract.js';
import type { PgDb, PgQueryable } from './db.js';
import { pgLimit } from './renewals.js';

interface OutboxDbRow {
  id: number | string;
  key: string;
  channel: 'email' | 'webhook';
  recipients_json: string;
  subject: string;
  text: string;
  html: string | null;
  payload_json: string | null;
  created_at: string;
  attempts: number | string;
  next_attempt_at: string;
  last_attempt_at: string | null;
  last_error: string | null;
  delivered_at: string | null;
  response: string | null;
  target: string | null;
}

const OUTBOX_COLUMNS = 'id, key, channel, recipients_json, subject, text, html, payload_json, created_at, attempts, next_attempt_at, last_attempt_at, last_error, delivered_at, response, target';

const fromOutbox = (r: OutboxDbRow): OutboxRow => ({
  id: Number(r.id),
  key: r.key,
  channel: r.channel,
  ...(r.target !== null ? { target: r.target } : {}),
  to: JSON.parse(r.recipients_json) as string[],
  subject: r.subject,
  text: r.text,
  html: r.html,
  payload: r.payload_json === null ? null : (JSON.parse(r.payload_json) as unknown),
  createdAt: r.created_at,
  attempts: Number(r.attempts),
  nextAttemptAt: r.next_attempt_at,
  lastAttemptAt: r.last_attempt_at,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  response: r.response,
});

type CommitRun = Parameters<NotificationStore['commitRun']>[0];

function isPgDb(db: PgQueryable | PgDb): db is PgDb {
  return typeof (db as Partial<PgDb>).tx === 'function';
}

/**
 * Runs `fn` atomically: in a transaction of its own on the pool, or — when this store was made
 * for a client already inside a transaction (a snapshot, a caller's tx) — under a savepoint, so
 * a failure undoes this call's writes even when the caller catches it and goes on.
 */
async function atomically<T>(db: PgQueryable | PgDb, fn: (q: PgQueryable) => Promise<T>): Promise<T> {
  if (isPgDb(db)) return db.tx(fn);
  await db.query('SAVEPOINT certs_commit_run');
  try {
    const out = await fn(db);
    await db.query('RELEASE SAVEPOINT certs_commit_run');
    return out;
  } catch (err) {
    await db.query('ROLLBACK TO SAVEPOINT certs_commit_run').catch(() => undefined);
    throw err;
  }
}

export class PgNotificationStore implements NotificationStore {
  constructor(private readonly db: PgQueryable | PgDb) {}

  async sentKeys(): Promise<Set<string>> {
    const { rows } = await this.db.query<{ key: string }>('SELECT key FROM notify_sent');
    return new Set(rows.map((r) => r.key));
  }

  /**
   * The active problems. SQLite returns them in the order they were activated (rowid order, no
   * ORDER BY); PostgreSQL's heap keeps no such order, so they come sorted by endpoint and code.
   * Callers do not depend on the order (the heartbeat and digest sort what they show).
   */
  async active(): Promise<ActiveRow[]> {
    const { rows } = await this.db.query<{ endpoint_key: string; domain: string; endpoint: string; code: string; since: string; message: string }>(
      'SELECT endpoint_key, domain, endpoint, code, since, message FROM notify_active ORDER BY endpoint_key COLLATE "C", code COLLATE "C"');
    return rows.map((r) => ({ endpointKey: r.endpoint_key, domain: r.domain, endpoint: r.endpoint, code: r.code, since: r.since, message: r.message }));
  }

  async seen(): Promise<Map<string, SeenCert>> {
    const { rows } = await this.db.query<{ endpoint_key: string; fingerprint256: string; not_before: string | null; not_after: string | null }>('SELECT endpoint_key, fingerprint256, not_before, not_after FROM notify_seen');
    return new Map(rows.map((r) => [r.endpoint_key, { fingerprint256: r.fingerprint256, notBefore: r.not_before, notAfter: r.not_after }]));
  }

  async meta(key: string): Promise<string | null> {
    const { rows } = await this.db.query<{ value: string }>('SELECT value FROM notify_meta WHERE key = $1', [key]);
    return rows[0]?.value ?? null;
  }

  /**
   * Records what a run decided — sent keys, problem state, messages — in ONE transaction, so a
   * crash either queues everything of the run or nothing (and the next run decides again).
   * Returns the ids of the messages queued, in the order of `run.messages` (a key already queued
   * is not queued twice, nor is a key repeated within the run).
   */
  async commitRun(run: CommitRun, fence?: Fence): Promise<number[]> {
    return atomically(this.db, async (q) => {
      await assertPgFence(q, fence);
      if (run.markSent.length > 0) {
        // In key order: two nodes committing overlapping keys (a lease that ran out mid-run) then
        // wait on each other's rows in the same order instead of deadlocking.
        await q.query('INSERT INTO notify_sent (key, sent_at) SELECT k, $2 FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C" ON CONFLICT (key) DO NOTHING', [run.markSent, run.at]);
      }
      if (run.activate.length > 0) {
        const a = run.activate;
        // WITH ORDINALITY … ORDER BY n: rows go in as listed, so of two entries for one problem
        // the first is kept, as SQLite's row-by-row DO NOTHING keeps it.
        await q.query(`INSERT INTO notify_active (endpoint_key, code, domain, endpoint, since, message)
          SELECT endpoint_key, code, domain, endpoint, since, message
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS a(endpoint_key, code, domain, endpoint, since, message, n)
          ORDER BY n ON CONFLICT (endpoint_key, code) DO NOTHING`,
        [a.map((x) => x.endpointKey), a.map((x) => x.code), a.map((x) => x.domain), a.map((x) => x.endpoint), a.map((x) => x.since), a.map((x) => x.message)]);
      }
      if (run.clear.length > 0) {
        await q.query(`DELETE FROM notify_active a USING unnest($1::text[], $2::text[]) AS c(endpoint_key, code)
          WHERE a.endpoint_key = c.endpoint_key AND a.code = c.code`, [run.clear.map((c) => c.endpointKey), run.clear.map((c) => c.code)]);
      }
      const seen = dedupeSeen(run.seen ?? []);
      if (seen.length > 0) {
        // Key order, as notify_sent's: concurrent committers lock rows in one order.
        await q.query(`INSERT INTO notify_seen (endpoint_key, fingerprint256, seen_at, not_before, not_after)
          SELECT k, f, $3, nb, na FROM unnest($1::text[], $2::text[], $4::text[], $5::text[]) AS s(k, f, nb, na) ORDER BY k COLLATE "C"
          ON CONFLICT (endpoint_key) DO UPDATE SET fingerprint256 = excluded.fingerprint256, seen_at = excluded.seen_at, not_before = excluded.not_before, not_after = excluded.not_after`,
        [seen.map((x) => x.endpointKey), seen.map((x) => x.fingerprint256), run.at, seen.map((x) => x.notBefore ?? null), seen.map((x) => x.notAfter ?? null)]);
      }
      const ids = run.messages.length > 0 ? await insertMessages(q, run.messages) : [];
      const meta = Object.entries(run.meta ?? {});
      if (meta.length > 0) {
        await q.query(`INSERT INTO notify_meta (key, value) SELECT * FROM unnest($1::text[], $2::text[])
          ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [meta.map(([k]) => k), meta.map(([, v]) => v)]);
      }
      return ids;
    });
  }

  /** Undelivered messages due at `now`, oldest first. */
  async due(now: string, limit = 100): Promise<OutboxRow[]> {
    // COLLATE "C": ISO timestamps compare as SQLite compares them (bytes), whatever the locale.
    const { rows } = await this.db.query<OutboxDbRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL AND next_attempt_at COLLATE "C" <= $1 ORDER BY id LIMIT $2`,
      [now, pgLimit(limit)]);
    return rows.map(fromOutbox);
  }

  async list(opts: { pending?: boolean; limit?: number } = {}): Promise<OutboxRow[]> {
    const where = opts.pending ? 'WHERE delivered_at IS NULL' : '';
    const { rows } = await this.db.query<OutboxDbRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox ${where} ORDER BY id DESC LIMIT $1`, [pgLimit(opts.limit ?? 50)]);
    return rows.map(fromOutbox);
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL');
    return Number(rows[0]!.n);
  }

  async markDelivered(id: number, at: string, response: string, node: string | null = null): Promise<void> {
    await this.db.query('UPDATE outbox SET delivered_at = $1, response = $2, attempts = attempts + 1, last_attempt_at = $1, last_error = NULL, delivered_by = $4, claim_until = NULL WHERE id = $3 AND delivered_at IS NULL',
      [at, response, id, node]);
  }

  async markFailed(id: number, at: string, error: string, nextAttemptAt: string, node: string | null = null): Promise<void> {
    await this.db.query('UPDATE outbox SET attempts = attempts + 1, last_attempt_at = $1, last_error = $2, next_attempt_at = $3, claim_until = NULL WHERE id = $4 AND delivered_at IS NULL AND ($5::text IS NULL OR claimed_by = $5)',
      [at, error, nextAttemptAt, id, node]);
  }

  /** store/notifications.ts claimDue: one statement; SKIP LOCKED lets claimers at the same moment take different rows. */
  async claimDue(node: string, now: string, claimUntil: string, limit = 100): Promise<OutboxRow[]> {
    const { rows } = await this.db.query<OutboxDbRow>(`UPDATE outbox SET claimed_by = $1, claim_until = $2
      WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at COLLATE "C" <= $3 AND (claim_until IS NULL OR claim_until COLLATE "C" <= $3)
        ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
      RETURNING ${OUTBOX_COLUMNS}`, [node, claimUntil, now, pgLimit(limit)]);
    return rows.map(fromOutbox).sort((a, b) => a.id - b.id);
  }

  async stillClaimed(id: number, node: string, now: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM outbox WHERE id = $1 AND delivered_at IS NULL AND claimed_by = $2 AND claim_until COLLATE "C" > $3', [id, node, now]);
    return rows.length === 1;
  }
}

/**
 * One row per endpoint, the last given winning (as SQLite's row-by-row upsert leaves it):
 * PostgreSQL refuses to upsert one key twice in a statement.
 */
function dedupeSeen(rows: readonly SeenRow[]): SeenRow[] {
  return [...new Map(rows.map((r) => [r.endpointKey, r])).values()];
}

/** Queues the messages whose key is new; their ids in the order of `messages`. */
async function insertMessages(q: PgQueryable, all: readonly NewOutboxMessage[]): Promise<number[]> {
  // Of two messages with one key the first is queued (SQLite's row-by-row DO NOTHING). Keys
  // already queued are left out before the INSERT, not only by ON CONFLICT: an identity value is
  // drawn for every row offered, so conflicts would leave gaps and the ids would drift from what
  // SQLite hands out for the same calls. ON CONFLICT stays for a concurrent run queueing the key.
  const seen = new Set<string>();
  const messages = all.filter((m) => !seen.has(m.key) && seen.add(m.key));
  const col = <T>(f: (m: NewOutboxMessage) => T): T[] => messages.map(f);
  // ORDER BY n: ids are drawn in the order listed (ascending, as SQLite's rowids are).
  const { rows } = await q.query<{ id: number | string; key: string }>(`INSERT INTO outbox (key, channel, recipients_json, subject, text, html, payload_json, created_at, next_attempt_at, target)
    SELECT key, channel, recipients_json, subject, text, html, payload_json, created_at, next_attempt_at, target
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
      WITH ORDINALITY AS m(key, channel, recipients_json, subject, text, html, payload_json, created_at, next_attempt_at, target, n)
    WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key = m.key)
    ORDER BY n ON CONFLICT (key) DO NOTHING RETURNING id, key`, [
    col((m) => m.key), col((m) => m.channel), col((m) => JSON.stringify(m.to)), col((m) => m.subject), col((m) => m.text), col((m) => m.html),
    col((m) => (m.payload === null ? null : JSON.stringify(m.payload))), col((m) => m.createdAt), col((m) => m.nextAttemptAt), col((m) => m.target ?? null),
  ]);
  // RETURNING's order is not promised: put the ids back in the order of the messages.
  const position = new Map(messages.map((m, i) => [m.key, i]));
  return rows
    .map((r) => ({ id: Number(r.id), at: position.get(r.key) ?? 0 }))
    .sort((x, y) => x.at - y.at)
    .map((r) => r.id);
}
