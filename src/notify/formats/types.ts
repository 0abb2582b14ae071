/**
 * The contract of a channel format (issue 17). Two pure steps, so no secret is ever stored:
 *
 * - render(input, channel) → parts: what the outbox keeps, one row per part. A part's body is
 *   the service's request body WITHOUT credentials (no token, routing key or secret URL), sized
 *   to the service's documented limits; a long digest becomes several parts or one summarised.
 * - request(channel, body, key) → the HTTP request, credentials added at send time. `key` is the
 *   outbox key: the same on every retry, so a service that deduplicates (Matrix's txnId) drops a
 *   copy.
 */
import type { ChannelConfig, ChannelFormat } from '../../config/types.js';
import type { Digest, NotifyEvent } from '../../core/notify-policy.js';

export interface HttpRequest {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface FormatInput {
  kind: 'digest' | 'heartbeat';
  digest: Digest;
  /** The channel's events in urgency order (empty for a heartbeat). */
  events: readonly NotifyEvent[];
  now: Date;
}

export interface RenderedPart {
  /** For `certs notify list` and logs: the digest's subject, with "(2/3)" when split. */
  subject: string;
  /** The plain text of the part, for `certs notify list` and the dashboard's search. */
  text: string;
  /** The request body without credentials (JSON). */
  body: unknown;
}

/** What an outbox row of an HTTP channel holds in payload_json. */
export interface ChannelPayload {
  format: ChannelFormat;
  body: unknown;
}

export interface ChannelFormatter {
  render(input: FormatInput, channel: ChannelConfig): RenderedPart[];
  request(channel: ChannelConfig, body: unknown, key: string): HttpRequest;
}

export const JSON_HEADERS: Readonly<Record<string, string>> = { 'Content-Type': 'application/json', 'User-Agent': 'certs' };
