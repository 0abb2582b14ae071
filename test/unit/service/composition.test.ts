/**
 * service/ opens no store and builds no channel: the CLI's composition root (cli/compose.ts)
 * passes them in. Here fakes are passed instead, and the service uses exactly those.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../../src/config/types.js';
import type { Channel } from '../../../src/notify/types.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { startStatusServer } from '../../../src/service/http.js';
import { flushOutbox } from '../../../src/service/notify.js';
import { configFixture } from '../../helpers/config-fixture.js';
import { a } from '../../helpers/async-store.js';

const fx = configFixture('certs-composition-');

function load(extra: Record<string, unknown> = {}): Config {
  const dir = fx.caseDir();
  return fx.load(stringify({
    dataDir: join(dir, 'data'),
    trust: { bundled: true, system: false },
    domains: [{ name: 'c.test', managed: false, endpoints: [{ host: 'c.test', port: 443, address: '127.0.0.1' }] }],
    ...extra,
  }), dir);
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('the composition root passes the store and the channels', () => {
  it('the daemon\'s /status reads the store it is given, once per render', async () => {
    const config = load();
    const asked: string[] = [];
    const server = await startStatusServer({
      config: () => config,
      readStore: async (c) => {
        asked.push(c.dataDir);
        return null; // nothing stored yet: every target is unknown
      },
      lastRun: async () => null,
      address: '127.0.0.1',
      port: 0,
      version: 'x',
    });
    try {
      const r = await fetchText(`http://127.0.0.1:${server.port}/status`);
      assert.equal(r.status, 200);
      const doc = JSON.parse(r.body) as { endpoints: Array<{ domain: string; status: string }> };
      assert.deepEqual(doc.endpoints.map((e) => [e.domain, e.status]), [['c.test', 'unknown']]);
      assert.deepEqual(asked, [config.dataDir]);
    } finally {
      await server.close();
    }
  });

  it('the outbox builds channels through the factory it is given, only when something is due, and closes them', async () => {
    const config = load({ notify: { webhook: { url: 'http://127.0.0.1:9/hook' } } });
    const store: Store = openStore(config.dataDir);
    try {
      let built = 0;
      let closed = 0;
      const delivered: string[] = [];
      const fake: Channel = {
        name: 'webhook',
        deliver: async (msg) => {
          delivered.push(msg.key);
          return { response: 'HTTP 204' };
        },
        close: async () => {
          closed++;
        },
      };
      const channels = async (): Promise<{ webhook: Channel }> => {
        built++;
        return { webhook: fake };
      };
      const now = new Date('2026-01-01T00:00:00Z');
      const empty = await flushOutbox(config, a(store), { now, random: () => 0.5, channels });
      assert.deepEqual([built, empty.delivered], [0, 0], 'nothing due: no channel built');
      store.notifications.commitRun({
        at: now.toISOString(),
        markSent: [],
        activate: [],
        clear: [],
        messages: [{ key: 'digest:webhook:1', channel: 'webhook', to: [], subject: 's', text: 't', html: null, payload: { a: 1 }, createdAt: now.toISOString(), nextAttemptAt: now.toISOString() }],
      });
      const r = await flushOutbox(config, a(store), { now, random: () => 0.5, channels });
      assert.deepEqual([built, r.delivered, closed], [1, 1, 1]);
      assert.deepEqual(delivered, ['digest:webhook:1'], 'delivered by the fake, not by a channel built from the config');
    } finally {
      store.close();
    }
  });
});
