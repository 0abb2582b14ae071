import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { clusterOf, defaultNodeName, leaseMsOf, nodeNameOf } from '../../../src/config/node.js';

const parse = (yaml: string) => parseConfigText(yaml, '/etc/certs/certs.yaml');

describe('config: node.name and cluster (issue 16)', () => {
  it('defaults: the host name as node name, a 60 s lease, batches of 200 domains', () => {
    const c = parse('domains: []\n');
    assert.equal(c.node, undefined);
    assert.equal(nodeNameOf(c), defaultNodeName());
    assert.deepEqual(clusterOf(c), { leaseSeconds: 60, scanBatchSize: 200 });
    assert.equal(leaseMsOf(c), 60_000);
  });

  it('takes a node name and cluster timings', () => {
    const c = parse('node: {name: web-1.eu_2}\ncluster: {leaseSeconds: 5, scanBatchSize: 10}\ndomains: []\n');
    assert.equal(nodeNameOf(c), 'web-1.eu_2');
    assert.equal(leaseMsOf(c), 5000);
    assert.equal(clusterOf(c).scanBatchSize, 10);
  });

  it('turns a host name into a valid node name', () => {
    assert.equal(defaultNodeName('host name/with:odd@chars'), 'host-name-with-odd-chars');
    assert.equal(defaultNodeName('x'.repeat(80)).length, 64);
    assert.equal(defaultNodeName(''), 'node');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['a name with a space', 'node: {name: "web 1"}\n', /node\.name: expected 1 to 64 letters/],
    ['an empty name', 'node: {name: ""}\n', /node\.name: /],
    ['a name of 65 characters', `node: {name: ${'a'.repeat(65)}}\n`, /node\.name: expected 1 to 64 letters/],
    ['an unknown node key', 'node: {id: 3}\n', /node\.id/],
    ['a zero lease', 'cluster: {leaseSeconds: 0}\n', /cluster\.leaseSeconds/],
    ['a batch of 0.5', 'cluster: {scanBatchSize: 0.5}\n', /cluster\.scanBatchSize/],
  ];
  for (const [what, yaml, re] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parse(`${yaml}domains: []\n`), (err: Error) => re.test(err.message));
    });
  }
});
