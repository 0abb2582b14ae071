import { certsVersion } from './version.js';
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from '../core/errors.js';
// Command modules are imported when their command runs: `status` must not pay for loading
// the YAML editor, nor `list` for the TLS scanner.
const scanCommands = () => import('./commands/scan.js');
const inventoryCommands = () => import('./commands/inventory.js');
const acmeCommands = () => import('./commands/acme.js');
const nginxCommands = () => import('./commands/nginx.js');
const notifyCommands = () => import('./commands/notify.js');
const runCommands = () => import('./commands/run.js');
const importCommands = () => import('./commands/import.js');
const demoCommands = () => import('./commands/demo.js');
const reportCommands = () => import('./commands/report.js');
const storeCommands = () => import('./commands/store.js');
// Only the help texts (store.ts loads the pg driver and the copier when its command runs).
import { MIGRATE_HELP, ROTATE_HELP } from './commands/store.js';
import { exitCodeFor, formatFailure, type CommandKind } from './failure.js';
import { defaultIo, type GlobalOptions, type Io } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * Builds the commander program. Each action stores its exit code instead of exiting, so the
 * composition root (main.ts) and the e2e tests decide what happens to the process.
 */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('certs')
    .description('Watch, renew and deploy TLS certificates: see what servers really serve and warn before anything breaks.')
    .version(certsVersion(), '-V, --version')
    .option('-c, --config <path>', 'config file (default: $CERTS_CONFIG or ./config/certs.yaml)')
    .option('--debug', 'show stack traces on errors')
    .option('--no-color', 'never colour the output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const run = (kind: CommandKind, fn: (global: GlobalOptions) => Promise<number> | number) => async () => {
    const global = program.opts<GlobalOptions>();
    if (global.color === false) process.env['NO_COLOR'] = '1';
    try {
      setExit(await fn(global));
    } catch (err) {
      io.stderr.write(`${formatFailure(err, global.debug === true)}\n`);
      setExit(exitCodeFor(err, kind));
    }
  };

  program
    .command('scan')
    .description('scan every endpoint and certificate file now, store the results and print them')
    .argument('[names...]', 'only these domains (primary or alt names)')
    .option('--json', 'print the machine-readable report on stdout')
    .option('--nagios', 'print one Nagios plugin line')
    .addHelpText('after', '\nExit codes (Nagios): 0 ok, 1 warning, 2 critical, 3 unknown or could not run.')
    .action((names: string[], opts: { json?: boolean; nagios?: boolean }) =>
      run('nagios', async (g) => (await scanCommands()).scanCommand(names, { ...g, ...opts }, io))());

  program
    .command('status')
    .description('is anything about to break? the last stored scan, without touching the network')
    .argument('[names...]', 'only these domains; naming domains shows the served chain and how to fix each problem')
    .option('--json', 'print the machine-readable report on stdout')
    .option('--nagios', 'print one Nagios plugin line')
    .option('--refresh', 'scan first (uses the network)')
    .addHelpText('after', '\nExit codes (Nagios): 0 ok, 1 warning, 2 critical, 3 unknown or could not run.')
    .action((names: string[], opts: { json?: boolean; nagios?: boolean; refresh?: boolean }) =>
      run('nagios', async (g) => (await scanCommands()).statusCommand(names, { ...g, ...opts }, io))());

  program
    .command('demo')
    .description('see what certs catches: start TLS servers on 127.0.0.1 with planted problems (throwaway CA), scan them for real, print the table and write the HTML report')
    .option('--data-dir <dir>', 'keep the demo\'s state (store, inventory) here; default: a temporary dir removed on exit')
    .option('--report <file>', 'write the HTML report here (default: <data-dir>/report.html, or a new temporary folder)')
    .option('--serve', 'keep the servers up and serve the dashboard on 127.0.0.1 until Ctrl-C')
    .option('--port <n>', 'the dashboard\'s port with --serve (default: a free one)')
    .option('--json', 'print the scan\'s report (as status --json, plus what was planted) on stdout')
    .addHelpText('after', '\nExit codes: 0 every planted problem was found, 1 one was missed or the demo could not run, 2 usage error. The global --config is not used: the demo writes its own inventory.')
    .action((opts: Record<string, unknown>) => run('plain', async (g) => (await demoCommands()).demoCommand({ ...g, ...opts }, io))());

  program
    .command('init')
    .description('write a starter config file')
    .option('--force', 'overwrite an existing file')
    .action((opts: { force?: boolean }) => run('plain', async (g) => (await inventoryCommands()).initCommand({ ...g, ...opts }, io))());

  program
    .command('add')
    .description('add a domain to the inventory (keeps the config file\'s comments)')
    .argument('<name>', 'primary DNS name, e.g. example.com or *.example.com')
    .addOption(new Option('-e, --endpoint <[scheme://]host[:port][@address]>', 'an endpoint to scan; repeatable (default: <name>:443); smtp://, imap://, pop3://, ftp://, ldap://, postgres://, xmpp:// scan through STARTTLS (or its kin) on that protocol\'s port').argParser(collect))
    .addOption(new Option('-a, --alt-name <name>', 'another name on the certificate; repeatable').argParser(collect))
    .option('--monitor-only', 'scan and warn only; never renew')
    .option('--cert <path>', 'a certificate file on this host to check')
    .option('--key <path>', 'its private key (checked to match)')
    .action((name: string, opts: Record<string, unknown>) => run('plain', async (g) => (await inventoryCommands()).addCommand(name, { ...g, ...opts }, io))());

  program
    .command('remove')
    .description('remove a domain from the inventory')
    .argument('<name>', 'primary name of the domain')
    .action((name: string) => run('plain', async (g) => (await inventoryCommands()).removeCommand(name, g, io))());

  program
    .command('list')
    .description('print the inventory')
    .option('--json', 'machine-readable')
    .action((opts: { json?: boolean }) => run('plain', async (g) => (await inventoryCommands()).listCommand({ ...g, ...opts }, io))());

  const importer = program
    .command('import')
    .description('add the domains a server already has to the inventory: from nginx, or from a list of host[:port] lines')
    .addHelpText('after', '\nMerging: a found domain joins the entry that checks the same certificate file or has the same name (its missing names and endpoints are added); an endpoint already listed anywhere is not added again; comments and layout are kept. Running an import again changes nothing.');
  importer
    .command('nginx')
    .description('read `nginx -T` (nginx.dumpCommand) and add one domain per certificate file of the server blocks listening with ssl: names from server_name, endpoints from listen, files from ssl_certificate/ssl_certificate_key')
    .option('--dry-run', 'print the diff of the config file and write nothing')
    .option('--managed', 'add the domains as ACME-managed (default: monitor only, managed: false)')
    .option('--json', 'print what was added, extended, unchanged and skipped as JSON on stdout')
    .addHelpText('after', '\nSkipped, with the reason (exit code 0): blocks without a usable DNS name (_, regexes, x.*), certificate paths with nginx variables, listens on unix sockets.\nExit codes: 0 imported or nothing to change, 1 nginx -T failed, 2 usage or config error.')
    .action((opts: Record<string, unknown>) => run('plain', async (g) => (await importCommands()).importNginxCommand({ ...g, ...opts }, io))());
  importer
    .command('hosts')
    .description('add monitor-only domains from a file of host[:port] lines (default port 443) or ssl-cert-check\'s "host port" lines; # comments and blank lines are skipped')
    .argument('<file>', 'the list, e.g. the file given to ssl-cert-check -f')
    .option('--dry-run', 'print the diff of the config file and write nothing')
    .option('--json', 'print what was added, extended, unchanged and skipped as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 imported or nothing to change, 1 some line could not be read (the others are imported; each bad line is named with its number), 2 usage or config error.')
    .action((file: string, opts: Record<string, unknown>) => run('plain', async (g) => (await importCommands()).importHostsCommand(file, { ...g, ...opts }, io))());

  program
    .command('renew')
    .description('renew managed certificates that are due (ARI window, else when 1/3 of the lifetime is left)')
    .argument('[names...]', 'only these domains')
    .option('--force', 'renew now even when not due (ignores the backoff after failures)')
    .option('--dry-run', 'order from the staging directory (or with a throwaway account) and replace nothing')
    .option('--json', 'print the results as JSON on stdout')
    .option('--wait <seconds>', 'how long to wait for another certs run to finish', '600')
    .addHelpText('after', '\nExit codes: 0 nothing failed, 1 a renewal failed, 2 usage or config error.')
    .action((names: string[], opts: Record<string, unknown>) => run('plain', async (g) => (await acmeCommands()).renewCommand(names, { ...g, ...opts }, io))());

  program
    .command('issue')
    .description('obtain a certificate for a managed domain now, whether or not one is due')
    .argument('<name>', 'the domain (primary or alt name)')
    .option('--dry-run', 'order from the staging directory (or with a throwaway account) and replace nothing')
    .option('--json', 'print the result as JSON on stdout')
    .option('--wait <seconds>', 'how long to wait for another certs run to finish', '600')
    .action((name: string, opts: Record<string, unknown>) => run('plain', async (g) => (await acmeCommands()).issueCommand(name, { ...g, ...opts }, io))());

  program
    .command('revoke')
    .description('revoke the current certificate of a managed domain at its CA')
    .argument('<name>', 'the domain (primary or alt name)')
    .option('--reason <reason>', 'unspecified, keyCompromise, superseded or cessationOfOperation', 'unspecified')
    .action((name: string, opts: { reason?: string }) => run('plain', async (g) => (await acmeCommands()).revokeCommand(name, { ...g, ...opts }, io))());

  program
    .command('certificates')
    .description('issued certificates per managed domain: versions, files, days left, and when and why each renews next')
    .argument('[names...]', 'only these domains')
    .option('--json', 'machine-readable')
    .action((names: string[], opts: { json?: boolean }) => run('plain', async (g) => (await acmeCommands()).certificatesCommand(names, { ...g, ...opts }, io))());

  const nginx = program.command('nginx').description('nginx SSL snippets: print, write (test, reload, verify), check the includes');
  nginx
    .command('snippet')
    .description('print the rendered SSL snippet of a domain (or, with --acme-challenge, the http-01 location block)')
    .argument('[name]', 'the domain (primary or alt name)')
    .option('--acme-challenge', 'print the location block serving acme.challenge.webroot, for port-80 server blocks')
    .action((name: string | undefined, opts: { acmeChallenge?: boolean }) => run('plain', async (g) => (await nginxCommands()).snippetCommand(name, { ...g, ...opts }, io))());
  nginx
    .command('write')
    .description('write changed snippets, run nginx -t, reload, and check that clients get the new certificate; on any failure the previous files are restored')
    .argument('[names...]', 'only these domains')
    .option('--dry-run', 'show a diff of what would change and write nothing')
    .option('--force', 'test and reload even when nothing changed')
    .option('--json', 'print the results as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 deployed or unchanged, 1 a deploy failed or a certificate is not served after the reload, 2 usage or config error.')
    .action((names: string[], opts: Record<string, unknown>) => run('plain', async (g) => (await nginxCommands()).writeCommand(names, { ...g, ...opts }, io))());
  nginx
    .command('check')
    .description('read `nginx -T` and tell, per domain, whether its snippet is included by a server block listening with ssl for its names')
    .argument('[names...]', 'only these domains')
    .option('--json', 'print the results as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 every snippet is included where it should be, 1 something is missing, 2 usage or config error.')
    .action((names: string[], opts: { json?: boolean }) => run('plain', async (g) => (await nginxCommands()).checkCommand(names, { ...g, ...opts }, io))());

  program
    .command('run')
    .description('one full cycle for cron: scan, renew what is due, deploy, rescan, notify')
    .option('--json', 'print the report, with what was renewed, deployed and sent, on stdout')
    .option('--no-renew', 'scan and notify only')
    .option('--wait <seconds>', 'how long to wait for another certs run to finish', '600')
    .option('--report <file>', 'then write the dashboard as one HTML file (as certs report --html), also when the run failed')
    .option('--cycle <key>', 'store.engine postgres: the cycle whose scan this run shares with other nodes (default: the current minute, so nodes started by the same cron minute share it)')
    .addHelpText('after', '\nExit codes (Nagios, after the run): 0 ok, 1 warning (or a renewal, deploy or delivery failed, or the report could not be written), 2 critical, 3 could not run.\nCron: 17 3,15 * * *  certs run --config /etc/certs/certs.yaml --report /var/www/certs/index.html')
    .action((opts: { json?: boolean; renew?: boolean; wait?: string; report?: string; cycle?: string }) => run('nagios', async (g) => (await runCommands()).runCommand({ ...g, ...opts }, io))());

  program
    .command('report')
    .description('write the dashboard as one self-contained HTML file (styles, script and charts inline; opens offline), or its data as JSON, from the last stored scans')
    .option('--html <file>', 'the HTML report, written atomically (mode 0644)')
    .option('--json [file]', 'the same data as JSON (DashboardData, see README); on stdout without a file')
    .addHelpText('after', '\nNo network: what `certs status` shows, the expiry timeline and the last run. Cron after a run: certs run --report FILE.\nExit codes: 0 written, 1 could not read the store or write the file, 2 usage or config error (e.g. FILE is a directory).')
    .action((opts: { html?: string; json?: string | boolean }) => run('plain', async (g) => (await reportCommands()).reportCommand({ ...g, ...opts }, io))());

  program
    .command('daemon')
    .description('run cycles on the daemon.schedule (default: twice a day at a minute chosen once per installation), serve daemon.http; JSON logs on stdout')
    .option('--run-now', 'run a full cycle at start, then follow the schedule')
    .option('--shutdown-timeout <ms>', 'on SIGTERM/SIGINT, how long the run in flight may take to finish', '30000')
    .addHelpText('after', '\nSignals: SIGHUP reloads the config (an invalid one keeps the old running); SIGTERM/SIGINT finish the run in flight (bounded) and exit.')
    .action((opts: { runNow?: boolean; shutdownTimeout?: string }) => run('plain', async (g) => (await runCommands()).daemonCommand({ ...g, ...opts }, io))());

  const notify = program.command('notify').description('notifications: send a test message, show the outbox, deliver what is pending');
  notify
    .command('test')
    .description('send a test message through every configured channel and show what the server answered')
    .option('--channel <name>', 'only this one: email, webhook or the name of one of notify.channels')
    .action((opts: { channel?: string }) => run('plain', async (g) => (await notifyCommands()).testCommand({ ...g, ...opts }, io))());
  notify
    .command('list')
    .description('the outbox: every message, delivered or waiting, with its last error')
    .option('--pending', 'only messages not delivered yet')
    .option('--json', 'machine-readable')
    .action((opts: { pending?: boolean; json?: boolean }) => run('plain', async (g) => (await notifyCommands()).listCommand({ ...g, ...opts }, io))());
  notify
    .command('flush')
    .description('deliver what is waiting in the outbox now')
    .action(() => run('plain', async (g) => (await notifyCommands()).flushCommand(g, io))());

  program
    .command('repair')
    .description('fix an incomplete chain served from files this host manages: fetch the missing intermediate (AIA), write a corrected fullchain as a new version, deploy it')
    .argument('<name>', 'the domain (primary or alt name)')
    .option('--dry-run', 'fetch and verify the intermediate, write nothing')
    .option('--timeout <ms>', 'budget of each AIA fetch', '15000')
    .action((name: string, opts: { dryRun?: boolean; timeout?: string }) => run('plain', async (g) => (await nginxCommands()).repairCommand(name, { ...g, ...opts }, io))());

  const store = program.command('store').description('the store itself: move it between SQLite and PostgreSQL, rotate the key that seals private keys');
  store
    .command('migrate')
    .description('copy the SQLite store of dataDir into an empty PostgreSQL database (--to), or a PostgreSQL store into a new SQLite store at dataDir (--from); every table counted and checksummed on both sides')
    .option('--to <url>', 'postgres://user@host:5432/database[?sslmode=verify-full&sslrootcert=…] to copy into (password: PGPASSWORD or ~/.pgpass)')
    .option('--from <url>', 'the PostgreSQL store to copy back from')
    .option('--json', 'print row counts and checksums per table as JSON on stdout')
    .addHelpText('after', MIGRATE_HELP)
    .action((opts: Record<string, unknown>) => run('plain', async (g) => (await storeCommands()).migrateCommand({ ...g, ...opts }, io))());
  store
    .command('rotate-key')
    .description('re-seal every private key in the PostgreSQL store under a new key-encryption key (CERTS_NEW_KEY_ENCRYPTION_KEY)')
    .option('--json', 'print the counts as JSON on stdout')
    .addHelpText('after', ROTATE_HELP)
    .action((opts: Record<string, unknown>) => run('plain', async (g) => (await storeCommands()).rotateKeyCommand({ ...g, ...opts }, io))());

  return program;
}

/** Parses argv and runs the command; returns the exit code. */
export async function runCli(argv: string[], io: Io = defaultIo()): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => { code = c; });
  // Nagios commands report usage errors as UNKNOWN (3); the rest as usage errors (2).
  const sub = argv.slice(2).find((a) => !a.startsWith('-'));
  const kind: CommandKind = sub === 'scan' || sub === 'status' || sub === 'run' ? 'nagios' : 'plain';
  program.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
  });
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // Help shown because no command was given is a usage error.
      if (err.code === 'commander.help') return exitCodeFor(new UsageError('no command given'), kind);
      if (err.code === 'commander.executeSubCommandAsync') return err.exitCode;
      return exitCodeFor(new UsageError(err.message), kind);
    }
    throw err;
  }
  return code;
}
