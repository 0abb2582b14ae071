/**
 * Where `certs status` stands at 10,000 endpoints (budget: 0.5 s wall including node start).
 *
 *   node --import tsx bench/status-store.ts [n]
 *
 * Prints JSON lines {bench, n, ms, ...} on stdout. In-process numbers are the median of a few
 * runs (first run reported separately: it pays for statement preparation). `status-process`
 * spawns a fresh node on plain JS (src/store transpiled to a temp dir, as the built CLI would
 * load it) that opens the store read-only, reads latest() and serialises it; `node-start` is the
 * same spawn doing nothing, the baseline to subtract.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { openStore } from '../src/store/index.js';
import { fleet } from '../test/helpers/store-fixtures.js';

const n = Number(process.argv[2] ?? 10_000);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'certs-bench-store-'));

function emit(bench: string, ms: number, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench, n, ms: Math.round(ms * 10) / 10, ...extra }));
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function repeat(runs: number, fn: () => unknown): { first: number; median: number } {
  const times = Array.from({ length: runs }, () => time(fn)[1]);
  return { first: times[0]!, median: median(times.slice(1)) };
}

/** Plain ESM copies of src/store and src/core, next to a node_modules link, as `dist/` would be. */
function transpileStore(): string {
  const out = join(work, 'js');
  for (const folder of ['store', 'core']) {
    const from = join(repo, 'src', folder);
    mkdirSync(join(out, 'src', folder), { recursive: true });
    for (const file of readdirSync(from).filter((f) => f.endsWith('.ts'))) {
      const js = ts.transpileModule(readFileSync(join(from, file), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      }).outputText;
      writeFileSync(join(out, 'src', folder, file.replace(/\.ts$/, '.js')), js);
    }
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(repo, 'node_modules'), join(out, 'node_modules'), 'dir');
  writeFileSync(
    join(out, 'status.js'),
    `import { openStore } from './src/store/index.js';
     const store = openStore(process.argv[2], { readonly: true });
     const reports = store.scans.latest();
     store.close();
     const json = JSON.stringify({ endpoints: reports });
     process.stdout.write(String(reports.length) + ' ' + json.length + '\\n');\n`,
  );
  return out;
}

function spawnWall(args: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const res = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (res.status !== 0) throw new Error(`${args.join(' ')} failed: ${res.stderr}`);
  return { ms, stdout: res.stdout.trim() };
}

try {
  const dataDir = join(work, 'data');
  const [items, genMs] = time(() => fleet(n));
  process.stderr.write(`generated ${n} synthetic scans in ${Math.round(genMs)} ms\n`);

  const store = openStore(dataDir);
  try {
    emit('store.recordMany', time(() => store.scans.recordMany(items))[1], { note: 'first run: new endpoints and certificates' });
    const rescan = fleet(n, { scannedAt: '2025-06-02T12:00:00.000Z' });
    emit('store.recordMany.rescan', time(() => store.scans.recordMany(rescan))[1], { note: 'same endpoints and certificates, new scans' });

    const plain = repeat(6, () => store.scans.latest());
    emit('store.latest', plain.median, { first: Math.round(plain.first * 10) / 10 });
    const chained = repeat(6, () => store.scans.latest({ withChain: true }));
    emit('store.latest.withChain', chained.median, { first: Math.round(chained.first * 10) / 10 });
    const some = items.slice(0, 50).map((i) => i.report.domain);
    emit('store.latest.domains50', repeat(6, () => store.scans.latest({ domains: some, withChain: true })).median);
  } finally {
    store.close();
  }

  const ro = repeat(6, () => openStore(dataDir, { readonly: true })!.close());
  emit('store.open.readonly', ro.median, { first: Math.round(ro.first * 10) / 10 });

  const js = transpileStore();
  const base: number[] = [];
  const proc: number[] = [];
  let seen = '';
  for (let i = 0; i < 7; i++) {
    base.push(spawnWall(['-e', '0']).ms);
    const r = spawnWall([join(js, 'status.js'), dataDir]);
    proc.push(r.ms);
    seen = r.stdout;
  }
  emit('node-start', median(base), { note: 'baseline: node -e 0' });
  emit('store.status-process', median(proc), { budgetMs: 500, output: seen, note: 'fresh node: open read-only + latest() + JSON.stringify' });
} finally {
  rmSync(work, { recursive: true, force: true });
}
