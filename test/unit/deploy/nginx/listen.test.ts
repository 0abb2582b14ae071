import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen } from '../../../../src/deploy/nginx/listen.js';

describe('parseListen', () => {
  const cases: Array<[string[], Partial<ReturnType<typeof parseListen>>]> = [
    [['443', 'ssl'], { key: '*:443', address: '*', port: 443, ssl: true }],
    [['*:443', 'ssl', 'http2'], { key: '*:443', ssl: true, http2: true }],
    [['0.0.0.0:443'], { key: '*:443', ssl: false }],
    [['[::]:443', 'ssl', 'ipv6only=on'], { key: '[::]:443', address: '[::]', port: 443, ssl: true }],
    [['[0:0::1]:8443', 'ssl', 'default_server'], { key: '[::1]:8443', defaultServer: true }],
    [['[::1]'], { key: '[::1]:80', port: 80 }],
    [['127.0.0.1:8443', 'ssl', 'default'], { key: '127.0.0.1:8443', defaultServer: true }],
    [['Localhost'], { key: 'localhost:80' }],
    [['unix:/run/n.sock', 'ssl'], { key: 'unix:/run/n.sock', port: null, ssl: true }],
    [['443', 'quic', 'reuseport'], { key: '*:443 quic', quic: true, ssl: false }],
  ];
  for (const [args, want] of cases) {
    it(args.join(' '), () => {
      const l = parseListen(args);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(l[k as keyof typeof l], v, k);
    });
  }
});
