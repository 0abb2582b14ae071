/**
 * ntfy (https://docs.ntfy.sh/publish/): a JSON publish to the server's root URL,
 * {topic, title, message, priority, tags}. The message is at most 4096 bytes (a longer one
 * becomes an attachment), so a long digest is split. The topic works as a password on public
 * servers: it is added at send time, never stored with the message, like the bearer token.
 */
import { bodyLines, headOf, moreLineOf, pack, partSubject, utf8Bytes } from './text.js';
import { JSON_HEADERS, type ChannelFormatter, type FormatInput } from './types.js';
import type { ChannelConfig } from '../../config/types.js';

export const NTFY_MESSAGE_BYTES = 4096;

const PRIORITY = { critical: 5, warning: 4, info: 3 } as const;
const TAGS = { critical: 'rotating_light', warning: 'warning', info: 'white_check_mark' } as const;

function worst(input: FormatInput): keyof typeof PRIORITY {
  if (input.digest.counts.critical > 0) return 'critical';
  if (input.digest.counts.warning > 0) return 'warning';
  return 'info';
}

/** https://ntfy.sh/mytopic → the server's root and the topic. */
export function ntfyTarget(url: string): { root: string; topic: string } {
  const u = new URL(url);
  const segments = u.pathname.replace(/\/+$/, '').split('/');
  const topic = segments.pop() ?? '';
  u.pathname = `${segments.join('/')}/`;
  u.search = '';
  return { root: u.toString(), topic };
}

export const ntfy: ChannelFormatter = {
  render(input) {
    const level = worst(input);
    const { parts } = pack(headOf(input), bodyLines(input), NTFY_MESSAGE_BYTES, utf8Bytes, undefined, moreLineOf(input));
    return parts.map((message, i) => {
      const title = partSubject(input.digest.subject, i, parts.length);
      return { subject: title, text: message, body: { title, message, priority: PRIORITY[level], tags: [TAGS[level]] } };
    });
  },
  request(ch: ChannelConfig, body, _key) {
    const { root, topic } = ntfyTarget(ch.url);
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (ch.token !== undefined) headers.Authorization = `Bearer ${ch.token}`;
    return { method: 'POST', url: root, headers, body: JSON.stringify({ topic, ...(body as object) }) };
  },
};
