/**
 * Telegram Bot API sendMessage (https://core.telegram.org/bots/api#sendmessage): {chat_id, text},
 * text at most 4096 characters after entity parsing. No parse_mode: the text is sent as it is,
 * so nothing in it is parsed (a domain with "_" cannot break a message) and the limit is the
 * plain length. The bot token is in the URL path (/bot<token>/): added at send time only.
 */
import { bodyLines, chars, headOf, moreLineOf, pack } from './text.js';
import { JSON_HEADERS, type ChannelFormatter } from './types.js';

export const TELEGRAM_TEXT = 4096;

export const telegram: ChannelFormatter = {
  render(input, ch) {
    const head = `${input.digest.subject}\n${headOf(input)}`;
    const { parts } = pack(head, bodyLines(input), TELEGRAM_TEXT, chars, undefined, moreLineOf(input));
    return parts.map((text, i) => ({
      subject: parts.length > 1 ? `${input.digest.subject} (${i + 1}/${parts.length})` : input.digest.subject,
      text,
      body: { chat_id: ch.chatId, text, link_preview_options: { is_disabled: true } },
    }));
  },
  request(ch, body) {
    return { method: 'POST', url: `${ch.url.replace(/\/+$/, '')}/bot${ch.token ?? ''}/sendMessage`, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
  },
};
