/**
 * PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
 * one event per certs event, not a digest, since PagerDuty opens and closes alerts one by one.
 *
 * - problem → trigger, dedup_key "certs:<endpointKey>:<code>"; its recovery → resolve with the
 *   same key, which closes that alert.
 * - expiry → trigger, dedup_key "certs:<endpointKey>:expiry:<fingerprint>": each threshold of one
 *   certificate updates the same alert instead of opening another.
 * - run and store events → trigger, dedup_key "certs:<event key>".
 * - heartbeats: none (a heartbeat must not page anyone).
 *
 * summary ≤ 1024 characters, dedup_key ≤ 255 (a longer one is hashed), custom_details values cut
 * to 1000 characters. The routing key goes in the body: it is added at send time only.
 */
import { createHash } from 'node:crypto';
import type { NotifyEvent } from '../../core/notify-policy.js';
import { eventLabel } from '../../core/digest.js';
import { chars, cut } from './text.js';
import { JSON_HEADERS, type ChannelFormatter } from './types.js';

export const PAGERDUTY_SUMMARY = 1024;
export const PAGERDUTY_DEDUP_KEY = 255;
const DETAIL = 1000;

function bounded(key: string): string {
  return key.length <= PAGERDUTY_DEDUP_KEY ? key : `certs:sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** The dedup_key of an event: a problem's trigger and its recovery's resolve share it. */
export function pagerdutyDedupKey(e: Pick<NotifyEvent, 'kind' | 'key' | 'endpointKey' | 'code' | 'fingerprint256'>): string {
  if ((e.kind === 'problem' || e.kind === 'recovery') && e.code !== undefined) return bounded(`certs:${e.endpointKey}:${e.code}`);
  if (e.kind === 'expiry') return bounded(`certs:${e.endpointKey}:expiry:${e.fingerprint256 ?? ''}`);
  return bounded(`certs:${e.key}`);
}

export const pagerduty: ChannelFormatter = {
  render(input) {
    if (input.kind === 'heartbeat') return [];
    return input.events.map((e) => {
      const dedup_key = pagerdutyDedupKey(e);
      const subject = cut(e.message, PAGERDUTY_SUMMARY, chars);
      if (e.kind === 'recovery') return { subject, text: e.message, body: { event_action: 'resolve', dedup_key } };
      const details: Record<string, string | number | null> = { kind: e.kind, domain: e.domain, endpoint: e.endpoint };
      if (e.code !== undefined) details.code = e.code;
      if (e.daysLeft !== null) details.daysLeft = e.daysLeft;
      if (e.notAfter !== null) details.notAfter = e.notAfter;
      if (e.threshold !== undefined) details.threshold = e.threshold;
      if (e.issuer) details.issuer = cut(e.issuer, DETAIL, chars);
      if (e.detail !== undefined) details.detail = cut(e.detail, DETAIL, chars);
      if (e.fix !== undefined) details.fix = cut(e.fix, DETAIL, chars);
      return {
        subject,
        text: e.message,
        body: {
          event_action: 'trigger',
          dedup_key,
          payload: {
            summary: subject,
            source: e.kind === 'node-silent' ? 'certs cluster' : e.endpoint,
            severity: e.severity,
            timestamp: input.now.toISOString(),
            component: e.domain === '' ? 'certs' : e.domain,
            group: 'certs',
            class: eventLabel(e),
            custom_details: details,
          },
          client: 'certs',
        },
      };
    });
  },
  request(ch, body) {
    return { method: 'POST', url: ch.url, headers: { ...JSON_HEADERS }, body: JSON.stringify({ routing_key: ch.routingKey ?? '', ...(body as object) }) };
  },
};
