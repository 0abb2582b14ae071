// `npm run bench`: runs every bench/*.ts (except this file and `_`-prefixed helpers) one after the
// other — benchmarks running side by side would measure each other — and passes their JSON lines
// through on stdout. Exits non-zero if a benchmark crashed; a missed target is not a crash.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== self && !f.startsWith('_'))
  .sort();

function runOne(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

let failed = 0;
for (const file of files) {
  console.error(`bench: ${file}`);
  const code = await runOne(file);
  if (code !== 0) {
    failed++;
    console.error(`bench: ${file} exited with ${code}`);
  }
}
process.exitCode = failed ? 1 : 0;
