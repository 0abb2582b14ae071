import { addDomain, initConfig, removeDomain } from '../../config/edit.js';
import { resolveConfigPath } from '../../config/load.js';
import { shownConfig } from '../../config/shown.js';
import { parseEndpointSpec } from '../../lib/host-port.js';
import type { Endpoint } from '../../core/model.js';
import { table } from '../style.js';
import { endpointLabel } from '../render.js';
import { configFrom, type GlobalOptions, type Io } from '../context.js';

export function initCommand(opts: GlobalOptions & { force?: boolean }, io: Io): number {
  const path = resolveConfigPath(opts.config);
  initConfig(path, { force: opts.force === true });
  io.stdout.write(`Wrote a starter config to ${path}. Add a domain with \`certs add example.com\`, then run \`certs scan\`.\n`);
  return 0;
}

export interface AddOptions extends GlobalOptions {
  endpoint?: string[];
  altName?: string[];
  monitorOnly?: boolean;
  cert?: string;
  key?: string;
}

export function addCommand(name: string, opts: AddOptions, io: Io): number {
  const path = resolveConfigPath(opts.config);
  const endpoints: Endpoint[] | undefined = opts.endpoint?.map((spec) => parseEndpointSpec(spec));
  addDomain(path, {
    name,
    ...(opts.altName?.length ? { altNames: opts.altName } : {}),
    ...(endpoints ? { endpoints } : {}),
    ...(opts.monitorOnly ? { monitorOnly: true } : {}),
    ...(opts.cert ? { files: { cert: opts.cert, ...(opts.key ? { key: opts.key } : {}) } } : {}),
  });
  io.stdout.write(`Added ${name} to ${path}.\n`);
  return 0;
}

export function removeCommand(name: string, opts: GlobalOptions, io: Io): number {
  const path = resolveConfigPath(opts.config);
  removeDomain(path, name);
  io.stdout.write(`Removed ${name} from ${path}. Its scan history stays in the database.\n`);
  return 0;
}

export function listCommand(opts: GlobalOptions & { json?: boolean }, io: Io): number {
  const config = configFrom(opts);
  if (opts.json) {
    // Secrets show as their ${env:…}/${file:…} reference or "<redacted>", never their value.
    io.stdout.write(`${JSON.stringify({ config: config.file, domains: shownConfig(config, config.domains, ['domains']) }, null, 2)}\n`);
    return 0;
  }
  if (config.domains.length === 0) {
    io.stdout.write(`No domains in ${config.file}: add one with \`certs add <name>\`.\n`);
    return 0;
  }
  const rows = config.domains.map((d) => [
    d.name,
    d.altNames.join(', ') || '-',
    d.managed ? 'managed' : 'monitor-only',
    d.endpoints
      .map((e) => `${e.protocol ? `${e.protocol}://` : ''}${endpointLabel({ source: 'tls', host: e.host, port: e.port, ...(e.address ? { address: e.address } : {}) } as Parameters<typeof endpointLabel>[0])}`)
      .join(', ') || '-',
    d.files ? d.files.cert : '-',
  ]);
  io.stdout.write(`${table(rows, ['NAME', 'ALT NAMES', 'MODE', 'ENDPOINTS', 'FILES'])}\n`);
  return 0;
}
