#!/usr/bin/env node
// Runs the test files under the given folders (default: test/) with Node's own test runner,
// loading TypeScript through tsx. Node 20's --test does not expand globs itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (entry.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const roots = args.filter((a) => !a.startsWith('--'));
const files = [];
for (const root of roots.length ? roots : ['test']) {
  if (statSync(root).isDirectory()) collect(root, files);
  else files.push(root);
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Node 20 reports in TAP when stdout is not a terminal, Node 23+ in its "spec" format: ask for
// TAP there, so that a log ends with the same "# tests / # pass / # fail" summary on every version.
// A second reporter repeats what did not pass at the end, on stderr (scripts/failure-summary.mjs).
const reporter = flags.some((f) => f.startsWith('--test-reporter'))
  ? []
  : [
      `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`, '--test-reporter-destination=stdout',
      `--test-reporter=${new URL('./failure-summary.mjs', import.meta.url).pathname}`, '--test-reporter-destination=stderr',
    ];
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporter, ...flags, ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
