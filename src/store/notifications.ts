import { assertFence, type Fence } from './fence.js';
import type { Db } from './db.js';
import type { OutboxMessage } from '../core/outbox.js';

export interface ActiveRow {
  endpointKey: string;
  domain: string;
  endpoint: string;
  code: string;
  since: string;
  message: string;
}

export interface OutboxRow extends OutboxMessage {
  attempts: number;
  nextAttemptAt: string;
  lastAttemptAt: string | null;
  lastError: string | null;
  deliveredAt: string | null;
  response: string | null;
}

export type NewOutboxMessage = Omit<OutboxMessage, 'id'> & { nextAttemptAt: string };

/** The fingerprint an endpoint served when notifications were last decided (unexpected-change). */
export interface SeenRow {
  endpointKey: string;
  fingerprint256: string;
  /** The certificate's validity (ISO), when the report had it. */
  notBefore?: string | null;
  notAfter?: string | null;
}

/** What seen() gives per endpoint. */
export interface SeenCert {
  fingerprint256: string;
  notBefore: string | null;
  notAfter: string | null;
}

/** What one run decided: commitRun's argument. */
export interface CommitRunInput {
  at: string;
  markSent: string[];
  activate: ActiveRow[];
  clear: Array<Pick<ActiveRow, 'endpointKey' | 'code'>>;
  messages: NewOutboxMessage[];
  meta?: Record<string, string>;
  /** Fingerprints served now, recorded (replacing the previous one) with the run. */
  seen?: SeenRow[];
}

interface OutboxDbRow {
  id: number;
  key: string;
  channel: 'email' | 'webhook';
  recipients_json: string;
  subject: string;
  text: string;
  html: string | null;
  payload_json: string | null;
  created_at: string;
  attempts: number;
  next_attempt_at: string;
  last_attempt_at: string | null;
  last_error: string | null;
  delivered_at: string | null;
  response: string | null;
  target: string | null;
}

const fromOutbox = (r: OutboxDbRow): OutboxRow => ({
  id: r.id,
  key: r.key,
  channel: r.channel,
  ...(r.target !== null && r.target !== undefined ? { target: r.target } : {}),
  to: JSON.parse(r.recipients_json) as string[],
  subject: r.subject,
  text: r.text,
  html: r.html,
  payload: r.payload_json === null ? null : (JSON.parse(r.payload_json) as unknown),
  createdAt: r.created_at,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastAttemptAt: r.last_attempt_at,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  response: r.response,
});

/** Notification state: which warnings went out, which problems are active, and the outbox. */
export class NotificationRepository {
  constructor(private readonly db: Db) {}

  sentKeys(): Set<string> {
    return new Set(this.db.prepare('SELECT key FROM notify_sent').pluck().all() as string[]);
  }

  active(): ActiveRow[] {
    return (this.db.prepare('SELECT endpoint_key, domain, endpoint, code, since, message FROM notify_active').all() as Array<{ endpoint_key: string; domain: string; endpoint: string; code: string; since: string; message: string }>)
      .map((r) => ({ endpointKey: r.endpoint_key, domain: r.domain, endpoint: r.endpoint, code: r.code, since: r.since, message: r.message }));
  }

  /** endpointKey → the certificate it served when notifications were last decided. */
  seen(): Map<string, SeenCert> {
    const rows = this.db.prepare('SELECT endpoint_key, fingerprint256, not_before, not_after FROM notify_seen').raw(true).all() as Array<[string, string, string | null, string | null]>;
    return new Map(rows.map(([k, fingerprint256, notBefore, notAfter]) => [k, { fingerprint256, notBefore, notAfter }]));
  }

  meta(key: string): string | null {
    return (this.db.prepare('SELECT value FROM notify_meta WHERE key = ?').pluck().get(key) as string | undefined) ?? null;
  }

  /**
   * Records what a run decided — sent keys, problem state, messages — in ONE transaction, so a
   * crash either queues everything of the run or nothing (and the next run decides again).
   * Returns the ids of the messages queued (a key already queued is not queued twice).
   */
  commitRun(run: CommitRunInput, fence?: Fence): number[] {
    return this.db.transaction(() => {
      assertFence(this.db, fence);
      const sent = this.db.prepare('INSERT INTO notify_sent (key, sent_at) VALUES (?, ?) ON CONFLICT(key) DO NOTHING');
      for (const k of run.markSent) sent.run(k, run.at);
      const act = this.db.prepare('INSERT INTO notify_active (endpoint_key, code, domain, endpoint, since, message) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(endpoint_key, code) DO NOTHING');
      for (const a of run.activate) act.run(a.endpointKey, a.code, a.domain, a.endpoint, a.since, a.message);
      const clr = this.db.prepare('DELETE FROM notify_active WHERE endpoint_key = ? AND code = ?');
      for (const c of run.clear) clr.run(c.endpointKey, c.code);
      const seen = this.db.prepare(`INSERT INTO notify_seen (endpoint_key, fingerprint256, seen_at, not_before, not_after) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(endpoint_key) DO UPDATE SET fingerprint256 = excluded.fingerprint256, seen_at = excluded.seen_at, not_before = excluded.not_before, not_after = excluded.not_after`);
      for (const x of run.seen ?? []) seen.run(x.endpointKey, x.fingerprint256, run.at, x.notBefore ?? null, x.notAfter ?? null);
      const ins = this.db.prepare(`INSERT INTO outbox (key, channel, recipients_json, subject, text, html, payload_json, created_at, next_attempt_at, target)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`);
      const ids: number[] = [];
      for (const m of run.messages) {
        const info = ins.run(m.key, m.channel, JSON.stringify(m.to), m.subject, m.text, m.html, m.payload === null ? null : JSON.stringify(m.payload), m.createdAt, m.nextAttemptAt, m.target ?? null);
        if (info.changes === 1) ids.push(Number(info.lastInsertRowid));
      }
      const meta = this.db.prepare('INSERT INTO notify_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      for (const [k, v] of Object.entries(run.meta ?? {})) meta.run(k, v);
      return ids;
    }).immediate();
  }

  /** Undelivered messages due at `now`, oldest first. */
  due(now: string, limit = 100): OutboxRow[] {
    return (this.db.prepare('SELECT * FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?').all(now, limit) as OutboxDbRow[]).map(fromOutbox);
  }

  list(opts: { pending?: boolean; limit?: number } = {}): OutboxRow[] {
    const where = opts.pending ? 'WHERE delivered_at IS NULL' : '';
    return (this.db.prepare(`SELECT * FROM outbox ${where} ORDER BY id DESC LIMIT ?`).all(opts.limit ?? 50) as OutboxDbRow[]).map(fromOutbox);
  }

  pendingCount(): number {
    return this.db.prepare('SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL').pluck().get() as number;
  }

  /** Records a delivery (by `node`, issue 16); a message delivered already stays as it was. */
  markDelivered(id: number, at: string, response: string, node: string | null = null): void {
    this.db.prepare('UPDATE outbox SET delivered_at = ?, response = ?, attempts = attempts + 1, last_attempt_at = ?, last_error = NULL, delivered_by = ?, claim_until = NULL WHERE id = ? AND delivered_at IS NULL').run(at, response, at, node, id);
  }

  /** Records a failed attempt and frees the claim (the next attempt may be any node's); with `node`, only that node's claim. */
  markFailed(id: number, at: string, error: string, nextAttemptAt: string, node: string | null = null): void {
    this.db.prepare('UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, next_attempt_at = ?, claim_until = NULL WHERE id = ? AND delivered_at IS NULL AND (? IS NULL OR claimed_by = ?)').run(at, error, nextAttemptAt, id, node, node);
  }

  /**
   * Claims up to `limit` due messages for `node` until `claimUntil` (issue 16): only messages
   * nobody holds a live claim on. The node sends what it claimed, so no two nodes send one
   * message; a claim that ran out (the node died) can be taken by another.
   */
  claimDue(node: string, now: string, claimUntil: string, limit = 100): OutboxRow[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT * FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? AND (claim_until IS NULL OR claim_until <= ?) ORDER BY id LIMIT ?').all(now, now, limit) as OutboxDbRow[];
      const claim = this.db.prepare('UPDATE outbox SET claimed_by = ?, claim_until = ? WHERE id = ?');
      for (const r of rows) claim.run(node, claimUntil, r.id);
      return rows.map(fromOutbox);
    }).immediate();
  }

  /** Whether `node` still holds a live claim on an undelivered message: asked right before sending. */
  stillClaimed(id: number, node: string, now: string): boolean {
    return this.db.prepare('SELECT 1 FROM outbox WHERE id = ? AND delivered_at IS NULL AND claimed_by = ? AND claim_until > ?').get(id, node, now) !== undefined;
  }
}
