/**
 * Discord (https://discord.com/developers/docs/resources/webhook#execute-webhook): one embed per
 * message, its title ≤ 256 characters and description ≤ 4096 (the 6000 of all embeds together is
 * then never reached); a long digest is split. Mentions are off (allowed_mentions.parse: []) and
 * markdown is escaped, so a certificate field reading "@everyone" or "**" stays text.
 */
import { bodyLines, chars, cut, headOf, moreLineOf, pack, partSubject } from './text.js';
import { JSON_HEADERS, type ChannelFormatter } from './types.js';

export const DISCORD_TITLE = 256;
export const DISCORD_DESCRIPTION = 4096;
const COLOUR = { critical: 0xb42318, warning: 0x8a4b00, info: 0x1a7f37 } as const;

/** Discord markdown's control characters, backslash-escaped. */
export function escapeDiscord(s: string): string {
  return s.replace(/([\\*_~`|>#[\]()-])/g, '\\$1');
}

/** Escaping can double a text's length: measure what will be sent. */
const escapedChars = (s: string): number => chars(escapeDiscord(s));

export const discord: ChannelFormatter = {
  render(input) {
    const level = input.digest.counts.critical > 0 ? 'critical' : input.digest.counts.warning > 0 ? 'warning' : 'info';
    const { parts } = pack(headOf(input), bodyLines(input), DISCORD_DESCRIPTION, escapedChars, undefined, moreLineOf(input));
    return parts.map((text, i) => {
      const title = cut(partSubject(input.digest.subject, i, parts.length), DISCORD_TITLE, chars);
      return {
        subject: title,
        text,
        body: {
          username: 'certs',
          allowed_mentions: { parse: [] },
          embeds: [{ title, description: escapeDiscord(text), color: COLOUR[level], timestamp: input.now.toISOString() }],
        },
      };
    });
  },
  request(ch, body) {
    return { method: 'POST', url: ch.url, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
  },
};
