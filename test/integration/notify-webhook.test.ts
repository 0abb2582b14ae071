import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotifyError } from '../../src/core/errors.js';
import { createWebhookChannel, redactUrl } from '../../src/notify/webhook.js';
import { flushOutbox } from '../../src/service/notify.js';
import { channelsOf } from '../../src/cli/compose.js';
import { openStore } from '../../src/store/index.js';
import type { Config } from '../../src/config/types.js';
import type { OutboxMessage } from '../../src/notify/types.js';
import type { WebhookConfig } from '../../src/config/types.js';
import { a } from '../helpers/async-store.js';

type Verify = (secret: string, headers: IncomingHttpHeaders, rawBody: Buffer, toleranceSeconds?: number) => boolean;

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let dir: string;
let verify: Verify;
let server: Server;
let base: string;
let received: Received[] = [];
let handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** The receiver's check is the ```js snippet of docs/webhook.md, run as written. */
async function loadDocSnippet(): Promise<Verify> {
  const doc = readFileSync(new URL('../../docs/webhook.md', import.meta.url), 'utf8');
  const match = /```js\n([\s\S]*?)```/.exec(doc);
  assert.ok(match?.[1], 'docs/webhook.md has a ```js verification snippet');
  const file = join(dir, 'verify.mjs');
  writeFileSync(file, match[1]);
  const mod = (await import(pathToFileURL(file).href)) as { verifyCertsSignature?: Verify };
  assert.equal(typeof mod.verifyCertsSignature, 'function');
  return mod.verifyCertsSignature as Verify;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certs-webhook-'));
  verify = await loadDocSnippet();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  received = [];
  handler = (_req, res) => {
    res.writeHead(204).end();
  };
});

const payload = {
  version: 1,
  generatedAt: '2026-11-25T03:17:00.000Z',
  subject: 'certs: 1 critical — ünïcödé',
  counts: { critical: 1, warning: 0, info: 0 },
  events: [{ kind: 'expiry', severity: 'critical', domain: 'example.com', endpoint: '203.0.113.7:443', daysLeft: 6, notAfter: '2026-12-01T12:00:00.000Z', threshold: 7, message: 'example.com expires in 6 days', hint: 'certs renew example.com' }],
};

function message(over: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    id: 1,
    key: 'digest:webhook:2026-11-25T03:17:00.000Z',
    channel: 'webhook',
    to: [],
    subject: payload.subject,
    text: 'certs: 1 critical\n• example.com expires in 6 days — fix: certs renew example.com',
    html: null,
    payload,
    createdAt: '2026-11-25T03:17:00.000Z',
    ...over,
  };
}

function config(over: Partial<WebhookConfig> = {}): WebhookConfig {
  return { url: `${base}/hook`, format: 'json', timeoutMs: 5000, ...over };
}

async function deliveryError(cfg: WebhookConfig, msg = message()): Promise<NotifyError> {
  try {
    await createWebhookChannel(cfg).deliver(msg);
  } catch (err) {
    assert.ok(err instanceof NotifyError, `expected a NotifyError, got ${String(err)}`);
    assert.equal(err.code, 'webhook');
    return err;
  }
  assert.fail('expected the delivery to fail');
}

describe('webhook: delivery and signature', () => {
  it('json: posts the payload with the documented headers, signed as docs/webhook.md verifies', async () => {
    const receipt = await createWebhookChannel(config({ secret: 's3cret-key' })).deliver(message());
    assert.deepEqual(receipt, { response: 'HTTP 204' });
    assert.equal(received.length, 1);
    const [r] = received as [Received];
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/hook');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['user-agent'], 'certs');
    assert.equal(r.headers['x-certs-delivery'], 'digest:webhook:2026-11-25T03:17:00.000Z');
    assert.match(String(r.headers['x-certs-timestamp']), /^\d+$/);
    assert.match(String(r.headers['x-certs-signature']), /^sha256=[0-9a-f]{64}$/);
    assert.equal(r.body.toString('utf8'), JSON.stringify(payload));
    assert.deepEqual(JSON.parse(r.body.toString('utf8')), payload);
    assert.equal(verify('s3cret-key', r.headers, r.body), true);
  });

  it('a wrong secret, a changed body or a stale timestamp fails verification', async () => {
    await createWebhookChannel(config({ secret: 's3cret-key' })).deliver(message());
    const [r] = received as [Received];
    assert.equal(verify('other-key', r.headers, r.body), false);
    assert.equal(verify('s3cret-key', r.headers, Buffer.concat([r.body, Buffer.from(' ')])), false);
    const old = String(Number(r.headers['x-certs-timestamp']) - 3600);
    assert.equal(verify('s3cret-key', { ...r.headers, 'x-certs-timestamp': old }, r.body), false);
  });

  it('slack: {"text": …}, signed the same way', async () => {
    const msg = message();
    const receipt = await createWebhookChannel(config({ format: 'slack', secret: 'k' })).deliver(msg);
    assert.deepEqual(receipt, { response: 'HTTP 204' });
    const [r] = received as [Received];
    assert.deepEqual(JSON.parse(r.body.toString('utf8')), { text: msg.text });
    assert.equal(verify('k', r.headers, r.body), true);
  });

  it('no secret: no signature headers; a 200 with a body is delivered', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    };
    assert.deepEqual(await createWebhookChannel(config()).deliver(message()), { response: 'HTTP 200' });
    const [r] = received as [Received];
    assert.equal(r.headers['x-certs-signature'], undefined);
    assert.equal(r.headers['x-certs-timestamp'], undefined);
    assert.equal(verify('k', r.headers, r.body), false);
  });
});

describe('webhook: failures', () => {
  it('500: retryable, naming URL, status and the first 200 bytes of the body', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${'x'.repeat(200)}TAIL`);
    };
    const err = await deliveryError(config());
    assert.equal(err.retryable, true);
    assert.ok(err.message.includes(`webhook ${base}/… answered`), err.message);
    assert.match(err.message, /HTTP 500/);
    assert.ok(err.message.includes('x'.repeat(200)), err.message);
    assert.ok(!err.message.includes('TAIL'), err.message);
  });

  it('408 and 429 are retryable; 400 is not', async () => {
    for (const [status, retryable] of [[408, true], [429, true], [503, true], [400, false], [404, false], [410, false]] as const) {
      handler = (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"invalid_payload"}');
      };
      const err = await deliveryError(config());
      assert.equal(err.retryable, retryable, `${status}: ${err.message}`);
      assert.match(err.message, new RegExp(`HTTP ${status}.*invalid_payload`));
    }
  });

  it('a redirect is not followed and not retried', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: '/elsewhere?token=leak' }).end();
    };
    const err = await deliveryError(config());
    assert.equal(err.retryable, false);
    assert.equal(received.length, 1);
    assert.match(err.message, /HTTP 302/);
    assert.ok(!err.message.includes('leak'), err.message);
  });

  it('a receiver that never answers: retryable timeout, bounded by timeoutMs', async () => {
    handler = () => {
      // never answer
    };
    const started = Date.now();
    const err = await deliveryError(config({ timeoutMs: 300 }));
    const elapsed = Date.now() - started;
    assert.equal(err.retryable, true);
    assert.match(err.message, /no answer within 300 ms/);
    assert.ok(elapsed >= 250 && elapsed < 5000, `took ${elapsed} ms`);
  });

  it('a receiver that sends headers then stalls the error body: still bounded', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.write('partial');
    };
    const started = Date.now();
    const err = await deliveryError(config({ timeoutMs: 300 }));
    assert.equal(err.retryable, true);
    assert.match(err.message, /HTTP 500.*partial/);
    assert.ok(Date.now() - started < 5000);
  });

  it('userinfo and query are used but never printed', async () => {
    handler = (_req, res) => {
      res.writeHead(400).end('nope');
    };
    const url = `http://alice:pa55word@127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=querysecret#frag`;
    const err = await deliveryError(config({ url }));
    assert.equal(err.retryable, false);
    const [r] = received as [Received];
    assert.equal(r.url, '/hook?token=querysecret');
    assert.equal(r.headers.authorization, `Basic ${Buffer.from('alice:pa55word').toString('base64')}`);
    for (const secret of ['alice', 'pa55word', 'querysecret', 'token=', '/hook']) assert.ok(!err.message.includes(secret), err.message);
    assert.ok(err.message.includes(`${base}/…`), err.message);
  });

  it('connection refused: retryable, credentials not printed', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await deliveryError(config({ url: `http://bob:hunter2@127.0.0.1:${port}/x?key=k3y` }));
    assert.equal(err.retryable, true);
    assert.match(err.message, /unreachable: .*ECONNREFUSED/);
    for (const secret of ['bob', 'hunter2', 'k3y']) assert.ok(!err.message.includes(secret), err.message);
  });
});

describe('webhook: secrets in the URL path, and Slack escaping', () => {
  // Slack, Discord and Teams incoming webhooks authenticate by the path alone.
  const SLACK_PATH = '/services/T0000000/B0000000/XXXXslackSECRETxxxx';

  it('redactUrl keeps scheme and host only', async () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/T0/B0/SECRET'), 'https://hooks.slack.com/…');
    assert.equal(redactUrl('https://discord.com/api/webhooks/123/tok?wait=true'), 'https://discord.com/…');
    assert.equal(redactUrl('https://u:p@example.com:8443/'), 'https://example.com:8443/');
    assert.equal(redactUrl('http://example.com'), 'http://example.com/');
    assert.equal(redactUrl('not a url'), '<invalid URL>');
  });

  it('errors (an answer, a redirect, no answer) never carry the path', async () => {
    const url = `${base}${SLACK_PATH}`;
    handler = (_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('invalid_token');
    };
    const answered = await deliveryError(config({ url }));
    assert.equal(received[0]?.url, SLACK_PATH, 'the real URL was used');
    handler = (_req, res) => {
      res.writeHead(301, { location: `${SLACK_PATH}/v2` }).end();
    };
    const redirected = await deliveryError(config({ url }));
    handler = () => undefined;
    const silent = await deliveryError(config({ url, timeoutMs: 200 }));
    for (const err of [answered, redirected, silent]) {
      assert.ok(err.message.includes(`${base}/…`), err.message);
      assert.ok(!err.message.includes('SECRET') && !err.message.includes('/services'), err.message);
    }
  });

  it('the outbox and the log of a failed delivery carry no path either', async () => {
    const store = openStore(join(dir, 'outbox-data'));
    try {
      const url = `${base}${SLACK_PATH}`;
      handler = (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
      };
      const at = '2026-11-25T03:17:00.000Z';
      const { id: _id, ...msg } = message({ createdAt: at });
      store.notifications.commitRun({ at, markSent: [], activate: [], clear: [], messages: [{ ...msg, nextAttemptAt: at }] });
      const config = { notify: { thresholds: [7], webhook: { url, format: 'json', timeoutMs: 5000 } } } as unknown as Config;
      const logged: string[] = [];
      const result = await flushOutbox(config, a(store), { now: new Date(at), random: () => 0.5, channels: channelsOf(config), log: (e) => logged.push(e) });
      assert.equal(result.failed.length, 1);
      const [row] = store.notifications.list();
      assert.ok(row?.lastError?.includes(`${base}/…`), row?.lastError ?? 'no error stored');
      for (const text of [row?.lastError ?? '', ...logged, ...result.failed.map((f) => f.error)]) {
        assert.ok(!text.includes('SECRET') && !text.includes('/services'), text);
      }
    } finally {
      store.close();
    }
  });

  it('format slack escapes &, < and >: a banner reading <!channel> stays text', async () => {
    const text = 'handshake with mail.example:25 sent banner "<!channel> ALERT & <@U123>"';
    await createWebhookChannel(config({ format: 'slack' })).deliver(message({ text }));
    const [r] = received as [Received];
    const sent = (JSON.parse(r.body.toString('utf8')) as { text: string }).text;
    assert.equal(sent, 'handshake with mail.example:25 sent banner "&lt;!channel&gt; ALERT &amp; &lt;@U123&gt;"');
    assert.ok(!/<!channel>|<@U123>/.test(sent));
  });
});
