/**
 * How long loading a 10,000-domain config takes (`certs status` budget: 0.5 s wall incl. node start).
 *
 *   node --import tsx bench/config-load.ts [n]
 *   CERTS_BENCH_ROOT=/path/to/other/checkout node --import tsx bench/config-load.ts   (to compare builds)
 *
 * Prints JSON lines {bench, n, ms, ...} on stdout, medians of a few in-process runs:
 * - config.load.nocache: CERTS_NO_CACHE=1 — js-yaml fast path, then validation;
 * - config.load.cache-miss: the first load with an empty cache dir (parses, validates, writes);
 * - config.load.cache-hit: later loads of the same text (reads the cached tree, validates);
 * - config.parse.yaml: the reference `yaml` parser alone, what a load cost without a fast path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const n = Number(process.argv[2] ?? 10_000);
const root = resolve(process.env['CERTS_BENCH_ROOT'] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const { parseConfigText, parseConfigDocument } = (await import(pathToFileURL(join(root, 'src/config/load.ts')).href)) as typeof import('../src/config/load.js');

function emit(bench: string, ms: number, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench, n, ms: Math.round(ms * 10) / 10, ...extra }));
}

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const work = mkdtempSync(join(tmpdir(), 'certs-bench-config-'));
try {
  const file = join(work, 'certs.yaml');
  let text = 'dataDir: ./data\ndomains:\n';
  for (let i = 0; i < n; i++) {
    text += `  - name: d${i}.example.com\n    managed: false\n    endpoints: [{ host: d${i}.example.com, port: 443, address: 127.0.0.${1 + (i % 250)} }]\n`;
  }
  writeFileSync(file, text);
  const runs = 5;
  const nocache = { ...process.env, CERTS_NO_CACHE: '1' };
  emit('config.load.nocache', median(Array.from({ length: runs }, () => time(() => parseConfigText(text, file, { env: nocache })))), { bytes: text.length });
  const misses: number[] = [];
  const hits: number[] = [];
  for (let r = 0; r < runs; r++) {
    const env = { ...process.env, CERTS_NO_CACHE: '', CERTS_CACHE_DIR: join(work, `cache-${r}`) };
    misses.push(time(() => parseConfigText(text, file, { env })));
    hits.push(time(() => parseConfigText(text, file, { env })));
  }
  emit('config.load.cache-miss', median(misses));
  emit('config.load.cache-hit', median(hits));
  emit('config.parse.yaml', median(Array.from({ length: 3 }, () => time(() => parseConfigDocument(text, file).doc.toJS()))));
} finally {
  rmSync(work, { recursive: true, force: true });
}
