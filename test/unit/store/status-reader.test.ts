import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/store/index.js';
import { statusTexts } from '../../../src/store/status-reader.js';
import type { StatusTarget } from '../../../src/store/scans.js';
import { fleet } from '../../helpers/store-fixtures.js';

describe('store: status texts read with a worker thread', () => {
  it('gives every batch, in order, as this thread reads it, the worker taking them from the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-status-reader-'));
    try {
      const items = fleet(600);
      const writer = openStore(join(dir, 'data'));
      writer.scans.recordMany(items);
      writer.close();
      const store = openStore(join(dir, 'data'), { readonly: true })!;
      try {
        const targets: StatusTarget[] = items.map(({ report: r }) => ({ domain: r.domain, host: r.host, port: r.port, source: r.source }));
        targets.push({ domain: 'never.example', host: 'never.example', port: 443, source: 'tls' });
        const batches: StatusTarget[][] = [];
        for (let i = 0; i < targets.length; i += 10) batches.push(targets.slice(i, i + 10));
        const want = batches.map((b) => store.scans.statusText(b));
        const stats = { fromWorker: 0 };
        const got: (string | null)[] = [];
        for await (const text of statusTexts(store, batches, { workerMinBatches: 2, workerFirst: true, stats })) got.push(text);
        assert.equal(got.length, batches.length);
        assert.deepEqual(got, want);
        assert.equal(got.at(-1), null, 'a batch without stored rows');
        assert.ok(stats.fromWorker > 0, 'the worker read some batches');
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
