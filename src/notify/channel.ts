/**
 * An HTTP channel of notify.channels (issue 17): the outbox row holds the format's body without
 * credentials (formats/types.ts); here the format adds them and the request goes out through
 * webhook.ts's sendHttp, so every channel shares the webhook's timeout, redirect refusal and
 * retry rules. Errors name the channel and its URL as scheme://host/… only, and any credential of
 * the channel that still turns up in a message (an answer echoing the request) is masked.
 */
import type { ChannelConfig } from '../config/types.js';
import { NotifyError } from '../core/errors.js';
import { FORMATTERS, type ChannelPayload } from './formats/index.js';
import { ntfyTarget } from './formats/ntfy.js';
import type { Channel, DeliveryReceipt, OutboxMessage } from './types.js';
import { redactUrl, sendHttp } from './webhook.js';

/** Everything of a channel that must never be shown: tokens, keys, and the paths of discord/teams URLs and the ntfy topic. */
export function channelSecrets(ch: ChannelConfig): string[] {
  const out = [ch.token, ch.accessToken, ch.routingKey].filter((x): x is string => x !== undefined && x !== '');
  if (ch.format === 'discord' || ch.format === 'teams') {
    const u = new URL(ch.url);
    out.push(...u.pathname.split('/').filter((p) => p.length >= 8), ...[...u.searchParams.values()].filter((v) => v.length >= 4));
  }
  if (ch.format === 'ntfy') out.push(ntfyTarget(ch.url).topic);
  return out;
}

function isChannelPayload(p: unknown): p is ChannelPayload {
  return typeof p === 'object' && p !== null && typeof (p as { format?: unknown }).format === 'string' && 'body' in p;
}

export function createHttpChannel(ch: ChannelConfig): Channel {
  const formatter = FORMATTERS[ch.format];
  const secrets = channelSecrets(ch);
  const label = `channel "${ch.name}" (${ch.format})`;
  return {
    name: ch.name,
    async deliver(msg: OutboxMessage): Promise<DeliveryReceipt> {
      if (!isChannelPayload(msg.payload)) throw new NotifyError('webhook', `${label}: message ${msg.key} has no channel payload to send`, false);
      if (msg.payload.format !== ch.format) {
        // The channel's format changed since the message was queued: its body is the old service's.
        throw new NotifyError('webhook', `${label}: message ${msg.key} was rendered for ${msg.payload.format}; notify.channels "${ch.name}" is ${ch.format} now`, false);
      }
      const req = formatter.request(ch, msg.payload.body, msg.key);
      return sendHttp(req, { label, shown: redactUrl(req.url), timeoutMs: ch.timeoutMs, urlKey: `the url of notify.channels "${ch.name}"`, secrets });
    },
  };
}
