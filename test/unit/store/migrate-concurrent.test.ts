/**
 * SQLite migrations under the write lock (issue 15: "two processes starting at once never
 * migrate twice"): four processes open one new database at the same moment. Each migration
 * creates tables, so a second application of any of them would fail that process with
 * migration-failed; every process must open cleanly and the schema be complete once.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../../src/store/index.js';

const root = mkdtempSync(join(tmpdir(), 'certs-migrate-concurrent-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Each child reports "ready", waits for "go" on stdin, then opens (creating and migrating).
const script = `
  import { openDatabase } from ${JSON.stringify(new URL('../../../src/store/db.ts', import.meta.url).href)};
  process.stdout.write('ready\\n');
  process.stdin.once('data', () => {
    try { openDatabase(process.argv[1], { busyTimeoutMs: 20000 }).close(); process.stdout.write('opened\\n'); }
    catch (e) { process.stdout.write((e.code ?? 'error') + ': ' + e.message + '\\n'); process.exitCode = 1; }
    process.stdin.destroy();
  });
`;

function child(path: string): { ready: Promise<void>; done: Promise<{ code: number | null; out: string }>; go(): void } {
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) markReady();
  });
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => p.once('exit', (code) => resolve({ code, out: out + err })));
  return { ready, done, go: () => p.stdin.write('go\n') };
}

describe('SQLite migrations: four processes open one new store at once', () => {
  it('every process opens, the schema is complete, no migration ran twice', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 3; round++) {
      const path = join(root, `r${round}.db`);
      const kids = Array.from({ length: 4 }, () => child(path));
      await Promise.all(kids.map((k) => k.ready));
      for (const k of kids) k.go();
      const results = await Promise.all(kids.map((k) => k.done));
      for (const r of results) assert.equal(r.code, 0, r.out);
      assert.deepEqual(results.map((r) => r.out.trim().split('\n').pop()), ['opened', 'opened', 'opened', 'opened']);
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
        assert.ok(tables.includes('runs') && tables.includes('scans') && tables.includes('issued'), tables.join(','));
      } finally {
        db.close();
      }
    }
  });
});
