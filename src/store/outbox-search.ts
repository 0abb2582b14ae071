/**
 * Outbox messages that name one endpoint, for its dashboard detail page (issue 13). Searched in
 * SQL, newest first: a digest of a large fleet carries thousands of events, and reading every
 * stored message's payload to find the few about one endpoint would cost the page seconds.
 */
import { wrapSqliteError, type Db } from './db.js';

export interface OutboxMention {
  createdAt: string;
  channel: 'email' | 'webhook';
  subject: string;
  /** The message text (emails) or the webhook payload, to confirm the match. */
  text: string;
  payload: unknown;
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
}

interface Raw {
  created_at: string;
  channel: 'email' | 'webhook';
  subject: string;
  text: string;
  payload_json: string | null;
  attempts: number;
  last_error: string | null;
  delivered_at: string | null;
}

/**
 * The newest `limit` messages whose webhook payload has `"endpoint":<label>` or, without a
 * payload, whose text contains `label`: candidates, which the caller confirms (the domain of the
 * event, where the label ends in the text).
 */
export function outboxMentioning(db: Db, label: string, limit = 50): OutboxMention[] {
  let rows: Raw[];
  try {
    rows = db
      .prepare(
        `SELECT created_at, channel, subject, text, payload_json, attempts, last_error, delivered_at FROM outbox
         WHERE CASE WHEN payload_json IS NULL THEN instr(text, @label) > 0 ELSE instr(payload_json, @needle) > 0 END
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({ label, needle: `"endpoint":${JSON.stringify(label)}`, limit }) as Raw[];
  } catch (err) {
    throw wrapSqliteError(err, { path: db.name, busyTimeoutMs: 0 }, 'reading the outbox');
  }
  return rows.map((r) => {
    let payload: unknown = null;
    if (r.payload_json !== null) {
      try {
        payload = JSON.parse(r.payload_json) as unknown;
      } catch {
        payload = null;
      }
    }
    return { createdAt: r.created_at, channel: r.channel, subject: r.subject, text: r.text, payload, attempts: r.attempts, lastError: r.last_error, deliveredAt: r.delivered_at };
  });
}
