import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CYCLE_MS, isSilent, nodeLine, nodeSilentLine, nodeViews } from '../../../src/core/nodes.js';

const seen = '2030-01-01T00:00:00.000Z';
const at = (ms: number): Date => new Date(Date.parse(seen) + ms);

describe('node-silent (issue 16)', () => {
  it('is silent only after 3 of its own cycles without a heartbeat', () => {
    const n = { lastSeenAt: seen, cycleMs: 60_000 };
    assert.equal(isSilent(n, at(180_000)), false, 'exactly 3 cycles is not yet silent');
    assert.equal(isSilent(n, at(180_001)), true);
    assert.equal(isSilent(n, at(-5_000)), false, 'a heartbeat from the future (clock skew) is not silence');
  });

  it('uses the default schedule (twice a day) for a node that recorded no cycle; an unreadable time is silent', () => {
    assert.equal(isSilent({ lastSeenAt: seen, cycleMs: null }, at(3 * DEFAULT_CYCLE_MS)), false);
    assert.equal(isSilent({ lastSeenAt: seen, cycleMs: null }, at(3 * DEFAULT_CYCLE_MS + 1)), true);
    assert.equal(isSilent({ lastSeenAt: 'yesterday', cycleMs: 1 }, at(0)), true);
  });

  it('views keep name, version, last seen and last run, and say who is silent', () => {
    const rows = [
      { name: 'a', version: '1.0.0', lastSeenAt: seen, cycleMs: 1000, lastRun: { startedAt: seen, finishedAt: seen, outcome: 'ok' } },
      { name: 'b', version: '1.0.1', lastSeenAt: at(9_000).toISOString(), cycleMs: 1000, lastRun: null },
    ];
    const v = nodeViews(rows, at(10_000));
    assert.deepEqual(v, [
      { name: 'a', version: '1.0.0', lastSeenAt: seen, lastRun: { startedAt: seen, finishedAt: seen, outcome: 'ok' }, silent: true },
      { name: 'b', version: '1.0.1', lastSeenAt: at(9_000).toISOString(), lastRun: null, silent: false },
    ]);
    assert.equal(nodeSilentLine(v[0]!), 'node-silent: node a (certs 1.0.0) not seen since 2030-01-01 00:00 UTC; last run started 2030-01-01 00:00 UTC (ok)');
    assert.match(nodeSilentLine(v[1]!), /no run recorded$/);
    assert.equal(nodeLine(v[1]!), 'b (certs 1.0.1): seen 2030-01-01 00:00 UTC; no run recorded');
  });
});
