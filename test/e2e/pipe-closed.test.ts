// `certs status | head -1`: the reader closes the pipe after the first chunk. certs must stop
// quietly (no EPIPE stack trace), with its verdict once known (here 3: every endpoint is unknown),
// else 141, as if killed by SIGPIPE, like other Unix tools.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH } from '../helpers/cli.js';

describe('output into a pipe that closes early', () => {
  it('certs status | head -1: no stack trace, the verdict as exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certs-pipe-'));
    try {
      // 3,000 never-scanned endpoints: a table of ~300 KB, far more than a pipe buffer holds.
      let yaml = `dataDir: ${join(dir, 'data')}\ndomains:\n`;
      for (let i = 0; i < 3000; i++) yaml += `  - { name: host${i}.example.test, managed: false }\n`;
      writeFileSync(join(dir, 'certs.yaml'), yaml);
      const child = spawn(process.execPath, [CLI_PATH, 'status', '--config', join(dir, 'certs.yaml')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString('utf8'))));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.match(first, /^DOMAIN\s+ENDPOINT/);
      assert.equal(stderr, '', 'nothing on stderr');
      assert.equal(code, 3, 'UNKNOWN: nothing was scanned yet');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
