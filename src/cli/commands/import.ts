/** certs import nginx | hosts FILE. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { IoError } from '../../core/errors.js';
import type { Endpoint } from '../../core/model.js';
import { toUnicode } from '../../core/names.js';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { envReferences } from '../../config/shown.js';
import type { Config } from '../../config/types.js';
import { setHookEnvPolicy } from '../../lib/hook-env.js';
import type { ImportReport } from '../../service/import.js';
import type { GlobalOptions, Io } from '../context.js';
import { paint, table, useColour } from '../style.js';

export interface ImportCliOptions extends GlobalOptions {
  dryRun?: boolean;
  json?: boolean;
  managed?: boolean;
}

const SIGN = { added: '+', extended: '~', unchanged: '=', skipped: '-' } as const;
const COLOUR = { added: 'green', extended: 'yellow', unchanged: 'grey', skipped: 'grey' } as const;

const label = (e: Endpoint): string => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}${e.address ? ` @${e.address}` : ''}`;

function render(r: ImportReport, colour: boolean): string {
  const out: string[] = [];
  if (r.diff && r.dryRun) out.push(r.diff);
  if (r.outcomes.length > 0) {
    const rows = r.outcomes.map((o) => {
      const added = [...o.altNames.map((n) => toUnicode(n)), ...o.endpoints.map(label)];
      const detail = o.action === 'added' || o.action === 'extended' ? `${o.into ? `into ${toUnicode(o.into)}: ` : ''}${added.join(', ')}` : (o.reason ?? '');
      return [paint(colour, COLOUR[o.action], `${SIGN[o.action]} ${o.action}`), toUnicode(o.name), detail, o.source ?? ''];
    });
    out.push(table(rows, ['ACTION', 'DOMAIN', 'ADDED / WHY', 'FROM']));
  }
  for (const s of r.skipped) out.push(paint(colour, 'yellow', `skipped: ${s.what}: ${s.reason}`));
  for (const b of r.badLines) out.push(paint(colour, 'red', `line ${b.line}: ${JSON.stringify(b.text)}: ${b.reason}`));
  for (const w of r.warnings) out.push(paint(colour, 'yellow', `warning: ${w}`));
  const count = (a: string): number => r.outcomes.filter((o) => o.action === a).length;
  const summary = `${count('added')} added, ${count('extended')} extended, ${count('unchanged')} unchanged, ${count('skipped') + r.skipped.length} skipped`;
  if (r.outcomes.length === 0) out.push(`Nothing found to import${r.source === 'nginx' ? ' (no server block listening with ssl and a fixed ssl_certificate)' : ''}.`);
  else if (!r.changed) out.push(`Nothing to change: ${r.file} already has everything found (${summary}).`);
  else if (r.dryRun) out.push(`Dry run: ${r.file} would change (${summary}); nothing written.`);
  else out.push(`Updated ${r.file} (${summary}). Run \`certs scan\` to check the new endpoints.`);
  return out.join('\n');
}

/**
 * The config as `certs add` reads it: a secret whose variable or file is missing here stays as
 * written (importing needs no SMTP password). nginx -T still runs with the config's environment policy.
 */
function editableConfig(opts: GlobalOptions): Config {
  const config = loadConfig(resolveConfigPath(opts.config), { missingSecrets: 'keep' });
  setHookEnvPolicy({ passEnv: config.hooks.passEnv, withhold: envReferences(config) });
  return config;
}

function print(r: ImportReport, opts: ImportCliOptions, io: Io): void {
  if (opts.json) io.stdout.write(`${JSON.stringify({ generatedAt: io.now().toISOString(), ...r }, null, 2)}\n`);
  else io.stdout.write(`${render(r, useColour(io.stdout))}\n`);
}

export async function importNginxCommand(opts: ImportCliOptions, io: Io): Promise<number> {
  const config = editableConfig(opts);
  const { importNginx } = await import('../../service/import.js');
  const report = await importNginx(config, { ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.managed ? { managed: true } : {}) });
  print(report, opts, io);
  return 0;
}

export async function importHostsCommand(file: string, opts: ImportCliOptions, io: Io): Promise<number> {
  const config = editableConfig(opts);
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IoError(code === 'ENOENT' ? 'not-found' : 'unreadable', `${path}: cannot read the hosts list (${code ?? (err as Error).message})`, { cause: err });
  }
  const { importHosts } = await import('../../service/import.js');
  const report = importHosts(config, text, { ...(opts.dryRun ? { dryRun: true } : {}), source: file });
  print(report, opts, io);
  // The readable lines are imported; a line that could not be read is still a failure to fix.
  return report.badLines.length > 0 ? 1 : 0;
}
