/**
 * Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is
 * received"), which takes Adaptive Cards only: {type: "message", attachments: [{contentType:
 * "application/vnd.microsoft.card.adaptive", content: <card>}]}. A message is at most about 28 KB,
 * so the card is summarised, not split (one card per digest reads better in a channel): events
 * are added while the whole payload stays under 27,000 bytes, then one line counts the rest.
 */
import { STATUS_LABELS } from '../../core/digest.js';
import { cut, chars, moreLineOf, utf8Bytes } from './text.js';
import { JSON_HEADERS, type ChannelFormatter } from './types.js';

export const TEAMS_PAYLOAD_BYTES = 27_000;
const COLOUR = { critical: 'Attention', warning: 'Warning', recovered: 'Good', open: 'Default' } as const;

type Block = Record<string, unknown>;

/**
 * Adaptive Cards render a CommonMark subset (bold, italics, lists, links) and expand
 * {{DATE(…)}}/{{TIME(…)}}: a certificate field or banner must stay text, so the characters that
 * open those (and the backslash itself) are backslash-escaped, CommonMark's own escape; nothing
 * else, since every escape shows where a client renders less than CommonMark.
 */
export function escapeTeams(s: string): string {
  return s.replace(/[\\*_[\]{}]/g, (c) => `\\${c}`);
}

function payload(blocks: Block[]): unknown {
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', msteams: { width: 'Full' }, body: blocks },
    }],
  };
}

export const teams: ChannelFormatter = {
  render(input) {
    const d = input.digest;
    const level = d.counts.critical > 0 ? 'critical' : d.counts.warning > 0 ? 'warning' : 'recovered';
    const head: Block[] = [
      { type: 'TextBlock', text: escapeTeams(d.subject), weight: 'Bolder', size: 'Medium', wrap: true, color: COLOUR[level] },
      { type: 'TextBlock', text: escapeTeams(d.story), wrap: true },
      { type: 'TextBlock', text: escapeTeams(d.summary), wrap: true, isSubtle: true, spacing: 'None' },
    ];
    const blocks = [...head];
    const size = (b: Block[]): number => utf8Bytes(JSON.stringify(payload(b)));
    const more = moreLineOf(input);
    let shown = 0;
    for (const r of d.rows) {
      const line: Block = { type: 'TextBlock', text: cut(`**${STATUS_LABELS[r.status]}** ${escapeTeams(`${r.domain} ${r.endpoint}: ${r.problem}`)}`, 2000, chars), wrap: true, color: COLOUR[r.status], separator: true };
      const fix: Block[] = r.fix ? [{ type: 'TextBlock', text: cut(`fix: ${escapeTeams(r.fix)}`, 2000, chars), wrap: true, isSubtle: true, spacing: 'None' }] : [];
      // Room is kept for the count line whenever something may still follow.
      if (size([...blocks, line, ...fix, { type: 'TextBlock', text: escapeTeams(more(d.rows.length)), wrap: true }]) > TEAMS_PAYLOAD_BYTES) break;
      blocks.push(line, ...fix);
      shown += 1;
    }
    if (shown < d.rows.length) blocks.push({ type: 'TextBlock', text: escapeTeams(more(d.rows.length - shown)), wrap: true, isSubtle: true });
    const text = [d.story, d.summary, ...d.rows.slice(0, shown).map((r) => `${STATUS_LABELS[r.status]} ${r.domain} ${r.endpoint}: ${r.problem}`)].join('\n');
    return [{ subject: d.subject, text, body: payload(blocks) }];
  },
  request(ch, body) {
    return { method: 'POST', url: ch.url, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
  },
};
