// `certs status` as a user runs it at fleet size (issue 12 §6: ≤ 1 s at 100,000 endpoints, wall,
// process start included): the built CLI spawned over a store and a config this benchmark makes
// (test/helpers/store-fixtures.ts fleet(): one endpoint per domain, 3-certificate chains, every
// tenth expiring soon; no TLS, no network).
//
//   node --import tsx bench/status-cli.ts        10,000 endpoints
//   BENCH_HUGE=1 …                               also 100,000 (building that store takes ~30 s)
//   BENCH_STATUS_RUNS=k …                        timed runs per case (default 7)
//   CERTS_BENCH_CLI=path/to/dist/cli/main.js …   measure another build
//   CERTS_BENCH_CLI_BASE=path/to/dist/cli/main.js …  also that build (e.g. the commit before), in the
//                                                same runs, alternating with the first; its output
//                                                must be the same bytes (generatedAt aside)
//
// One JSON line per case on stdout: wall time with stdout to a file (median, min, max of the
// runs, `node -e 0` run alternately as the baseline), peak RSS from one more run with bench/rss-preload.mjs, the budget
// and whether the median met it. The first run of each config is untimed: it fills the parse
// cache (a private CERTS_CACHE_DIR), as every run after the config changed would.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { openStore as OpenStore } from '../src/store/index.js';
import { fleet } from '../test/helpers/store-fixtures.js';
import { cliProblem, intEnv } from './_common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.CERTS_BENCH_CLI ? resolve(process.env.CERTS_BENCH_CLI) : join(ROOT, 'dist', 'cli', 'main.js');
const BASE = process.env.CERTS_BENCH_CLI_BASE ? resolve(process.env.CERTS_BENCH_CLI_BASE) : undefined;
const RSS_PRELOAD = join(ROOT, 'bench', 'rss-preload.mjs');
const RUNS = intEnv('BENCH_STATUS_RUNS', 7);
const SIZES = process.env.BENCH_HUGE === '1' ? [10_000, 100_000] : [10_000];
/** Wall-time budgets, process start included (issue 12 §6; issue 15 wants 0.3 s at 10,000). */
const BUDGET_MS: Record<number, number> = { 10_000: 300, 100_000: 1000 };

const log = (msg: string): void => void process.stderr.write(`bench/status-cli: ${msg}\n`);
const emit = (obj: object): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);
const round = (x: number): number => Math.round(x * 10) / 10;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * A store of n scanned endpoints and the config that names them, in `dir`. The store is written
 * by the build's own store code: a build opens only its own schema version read-only, so two
 * builds on either side of a migration each get their own copy of the same scans.
 */
async function makeFleet(n: number, dir: string, cli: string): Promise<string> {
  const t0 = performance.now();
  const { openStore } = (await import(pathToFileURL(join(dirname(cli), '..', 'store', 'index.js')).href)) as { openStore: typeof OpenStore };
  const items = fleet(n);
  const dataDir = join(dir, 'data');
  const store = openStore(dataDir);
  try {
    for (let i = 0; i < items.length; i += 5000) store.scans.recordMany(items.slice(i, i + 5000));
  } finally {
    store.close();
  }
  // The shape `certs import hosts` writes: one monitor-only domain per endpoint.
  const lines = [`dataDir: ${JSON.stringify(dataDir)}`, 'domains:'];
  for (const { report } of items) lines.push(`  - name: ${report.domain}`, '    managed: false', '    endpoints:', `      - host: ${report.host}`, `        port: ${report.port}`);
  const file = join(dir, 'certs.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  log(`${n} endpoints stored and configured in ${Math.round(performance.now() - t0)} ms`);
  return file;
}

interface Run {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

function spawnTimed(args: string[], env: NodeJS.ProcessEnv): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  return { ms, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

/**
 * Wall time of a run whose stdout goes to a file, as from cron (`> status.json`): collected
 * through a pipe, 60 MB of JSON would also time this process decoding it.
 */
function spawnToFile(args: string[], env: NodeJS.ProcessEnv, file: string): number {
  const fd = openSync(file, 'w');
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', fd, 'ignore'] });
    const ms = performance.now() - t0;
    if (r.error) throw r.error;
    if (r.status === null || r.status > 2) throw new Error(`${args.join(' ')}: exit ${r.status}`);
    return ms;
  } finally {
    closeSync(fd);
  }
}

/** Exit 0-2 are verdicts (ok, warning, critical); 3 and others mean it could not judge or run. */
function checkOutput(r: Run, json: boolean, n: number): string | undefined {
  if (r.code === null || r.code > 2) return `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  if (!json) return r.stdout.includes(`${n} endpoints:`) ? undefined : 'no summary line for every endpoint';
  const doc = JSON.parse(r.stdout) as { endpoints?: unknown[] };
  return doc.endpoints?.length === n ? undefined : `expected ${n} endpoints, got ${doc.endpoints?.length}`;
}

const withoutTime = (out: string): string => out.replace(/"generatedAt": "[^"]*"/, '');

async function main(): Promise<void> {
  for (const cli of [CLI, ...(BASE ? [BASE] : [])]) {
    const problem = cliProblem(cli, ROOT, log);
    if (problem) throw new Error(problem);
  }
  const work = mkdtempSync(join(tmpdir(), 'certs-bench-status-'));
  try {
    const env = { ...process.env, CERTS_CACHE_DIR: join(work, 'cache'), NO_COLOR: '1' };
    mkdirSync(env.CERTS_CACHE_DIR, { recursive: true, mode: 0o700 });
    for (const n of SIZES) {
      const builds: { label: string; cli: string; config: string }[] = [];
      for (const [label, cli] of [['current', CLI], ...(BASE ? [['base', BASE]] : [])] as [string, string][]) {
        const dir = join(work, `${n}-${label}`);
        mkdirSync(dir);
        builds.push({ label, cli, config: await makeFleet(n, dir, cli) });
      }
      for (const json of [true, false]) {
        const argsOf = (b: { config: string }): string[] => ['status', '--config', b.config, ...(json ? ['--json'] : [])];
        const times = new Map<string, number[]>(builds.map((b) => [b.label, []]));
        const baseline: number[] = [];
        const outputs = new Map<string, string>();
        // Untimed: fills the config parse cache, and gives the output to check.
        for (const b of builds) {
          const r = spawnTimed([b.cli, ...argsOf(b)], env);
          const bad = checkOutput(r, json, n);
          if (bad) throw new Error(`${b.cli} ${argsOf(b).join(' ')}: ${bad}`);
          outputs.set(b.label, withoutTime(r.stdout));
        }
        if (BASE && outputs.get('base') !== outputs.get('current')) throw new Error(`status${json ? ' --json' : ''} at ${n}: the two builds print different output`);
        for (let i = 0; i < RUNS; i++) {
          baseline.push(spawnTimed(['-e', '0'], env).ms);
          // Alternate which build goes first, so neither always runs on a warmer machine.
          const order = i % 2 === 0 ? builds : [...builds].reverse();
          for (const b of order) times.get(b.label)!.push(spawnToFile([b.cli, ...argsOf(b)], env, join(work, 'out')));
        }
        for (const b of builds) {
          const rssFile = join(work, `rss-${n}-${b.label}`);
          rmSync(rssFile, { force: true });
          spawnTimed(['--import', RSS_PRELOAD, b.cli, ...argsOf(b)], { ...env, CERTS_BENCH_RSS_FILE: rssFile });
          const ms = times.get(b.label)!;
          const budget = BUDGET_MS[n];
          emit({
            bench: 'status-cli',
            case: json ? 'status --json' : 'status',
            build: b.label,
            cli: b.cli,
            endpoints: n,
            runs: RUNS,
            wallMs: round(median(ms)),
            minMs: round(Math.min(...ms)),
            maxMs: round(Math.max(...ms)),
            nodeStartMs: round(median(baseline)),
            peakRssMB: existsSync(rssFile) ? round(Number(readFileSync(rssFile, 'utf8')) / 1024) : null,
            ...(budget ? { budgetMs: budget, pass: median(ms) <= budget } : {}),
          });
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
