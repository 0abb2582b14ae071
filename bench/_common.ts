/** Small pieces every benchmark needs: integer settings from the environment, and a check that the CLI it spawns is built from the current sources. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function intEnv(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${raw}: expected a positive integer`);
  return n;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Why the built CLI cannot be measured (null when it can); warns through `log` when src/ is newer than the build. */
export function cliProblem(cli: string, root: string, log: (msg: string) => void): string | null {
  if (!existsSync(cli)) return `the CLI is not built: ${cli} is missing — run \`npm run build\` first`;
  if (newestMtime(join(root, 'src')) > statSync(cli).mtimeMs) log(`warning: src/ changed after ${cli} was built; the numbers are for the old build`);
  return null;
}
