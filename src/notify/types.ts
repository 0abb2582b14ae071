/** Contracts between the outbox (src/service/notify.ts) and the delivery channels. */

export type ChannelName = 'email' | 'webhook';

/** One stored outbox message, as a channel delivers it. */
export interface OutboxMessage {
  id: number;
  /** Unique key of the message (e.g. "digest:email:ops@example.com:2026-11-25T03:17:00.000Z"); also the idempotency key sent along. */
  key: string;
  channel: ChannelName;
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

export interface DeliveryReceipt {
  /** What the server answered, e.g. "250 2.0.0 Ok: queued as 4F2A" or "HTTP 204". */
  response: string;
}

export interface Channel {
  readonly name: ChannelName;
  /** Throws NotifyError (retryable or not) when the message was not accepted. */
  deliver(msg: OutboxMessage): Promise<DeliveryReceipt>;
  close?(): Promise<void>;
}
