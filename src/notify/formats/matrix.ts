/**
 * Matrix client-server API (https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid):
 * PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}, an m.notice (what bots
 * send: clients do not notify on it as loudly and other bots ignore it). The txnId is derived
 * from the outbox key, so a retry of a message the server already took is recognised as the
 * same transaction and not posted twice. An event is at most 65536 bytes; the body is kept
 * under 60000 bytes as JSON, leaving room for what the server adds.
 */
import { createHash } from 'node:crypto';
import { bodyLines, headOf, moreLineOf, pack, utf8Bytes } from './text.js';
import { JSON_HEADERS, type ChannelFormatter } from './types.js';

export const MATRIX_BODY_BYTES = 60_000;

/** The txnId of an outbox message: stable per key, URL-safe. */
export function matrixTxnId(key: string): string {
  return `certs-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

const jsonBytes = (s: string): number => utf8Bytes(JSON.stringify(s));

export const matrix: ChannelFormatter = {
  render(input) {
    const head = `${input.digest.subject}\n${headOf(input)}`;
    const { parts } = pack(head, bodyLines(input), MATRIX_BODY_BYTES, jsonBytes, undefined, moreLineOf(input));
    return parts.map((text, i) => ({
      subject: parts.length > 1 ? `${input.digest.subject} (${i + 1}/${parts.length})` : input.digest.subject,
      text,
      body: { msgtype: 'm.notice', body: text },
    }));
  },
  request(ch, body, key) {
    const url = `${ch.homeserver ?? ch.url}/_matrix/client/v3/rooms/${encodeURIComponent(ch.roomId ?? '')}/send/m.room.message/${matrixTxnId(key)}`;
    return { method: 'PUT', url, headers: { ...JSON_HEADERS, Authorization: `Bearer ${ch.accessToken ?? ''}` }, body: JSON.stringify(body) };
  },
};
