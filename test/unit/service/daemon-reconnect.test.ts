/**
 * The daemon and an unreachable store (issue 16: PostgreSQL restarted mid-cycle): a cycle that
 * fails with StoreError 'connection' is logged and tried again with backoff until one gets
 * through; any other failure waits for the schedule, as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { StoreError } from '../../../src/core/errors.js';
import { runDaemon } from '../../../src/service/daemon.js';
import type { Config } from '../../../src/config/types.js';

const config = { file: '/etc/certs/certs.yaml', daemon: { schedule: '0 0 1 1 *' }, domains: [] } as unknown as Config;

function daemon(failures: Error[]) {
  const signals = new EventEmitter();
  const events: Array<[string, Record<string, unknown>]> = [];
  let calls = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const exit = runDaemon({
    loadConfig: () => config,
    defaultSchedule: async () => '0 0 1 1 *',
    cycle: async () => {
      calls += 1;
      const f = failures.shift();
      if (f) throw f;
      done();
      return 0;
    },
    log: (event, fields = {}) => events.push([event, fields]),
    runNow: true,
    signals,
    reconnectBaseMs: 5,
  });
  return { signals, events, calls: () => calls, finished, exit };
}

describe('daemon: the store unreachable', () => {
  it('retries a cycle that could not reach the store, with growing waits, until it gets through', async () => {
    const down = () => new StoreError('connection', 'cannot connect to 127.0.0.1:5432 database certs: ECONNREFUSED');
    const d = daemon([down(), down(), down()]);
    await d.finished;
    assert.equal(d.calls(), 4);
    const reconnects = d.events.filter(([e]) => e === 'store.reconnect').map(([, f]) => [f['attempt'], f['inMs']]);
    assert.deepEqual(reconnects, [[1, 5], [2, 10], [3, 20]]);
    assert.equal(d.events.filter(([e]) => e === 'run.error').length, 3);
    d.signals.emit('SIGTERM');
    assert.equal(await d.exit, 0);
  });

  it('does not retry other failures before the schedule', async () => {
    const d = daemon([new Error('boom')]);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (d.events.some(([e]) => e === 'run.error')) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    assert.equal(d.events.filter(([e]) => e === 'store.reconnect').length, 0);
    d.signals.emit('SIGTERM');
    assert.equal(await d.exit, 0);
    assert.equal(d.calls(), 1);
  });
});
