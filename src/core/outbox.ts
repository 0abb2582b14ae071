/** The outbox message shape shared by the store (which keeps it) and the channels (which deliver it). */

export type ChannelName = 'email' | 'webhook';

/** One stored outbox message, as a channel delivers it. */
export interface OutboxMessage {
  id: number;
  /** Unique key of the message (e.g. "digest:email:ops@example.com:2026-11-25T03:17:00.000Z"); also the idempotency key sent along. */
  key: string;
  channel: ChannelName;
  /**
   * The configured channel (notify.channels[].name) an HTTP message is for; absent for the
   * messages of notify.email and notify.webhook, which `channel` alone dispatches.
   */
  target?: string;
  /** Email recipients (empty for webhooks). */
  to: string[];
  subject: string;
  text: string;
  /** The HTML alternative of an email (null for webhooks). */
  html: string | null;
  /** The documented JSON body of a webhook (see src/notify/webhook.ts); null for emails. */
  payload: unknown;
  createdAt: string;
}
