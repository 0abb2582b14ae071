/** Contracts between the outbox (src/service/notify.ts) and the delivery channels. */

export type { ChannelName, OutboxMessage } from '../core/outbox.js';
import type { ChannelName, OutboxMessage } from '../core/outbox.js';

export interface DeliveryReceipt {
  /** What the server answered, e.g. "250 2.0.0 Ok: queued as 4F2A" or "HTTP 204". */
  response: string;
}

export interface Channel {
  /** email, webhook, or a notify.channels name. */
  readonly name: ChannelName | (string & {});
  /** Throws NotifyError (retryable or not) when the message was not accepted. */
  deliver(msg: OutboxMessage): Promise<DeliveryReceipt>;
  close?(): Promise<void>;
}
