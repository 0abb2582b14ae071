/**
 * Gotify (https://gotify.net/api-docs, POST /message): {title, message, priority, extras}, the
 * application token in the X-Gotify-Key header (not the ?token= query, which servers log).
 * Gotify documents no size limit; 16 KiB per message keeps a digest readable on a phone and
 * splits a fleet's into a few.
 */
import { bodyLines, headOf, moreLineOf, pack, partSubject, utf8Bytes } from './text.js';
import { JSON_HEADERS, type ChannelFormatter } from './types.js';

export const GOTIFY_MESSAGE_BYTES = 16_384;
const PRIORITY = { critical: 8, warning: 5, info: 2 } as const;

export const gotify: ChannelFormatter = {
  render(input) {
    const level = input.digest.counts.critical > 0 ? 'critical' : input.digest.counts.warning > 0 ? 'warning' : 'info';
    const { parts } = pack(headOf(input), bodyLines(input), GOTIFY_MESSAGE_BYTES, utf8Bytes, undefined, moreLineOf(input));
    return parts.map((message, i) => {
      const title = partSubject(input.digest.subject, i, parts.length);
      return { subject: title, text: message, body: { title, message, priority: PRIORITY[level], extras: { 'client::display': { contentType: 'text/plain' } } } };
    });
  },
  request(ch, body) {
    const url = `${ch.url.replace(/\/+$/, '')}/message`;
    return { method: 'POST', url, headers: { ...JSON_HEADERS, 'X-Gotify-Key': ch.token ?? '' }, body: JSON.stringify(body) };
  },
};
