/**
 * Each channel format's size limits (issue 17): a fleet's digest is split into at most MAX_PARTS
 * messages within the service's limit, and what does not fit is counted, never dropped silently;
 * Teams summarises into one card; PagerDuty bounds summary and dedup_key.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelConfig, ChannelFormat } from '../../../src/config/types.js';
import { buildDigest, type NotifyEvent } from '../../../src/core/notify-policy.js';
import { FORMATTERS } from '../../../src/notify/formats/index.js';
import { DISCORD_DESCRIPTION, DISCORD_TITLE } from '../../../src/notify/formats/discord.js';
import { MATRIX_BODY_BYTES, matrixTxnId } from '../../../src/notify/formats/matrix.js';
import { NTFY_MESSAGE_BYTES } from '../../../src/notify/formats/ntfy.js';
import { PAGERDUTY_DEDUP_KEY, PAGERDUTY_SUMMARY, pagerdutyDedupKey } from '../../../src/notify/formats/pagerduty.js';
import { TEAMS_PAYLOAD_BYTES } from '../../../src/notify/formats/teams.js';
import { TELEGRAM_TEXT } from '../../../src/notify/formats/telegram.js';
import { MAX_PARTS, pack } from '../../../src/notify/formats/text.js';

const NOW = new Date('2031-01-01T00:00:00.000Z');

function event(i: number, long = false): NotifyEvent {
  const domain = `${long ? 'very-long-label-'.repeat(10) : ''}host${String(i).padStart(4, '0')}.example.com`;
  return {
    key: `problem:${domain}:incomplete-chain`,
    kind: 'problem',
    severity: 'critical',
    domain,
    endpoint: `${domain}:443`,
    endpointKey: `tls|${domain}|${domain}|443|`,
    fingerprint256: `FP${i}`,
    daysLeft: 40,
    notAfter: '2031-02-10T00:00:00.000Z',
    code: 'incomplete-chain',
    message: `${domain} ${domain}:443: incomplete-chain: the intermediate is missing — ünïcödé ✓`,
    detail: 'the intermediate is missing — ünïcödé ✓',
    fix: `serve the fullchain of ${domain}`,
    issuer: 'CN=R11',
  };
}

function channel(format: ChannelFormat): ChannelConfig {
  return { name: 'c', format, url: 'https://svc.example/topic', token: 't0k3n', chatId: '-100', homeserver: 'https://m.example', roomId: '!r:m.example', accessToken: 'at', routingKey: 'rk', events: { off: [] }, timeoutMs: 1000 };
}

function render(format: ChannelFormat, events: NotifyEvent[]): ReturnType<(typeof FORMATTERS)['ntfy']['render']> {
  return FORMATTERS[format].render({ kind: 'digest', digest: buildDigest(events, { now: NOW }), events, now: NOW }, channel(format));
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const many = Array.from({ length: 2000 }, (_, i) => event(i));

describe('channel formats: size limits', () => {
  it('pack: head first, whole entries, at most maxParts, the rest counted', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    const { parts, omitted } = pack('HEAD', lines, 40, (s) => s.length, 3, (n) => `+${n}`);
    assert.equal(parts.length, 3);
    assert.ok(parts.every((p) => p.length <= 40), parts.join('|'));
    assert.ok(parts[0]!.startsWith('HEAD\nline 0'));
    const shown = parts.join('\n').split('\n').filter((l) => l.startsWith('line ')).length;
    assert.match(parts[2]!, new RegExp(`\\+${omitted}$`));
    assert.equal(shown + omitted, 30, 'every line is either shown or counted');
    assert.deepEqual(pack('H', ['a', 'b'], 40, (s) => s.length), { parts: ['H\na\nb'], omitted: 0 });
  });

  const cases: Array<[ChannelFormat, (body: Record<string, unknown>) => number, number]> = [
    ['ntfy', (b) => bytes(b.message as string), NTFY_MESSAGE_BYTES],
    ['telegram', (b) => (b.text as string).length, TELEGRAM_TEXT],
    ['matrix', (b) => bytes(JSON.stringify(b.body)), MATRIX_BODY_BYTES],
    ['discord', (b) => ((b.embeds as Array<{ description: string }>)[0]!.description).length, DISCORD_DESCRIPTION],
    ['gotify', (b) => bytes(b.message as string), 16_384],
  ];
  for (const [format, size, limit] of cases) {
    it(`${format}: 2000 events → at most ${MAX_PARTS} messages of at most ${limit}, the last counting the rest`, () => {
      const parts = render(format, many);
      assert.equal(parts.length, MAX_PARTS);
      for (const p of parts) assert.ok(size(p.body as Record<string, unknown>) <= limit, `${format}: ${size(p.body as Record<string, unknown>)} > ${limit}`);
      const last = parts[parts.length - 1]!.text;
      const n = Number(/…and (\d+) more \(all of them: certs status\)$/.exec(last)?.[1]);
      const shown = parts.map((p) => p.text).join('\n').split('\n').filter((l) => l.startsWith('CRITICAL ')).length;
      assert.equal(shown + n, 2000, `${format}: shown ${shown} + counted ${n}`);
      assert.match(parts[1]!.subject, /\(2\/5\)$/);
      const few = render(format, many.slice(0, 3));
      assert.equal(few.length, 1, 'a short digest is one message');
      assert.ok(!few[0]!.text.includes('…and'), 'and counts nothing');
    });
  }

  it('discord: the title is cut to 256, markdown escaped, mentions off', () => {
    const e = { ...event(1, true), domain: '**@everyone**' };
    const [p] = render('discord', [e]);
    const body = p!.body as { allowed_mentions: { parse: string[] }; embeds: Array<{ title: string; description: string }> };
    assert.deepEqual(body.allowed_mentions, { parse: [] });
    assert.ok(body.embeds[0]!.title.length <= DISCORD_TITLE);
    assert.ok(body.embeds[0]!.description.includes('\\*\\*@everyone\\*\\*'));
  });

  it('teams: one card under 27,000 bytes for any digest, counting what it leaves out', () => {
    for (const events of [many, Array.from({ length: 300 }, (_, i) => event(i, true))]) {
      const parts = render('teams', events);
      assert.equal(parts.length, 1);
      assert.ok(bytes(JSON.stringify(parts[0]!.body)) <= TEAMS_PAYLOAD_BYTES);
      const card = (parts[0]!.body as { attachments: Array<{ content: { body: Array<{ text: string }> } }> }).attachments[0]!.content.body;
      const shown = card.filter((b) => b.text.startsWith('**CRITICAL**')).length;
      const n = Number(/…and (\d+) more/.exec(card[card.length - 1]!.text)?.[1]);
      assert.equal(shown + n, events.length);
    }
  });

  it('pagerduty: one event each, summary ≤ 1024, dedup_key ≤ 255 and shared by a trigger and its resolve; no heartbeat', () => {
    const long = { ...event(1, true), message: 'x'.repeat(5000) };
    const recovery: NotifyEvent = { ...long, kind: 'recovery', severity: 'info', key: 'recovery:x' };
    const parts = render('pagerduty', [long, recovery]);
    const [trigger, resolve] = parts.map((p) => p.body as { event_action: string; dedup_key: string; payload?: { summary: string } });
    assert.equal(trigger!.event_action, 'trigger');
    assert.equal(resolve!.event_action, 'resolve');
    assert.equal(trigger!.dedup_key, resolve!.dedup_key);
    assert.ok(trigger!.dedup_key.length <= PAGERDUTY_DEDUP_KEY);
    assert.ok(trigger!.payload!.summary.length <= PAGERDUTY_SUMMARY);
    assert.equal(pagerdutyDedupKey(event(2)), 'certs:tls|host0002.example.com|host0002.example.com|443|:incomplete-chain');
    assert.deepEqual(FORMATTERS.pagerduty.render({ kind: 'heartbeat', digest: buildDigest([], { now: NOW }), events: [], now: NOW }, channel('pagerduty')), []);
    const req = FORMATTERS.pagerduty.request(channel('pagerduty'), trigger, 'k');
    assert.equal((JSON.parse(req.body) as { routing_key: string }).routing_key, 'rk');
  });

  it('matrix: the txnId is stable per outbox key and differs between keys', () => {
    assert.equal(matrixTxnId('digest:mx:2031:1'), matrixTxnId('digest:mx:2031:1'));
    assert.notEqual(matrixTxnId('digest:mx:2031:1'), matrixTxnId('digest:mx:2031:2'));
    const req = FORMATTERS.matrix.request(channel('matrix'), { msgtype: 'm.notice', body: 'x' }, 'digest:mx:2031:1');
    assert.equal(req.method, 'PUT');
    assert.ok(req.url.endsWith(`/send/m.room.message/${matrixTxnId('digest:mx:2031:1')}`));
  });
});

describe('teams: certificate text stays text', () => {
  it('escapes the CommonMark subset and the {{DATE()}} functions Adaptive Cards expand', async () => {
    const { escapeTeams } = await import('../../../src/notify/formats/teams.js');
    assert.equal(escapeTeams('CN=*.example.com [click](http://x) {{DATE(2017-02-14T06:00:00Z)}} _a_'), 'CN=\\*.example.com \\[click\\](http://x) \\{\\{DATE(2017-02-14T06:00:00Z)\\}\\} \\_a\\_');
    assert.equal(escapeTeams('plain text (42 days): `ok`.'), 'plain text (42 days): `ok`.');
  });
});
