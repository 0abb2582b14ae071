/**
 * notify.channels (issue 17): HTTP channels beyond email and the generic webhook. Each format
 * names the fields it needs; a missing or extra one is a load error naming its path. Values that
 * carry a credential (tokens, the routing key, and the whole URL of discord and teams, whose path
 * is the secret) are never quoted in a message, even when written inline.
 */
import { at, secret } from './schema-common.js';
import { isLoopbackHost } from './schema-extras.js';
import type { Checker, KeyPath } from './kit.js';
import { CHANNEL_FORMATS, NOTIFY_EVENT_TYPES, type ChannelConfig, type ChannelFormat, type NotifyEventType } from './types.js';

export const CHANNEL_NAME_RE = /^[a-z0-9-]{1,32}$/;
/** The legacy sections behave as channels of these names. */
export const RESERVED_CHANNEL_NAMES = ['email', 'webhook'] as const;

export const TELEGRAM_API = 'https://api.telegram.org';
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const COMMON = ['name', 'format', 'thresholds', 'events', 'timeoutMs'] as const;
/** The keys each format takes beyond COMMON. */
const FORMAT_KEYS: Readonly<Record<ChannelFormat, readonly string[]>> = {
  ntfy: ['url', 'token'],
  gotify: ['url', 'token'],
  discord: ['url'],
  teams: ['url'],
  telegram: ['url', 'token', 'chatId'],
  matrix: ['homeserver', 'roomId', 'accessToken'],
  pagerduty: ['url', 'routingKey'],
};

/** An http(s) URL checked without ever quoting it (a discord or teams URL is its own secret). */
function secretUrl(c: Checker, v: unknown, path: KeyPath, schemes: readonly string[]): string {
  const s = secret(c, v, path).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return c.fail(path, `expected a URL (${schemes.map((x) => `${x}://`).join(' or ')}); the value is not shown, it may hold a secret`);
  }
  if (!schemes.includes(u.protocol.slice(0, -1)) || u.hostname === '') {
    return c.fail(path, `expected a URL (${schemes.map((x) => `${x}://`).join(' or ')}), got a ${u.protocol}// URL; the value is not shown, it may hold a secret`);
  }
  return s;
}

/** `events: {off: [...]}` of a channel, and of notify.email / notify.webhook. */
export function eventsOff(c: Checker, v: unknown, path: KeyPath): NotifyEventType[] {
  const o = c.mapping(v, path, ['off']);
  if (o.off == null) return [];
  const p = at(path, 'off');
  const items = c.list(o.off, p, `a list of event types (${NOTIFY_EVENT_TYPES.join(', ')})`);
  return [...new Set(items.map((x, i) => c.oneOf(x, [...p, i], NOTIFY_EVENT_TYPES)))];
}

function checkChannel(c: Checker, v: unknown, path: KeyPath, checkThresholds: (v: unknown, p: KeyPath) => number[]): ChannelConfig {
  // The format first: it decides which keys are allowed.
  const peek = c.mapping(v, path, [...COMMON, ...new Set(Object.values(FORMAT_KEYS).flat())]);
  const name = c.required(peek.name, at(path, 'name'), 'a channel name like "ops-ntfy"', (x, q) => {
    const s = c.string(x, q, 'a channel name like "ops-ntfy"');
    if (!CHANNEL_NAME_RE.test(s)) return c.fail(q, `expected 1 to 32 lower-case letters, digits or "-", got ${JSON.stringify(s)}`);
    if ((RESERVED_CHANNEL_NAMES as readonly string[]).includes(s)) return c.fail(q, `"${s}" is the name of notify.${s}; pick another name`);
    return s;
  });
  const format = c.required(peek.format, at(path, 'format'), `one of ${CHANNEL_FORMATS.join(', ')}`, (x, q) => c.oneOf(x, q, CHANNEL_FORMATS));
  const o = c.mapping(v, path, [...COMMON, ...FORMAT_KEYS[format]]);
  const need = (key: string, what: string, check: (x: unknown, q: KeyPath) => string): string =>
    c.required(o[key], at(path, key), `${what} (notify.channels format ${format} needs it)`, check);
  const maybe = (key: string, check: (x: unknown, q: KeyPath) => string): string | undefined => c.optional(o[key], at(path, key), check);
  const sec = (x: unknown, q: KeyPath): string => secret(c, x, q);
  const https = (x: unknown, q: KeyPath): string => secretUrl(c, x, q, ['https', 'http']);
  const out: ChannelConfig = {
    name,
    format,
    url: '',
    events: { off: o.events == null ? [] : eventsOff(c, o.events, at(path, 'events')) },
    timeoutMs: c.optional(o.timeoutMs, at(path, 'timeoutMs'), (x, q) => c.integer(x, q, 100, 600_000)) ?? 10_000,
  };
  const thresholds = c.optional(o.thresholds, at(path, 'thresholds'), checkThresholds);
  if (thresholds !== undefined) out.thresholds = thresholds;
  switch (format) {
    case 'ntfy': {
      out.url = need('url', 'the topic URL, like https://ntfy.sh/mytopic', https);
      const topic = new URL(out.url).pathname.replace(/\/+$/, '').split('/').pop() ?? '';
      if (!/^[-_A-Za-z0-9]{1,64}$/.test(topic)) c.fail(at(path, 'url'), 'expected the topic as the last part of the path, like https://ntfy.sh/mytopic (1 to 64 letters, digits, "-" or "_")');
      const token = maybe('token', sec);
      if (token !== undefined) out.token = token;
      break;
    }
    case 'gotify':
      out.url = need('url', 'the Gotify server URL, like https://gotify.example.com', https);
      out.token = need('token', 'the application token', sec);
      break;
    case 'discord':
    case 'teams':
      out.url = need('url', format === 'discord' ? 'the channel webhook URL (https://discord.com/api/webhooks/…)' : 'the Workflows webhook URL ("Post to a channel when a webhook request is received")', https);
      break;
    case 'telegram':
      out.url = maybe('url', https) ?? TELEGRAM_API;
      out.token = need('token', 'the bot token from @BotFather', sec);
      out.chatId = need('chatId', 'the chat id (a number like -1001234567890, or @channelname)', (x, q) => {
        const s = typeof x === 'number' && Number.isSafeInteger(x) ? String(x) : c.string(x, q, 'a chat id');
        return /^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$/.test(s) ? s : c.fail(q, `expected a chat id (a number, or @channelname), got ${JSON.stringify(s)}`);
      });
      break;
    case 'matrix':
      out.homeserver = need('homeserver', 'the homeserver URL, like https://matrix.example.org', (x, q) => {
        // The access token travels with every request: https, except to this machine (a local proxy, tests).
        const u = secretUrl(c, x, q, ['https', 'http']);
        return u.startsWith('http:') && !isLoopbackHost(new URL(u).hostname) ? c.fail(q, 'expected an https:// URL (http:// only on a loopback address): the access token is sent with every request') : u;
      }).replace(/\/+$/, '');
      out.url = out.homeserver;
      out.roomId = need('roomId', 'a room id like "!abc:example.org"', (x, q) => {
        const s = c.string(x, q, 'a room id');
        return /^![^:\s]+:\S+$/.test(s) ? s : c.fail(q, `expected a room id like "!abc:example.org" (not an alias), got ${JSON.stringify(s)}`);
      });
      out.accessToken = need('accessToken', 'the access token (e.g. "${env:MATRIX_TOKEN}")', sec);
      break;
    case 'pagerduty':
      out.url = maybe('url', https) ?? PAGERDUTY_EVENTS_URL;
      out.routingKey = need('routingKey', 'the Events API v2 integration key', sec);
      break;
  }
  return out;
}

export function checkChannels(c: Checker, v: unknown, path: KeyPath, checkThresholds: (v: unknown, p: KeyPath) => number[]): ChannelConfig[] {
  const items = c.list(v, path, 'a list of channels like [{name: ops, format: ntfy, url: https://ntfy.sh/topic}]');
  const seen = new Map<string, number>();
  return items.map((x, i) => {
    const ch = checkChannel(c, x, [...path, i], checkThresholds);
    const first = seen.get(ch.name);
    if (first !== undefined) c.fail([...path, i, 'name'], `"${ch.name}" is already the name of notify.channels[${first}]`);
    seen.set(ch.name, i);
    return ch;
  });
}

/** The channel names a domain may route to: the configured channels, and email / webhook when those sections are set. */
export function channelNames(notify: { email?: unknown; webhook?: unknown; channels?: readonly ChannelConfig[] } | undefined): string[] {
  if (!notify) return [];
  return [...(notify.email ? ['email'] : []), ...(notify.webhook ? ['webhook'] : []), ...(notify.channels ?? []).map((ch) => ch.name)];
}
