// Hook output kept for diagnosis keeps its text but loses credential values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSecrets } from '../../../src/core/redact.js';

const TABLE: [string, string][] = [
  ['> Authorization: Bearer abc.def-123', '> Authorization: <redacted>'],
  ['authorization: Basic dXNlcjpwYXNz', 'authorization: <redacted>'],
  ['Proxy-Authorization: Basic dXNlcjpwYXNz\nnext line', 'Proxy-Authorization: <redacted>\nnext line'],
  ['curl -H "Authorization: Bearer s3cr3tT0ken" https://api', 'curl -H "Authorization: <redacted>'],
  ['using bearer eyJhbGciOiJIUzI1NiJ9.x.y now', 'using bearer <redacted> now'],
  ['password=hunter22 user=bob', 'password=<redacted> user=bob'],
  ['DB_PASSWORD=hunter22', 'DB_PASSWORD=<redacted>'],
  ['token=abc123&zone=example.com', 'token=<redacted>&zone=example.com'],
  ['CF_API_TOKEN: abcdef', 'CF_API_TOKEN: <redacted>'],
  ['secret=s3; next', 'secret=<redacted>; next'],
  ['AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG', 'AWS_SECRET_ACCESS_KEY=<redacted>'],
  ['pass=x', 'pass=<redacted>'],
  ['api_key=k1 apikey=k2 X-Api-Key: k3', 'api_key=<redacted> apikey=<redacted> X-Api-Key: <redacted>'],
  ['{"password": "p w", "user": "u"}', '{"password": "<redacted>", "user": "u"}'],
  ["token='quoted value'", "token='<redacted>'"],
  ['fetching https://admin:hunter2@dns.example/api', 'fetching https://admin:<redacted>@dns.example/api'],
  // Text without credentials is untouched.
  ['nginx: [emerg] cannot load certificate "/etc/x.pem"', 'nginx: [emerg] cannot load certificate "/etc/x.pem"'],
  ['3 tests passed: ok', '3 tests passed: ok'],
  ['zone example.com not found (NXDOMAIN)', 'zone example.com not found (NXDOMAIN)'],
  ['tokens: 5 remaining', 'tokens: 5 remaining'],
];

describe('redactSecrets', () => {
  for (const [input, expected] of TABLE) {
    it(JSON.stringify(input), () => {
      assert.equal(redactSecrets(input), expected);
    });
  }
  it('is idempotent', () => {
    for (const [input] of TABLE) {
      const once = redactSecrets(input);
      assert.equal(redactSecrets(once), once);
    }
  });
});
